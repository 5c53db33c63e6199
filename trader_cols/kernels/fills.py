"""Scalar fill model: fill price with slippage, commission, lot rounding and the largest fundable quantity.

All functions are `@njit` and callable from plain Python too; the simulated broker reuses them so that paper
fills and backtest fills come from one model.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, error_model="numpy")
def fill_price_nb(ref_price: float, side: int, slippage_bps: float) -> float:
    """Fill price of a `side` (+1 buy, -1 sell) order at `ref_price`: buys pay `slippage_bps` more, sells get less."""
    return ref_price * (1.0 + side * slippage_bps * 1e-4)


@njit(cache=True, nogil=True, error_model="numpy")
def fees_nb(
    qty: float, price: float, commission_bps: float, per_share: float, minimum: float
) -> float:
    """Commission of a fill of `qty` units (sign ignored) at `price`: bps of value + per share, at least `minimum`.

    A zero quantity costs nothing (no fill, no minimum).
    """
    q = abs(qty)
    if q == 0.0:
        return 0.0
    return max(minimum, q * price * commission_bps * 1e-4 + q * per_share)


@njit(cache=True, nogil=True, error_model="numpy")
def round_lot_nb(qty: float, lot_size: float) -> float:
    """`qty` rounded toward zero to a multiple of `lot_size`; `lot_size <= 0` means fractional (unchanged)."""
    if lot_size <= 0.0:
        return qty
    units = np.floor(abs(qty) / lot_size) * lot_size
    return units if qty >= 0.0 else -units


@njit(cache=True, nogil=True, error_model="numpy")
def max_fundable_qty_nb(
    headroom: float,
    ref_price: float,
    slippage_bps: float,
    leverage: float,
    commission_bps: float,
    per_share: float,
    minimum: float,
) -> float:
    """Largest unsigned quantity u with `ref*(1 + L*s)*u + L*fees(u) <= headroom` (0 if none).

    This is the funding limit of an exposure-increasing order: buying (or shorting) u units at the slipped price
    adds `u*ref` of gross exposure and costs `u*ref*s + fees(u)` of equity, and gross must stay within
    `leverage * equity`; `headroom = leverage*equity - gross` (plus twice the closed exposure for a flip).
    With leverage 1 and no shorts this is exactly "cash after the fill and its fees stays >= 0".
    """
    if headroom <= 0.0:
        return 0.0
    s = slippage_bps * 1e-4
    fill = ref_price * (1.0 + s)
    slope = ref_price * (1.0 + leverage * s)
    rate = fill * commission_bps * 1e-4 + per_share  # fee per unit above the minimum
    u = headroom / (slope + leverage * rate)
    if u * rate >= minimum:
        return u
    # Below the minimum the fee is a constant.
    u = (headroom - leverage * minimum) / slope
    return u if u > 0.0 else 0.0
