"""Record dtypes, reason codes, side codes and the `SimParams` tuple shared by every kernel."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

# One fill. `col` is the symbol index in the bridge's symbol order; `qty` is unsigned (the side says which way);
# `price` includes slippage; `fees` is the commission charged on the fill (>= 0).
FILL_DTYPE = np.dtype(
    [
        ("bar", np.int64),
        ("col", np.int32),
        ("side", np.int8),
        ("reason", np.int8),
        ("qty", np.float64),
        ("price", np.float64),
        ("fees", np.float64),
    ],
    align=True,
)

SIDE_BUY = 1
SIDE_SELL = -1

# Why a fill happened. Ordered by priority: when several rules shape one order, the highest code wins.
REASON_REBALANCE = 0  # moved toward the strategy's target weight, unchanged by any rule
REASON_NO_SHORT = 1  # a negative target was raised to zero because shorting is off
REASON_POSITION_CAP = (
    2  # the weight was clipped to +/- max_position_pct (also trims a drifted held position)
)
REASON_GROSS_CAP = 3  # all tradable weights were scaled down pro rata to max_gross_leverage
REASON_FUNDING_CLIP = 4  # the order could not be funded in full and was clipped
REASON_STOP_LOSS = (
    5  # per-position stop loss (intrabar at the stop, or at the open on a gap through it)
)
REASON_DAILY_LOSS = 6  # flatten: the session's loss reached daily_loss_cut_pct
REASON_MAX_DRAWDOWN = 7  # flatten and halt: drawdown from the equity peak reached max_drawdown_pct
REASON_LIQUIDATION = 8  # flatten: equity is zero or negative

REASON_NAMES: tuple[str, ...] = (
    "rebalance",
    "no_short",
    "position_cap",
    "gross_cap",
    "funding_clip",
    "stop_loss",
    "daily_loss",
    "max_drawdown",
    "liquidation",
)
FORCED_REASONS = frozenset(
    {REASON_STOP_LOSS, REASON_DAILY_LOSS, REASON_MAX_DRAWDOWN, REASON_LIQUIDATION}
)

# Per-run statistics a kernel accumulates into a float64 array of length N_STATS.
STAT_FILLS = 0  # number of fills (also counted past the end of a too-small fills buffer)
STAT_FEES = 1  # total fees paid
STAT_TURNOVER = 2  # total traded value, sum of qty * fill price
STAT_UNFUNDED = 3  # orders that could not be funded at all (clipped to zero, so no fill)
STAT_MAX_DRAWDOWN = 4  # largest drawdown of bar-close equity from its running peak, as a fraction
# Closed round trips (trades.py's definition: flat to flat, a flip closes one and opens the next; pnl after fees,
# return = pnl / (largest |position| x average entry price)), counted from the run's fills by
# kernels/roundtrips.py, so that the batch, which returns no fills, can score trades.
STAT_TRADES = 5  # closed trades
STAT_WINS = 6  # closed trades with a return > 0
STAT_TRADE_RETURN = 7  # sum of the closed trades' returns
N_STATS = 8
STAT_NAMES: tuple[str, ...] = ("n_fills", "fees", "turnover", "unfunded_orders", "max_drawdown", "trades",
                               "winning_trades", "trade_return_sum")


class SimParams(NamedTuple):
    """Every scalar a simulation kernel reads. Build it with `trader_cols.sim.sim_params` from the configs.

    Types are fixed (float/int/bool) so that Numba compiles one specialisation and caches it. A limit set to
    `inf` (or, for the three loss limits, `nan`, `inf` or `<= 0`) is off.
    """

    initial_capital: float = 100_000.0
    commission_bps: float = 0.0  # of traded value at the fill price
    commission_per_share: float = 0.0
    commission_min: float = 0.0  # minimum commission per fill
    slippage_bps: float = 0.0  # buys fill at ref * (1 + s), sells at ref * (1 - s)
    lot_size: float = 0.0  # 0 = fractional quantities; 1 = whole shares
    fill_on_close: bool = False  # False: targets decided at t's close fill at t+1's open
    allow_short: bool = True
    max_position_pct: float = np.inf  # cap on |weight| per symbol
    max_gross_leverage: float = np.inf  # cap on sum |weight|; also the funding limit of every order
    daily_loss_cut_pct: float = np.nan
    max_drawdown_pct: float = np.nan
    stop_loss_pct: float = np.nan
    cooloff_bars: int = 0  # bars flat after a drawdown halt; 0 = halted for good
    hold_on_nan: bool = True  # a NaN target keeps the position (True) or means zero (False)


def coerce_params(params: SimParams) -> SimParams:
    """The same parameters with each field cast to its declared Python type (one Numba specialisation)."""
    kinds = {"cooloff_bars": int, "fill_on_close": bool, "allow_short": bool, "hold_on_nan": bool}
    return SimParams(
        **{name: kinds.get(name, float)(getattr(params, name)) for name in SimParams._fields}
    )
