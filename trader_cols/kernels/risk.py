"""Scalar risk rules of the simulation kernel: target shaping, stop prices and stop triggers, loss limits."""

from __future__ import annotations

import numpy as np
from numba import njit

from trader_cols.kernels.records import REASON_NO_SHORT, REASON_POSITION_CAP, REASON_REBALANCE


@njit(cache=True, nogil=True)
def limit_on_nb(pct: float) -> bool:
    """True when a loss limit is active: a finite fraction above zero (`nan`, `inf` and `<= 0` mean off)."""
    return pct > 0.0 and pct < np.inf


@njit(cache=True, nogil=True)
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


@njit(cache=True, nogil=True)
def gross_scale_nb(
    sum_abs_tradable: float, frozen_weight: float, max_gross_leverage: float
) -> float:
    """Pro-rata factor for the tradable weights so that they plus the frozen (untradable) ones fit the limit.

    `frozen_weight` is the |weight| held in symbols that cannot trade this bar; what is left of
    `max_gross_leverage` is the budget of the tradable ones. 1.0 when they fit, 0.0 when nothing is left.
    """
    if max_gross_leverage == np.inf or sum_abs_tradable == 0.0:
        return 1.0
    budget = max_gross_leverage - frozen_weight
    if sum_abs_tradable <= budget:
        return 1.0
    return budget / sum_abs_tradable if budget > 0.0 else 0.0


@njit(cache=True, nogil=True)
def stop_price_nb(qty: float, entry_price: float, stop_loss_pct: float) -> float:
    """Stop level of a position: the average fill price moved `stop_loss_pct` against the position."""
    if qty > 0.0:
        return entry_price * (1.0 - stop_loss_pct)
    return entry_price * (1.0 + stop_loss_pct)


@njit(cache=True, nogil=True)
def gap_stop_hit_nb(qty: float, stop_price: float, open_: float) -> bool:
    """True when the bar opens at or through the stop of a position held into the bar."""
    if qty > 0.0:
        return open_ <= stop_price
    if qty < 0.0:
        return open_ >= stop_price
    return False


@njit(cache=True, nogil=True)
def intrabar_stop_ref_nb(
    qty: float, stop_price: float, open_: float, high: float, low: float
) -> float:
    """Reference price of an intrabar stop (the stop, never better than the open), or NaN if not touched.

    A long stop triggers when the bar's low reaches the stop; a short stop when the high does.
    """
    if qty > 0.0 and low <= stop_price:
        return min(stop_price, open_)
    if qty < 0.0 and high >= stop_price:
        return max(stop_price, open_)
    return np.nan


@njit(cache=True, nogil=True)
def loss_hit_nb(equity: float, reference: float, pct: float) -> bool:
    """True when `equity` has fallen at least `pct` (a fraction) below `reference`."""
    return equity <= reference * (1.0 - pct)
