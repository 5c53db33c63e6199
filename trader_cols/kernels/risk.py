"""Scalar risk rules of the simulation kernel: target shaping, stop prices and stop triggers, loss limits."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from trader_cols.kernels.records import REASON_NO_SHORT, REASON_POSITION_CAP, REASON_REBALANCE


@njit(cache=True, nogil=True, error_model="numpy")
def limit_on_nb(pct: float) -> bool:
    """True when a loss limit is active: a finite fraction above zero (`nan`, `inf` and `<= 0` mean off)."""
    return pct > 0.0 and pct < np.inf


@njit(cache=True, nogil=True, error_model="numpy")
def shape_weight_nb(weight: float, allow_short: bool, max_position_pct: float) -> tuple[float, int]:
    """Apply the per-symbol rules to a finite weight: no shorts when shorting is off, then the +/- cap.

    Returns the weight and the reason of the last rule that changed it (`REASON_REBALANCE` if none did).
    """
    reason = REASON_REBALANCE
    if weight < 0.0 and not allow_short:
        weight = 0.0
        reason = REASON_NO_SHORT
    if weight > max_position_pct:
        weight = max_position_pct
        reason = REASON_POSITION_CAP
    elif weight < -max_position_pct:
        weight = -max_position_pct
        reason = REASON_POSITION_CAP
    return weight, reason


@njit(cache=True, nogil=True, error_model="numpy")
def gross_scale_nb(tradable_value: float, frozen_value: float, limit_value: float) -> float:
    """Pro-rata factor for the tradable targets so that they plus the frozen (untradable) positions fit the limit.

    All three in currency: Σ|target weight| × equity of the symbols that can trade, Σ|value| of those that
    cannot, and max_gross_leverage × equity. 1.0 when they fit, 0.0 when the frozen ones use up the limit.
    """
    if tradable_value == 0.0 or limit_value == np.inf:
        return 1.0
    budget = limit_value - frozen_value
    if tradable_value <= budget:
        return 1.0
    return budget / tradable_value if budget > 0.0 else 0.0


@njit(cache=True, nogil=True, error_model="numpy")
def stop_price_nb(qty: float, entry_price: float, stop_loss_pct: float) -> float:
    """Stop level of a position: the average fill price moved `stop_loss_pct` against the position."""
    # copysign instead of a branch on the side: sides are random across symbols, so a branch mispredicts.
    return entry_price * (1.0 - math.copysign(stop_loss_pct, qty))


@njit(cache=True, nogil=True, error_model="numpy")
def gap_stop_hit_nb(qty: float, stop_price: float, open_: float) -> bool:
    """True when the bar opens at or through the stop of a position held into the bar."""
    return (qty != 0.0) & ((open_ - stop_price) * qty <= 0.0)  # & not "and": no branch on the side


@njit(cache=True, nogil=True, error_model="numpy")
def intrabar_stop_ref_nb(
    qty: float, stop_price: float, open_: float, high: float, low: float
) -> float:
    """Reference price of an intrabar stop (the stop, never better than the open), or NaN if not touched.

    A long stop triggers when the bar's low reaches the stop; a short stop when the high does.
    """
    adverse = low if qty > 0.0 else high
    if not ((qty != 0.0) & ((adverse - stop_price) * qty <= 0.0)):
        return np.nan
    return min(stop_price, open_) if qty > 0.0 else max(stop_price, open_)


@njit(cache=True, nogil=True, error_model="numpy")
def intrabar_stop_hit_nb(qty: float, stop_price: float, high: float, low: float) -> bool:
    """True when the bar's low (long) or high (short) reaches the stop: `intrabar_stop_ref_nb` is not NaN.

    Without a branch on the side (sides are random across symbols, so a branch mispredicts): the kernel tests
    every symbol at every bar.
    """
    # Both sides are tested and combined with & and |: a select between the two prices compiles to a branch.
    return ((qty > 0.0) & ((low - stop_price) * qty <= 0.0)) | (
        (qty < 0.0) & ((high - stop_price) * qty <= 0.0)
    )


@njit(cache=True, nogil=True, error_model="numpy")
def loss_hit_nb(equity: float, reference: float, pct: float) -> bool:
    """True when `equity` has fallen at least `pct` (a fraction) below `reference`."""
    return equity <= reference * (1.0 - pct)
