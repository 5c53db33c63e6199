"""Random simulation inputs for kernel tests: seeded price paths with gaps, NaNs, halts, targets and sessions."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from trader_cols.kernels.records import FILL_DTYPE, N_STATS, STAT_TRADES, SimParams
from trader_cols.kernels.roundtrips import round_trip_stats_nb
from trader_cols.kernels.simulate import simulate_nb


def random_market(
    seed: int,
    n_bars: int,
    n_symbols: int,
    *,
    nan_prob: float = 0.04,
    halt_prob: float = 0.08,
    daily: bool = False,
) -> dict:
    """OHLC [T, N] with overnight gaps and wide ranges (so stops trigger), NaN bars, tradable mask, sessions."""
    rng = np.random.default_rng(seed)
    vol = rng.uniform(0.005, 0.05, n_symbols)
    ret = rng.normal(0.0, 1.0, (n_bars, n_symbols)) * vol
    jumps = rng.random((n_bars, n_symbols)) < 0.05
    ret = ret + jumps * rng.normal(0.0, 0.15, (n_bars, n_symbols))
    close = rng.uniform(5.0, 300.0, n_symbols) * np.exp(np.cumsum(ret, axis=0))
    prev = np.vstack([close[:1], close[:-1]])
    open_ = prev * np.exp(
        rng.normal(0.0, 0.5, (n_bars, n_symbols)) * vol + jumps * rng.normal(0, 0.05, close.shape)
    )
    span = np.abs(rng.normal(0.0, 1.0, (n_bars, n_symbols))) * vol
    high = np.maximum(open_, close) * np.exp(span)
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, 1.0, close.shape)) * vol)
    for arr in (open_, high, low, close):
        arr[rng.random(close.shape) < nan_prob / 4] = np.nan
    tradable = rng.random(close.shape) >= halt_prob
    if daily:
        session = np.arange(n_bars, dtype=np.int64)
    else:
        session = np.cumsum(rng.random(n_bars) < 0.3).astype(np.int64)
    return {
        "open_": open_,
        "high": high,
        "low": low,
        "close": close,
        "tradable": tradable,
        "session_id": session,
    }


def random_targets(
    seed: int, n_bars: int, n_symbols: int, *, scale: float = 1.0, nan_prob: float = 0.1
) -> np.ndarray:
    """Sticky random weights in [-scale, scale] with zeros and NaNs (sticky so that stops see repeated targets)."""
    rng = np.random.default_rng(seed + 7919)
    fresh = rng.uniform(-scale, scale, (n_bars, n_symbols))
    fresh[rng.random(fresh.shape) < 0.15] = 0.0
    keep = rng.random(fresh.shape) < 0.4
    out = fresh.copy()
    for t in range(1, n_bars):
        out[t] = np.where(keep[t], out[t - 1], fresh[t])
    out[rng.random(out.shape) < nan_prob] = np.nan
    return out


def params_strategy() -> st.SearchStrategy[SimParams]:
    """Hypothesis strategy over every parameter, each limit on or off."""
    inf, nan = float("inf"), float("nan")
    return st.builds(
        SimParams,
        initial_capital=st.sampled_from([10_000.0, 1_000_000.0]),
        commission_bps=st.sampled_from([0.0, 1.0, 10.0]),
        commission_per_share=st.sampled_from([0.0, 0.005]),
        commission_min=st.sampled_from([0.0, 1.0]),
        slippage_bps=st.sampled_from([0.0, 5.0]),
        lot_size=st.sampled_from([0.0, 1.0]),
        fill_on_close=st.booleans(),
        allow_short=st.booleans(),
        max_position_pct=st.sampled_from([inf, 0.3, 0.6]),
        max_gross_leverage=st.sampled_from([inf, 0.5, 1.0, 2.0]),
        daily_loss_cut_pct=st.sampled_from([nan, 0.02, 0.05]),
        max_drawdown_pct=st.sampled_from([nan, 0.1, 0.25]),
        stop_loss_pct=st.sampled_from([nan, 0.02, 0.05]),
        cooloff_bars=st.sampled_from([0, 2]),
        hold_on_nan=st.booleans(),
    )


def run_kernel(market: dict, target: np.ndarray, params: SimParams) -> dict:
    """simulate_nb with a buffer big enough for every fill; outputs by name, fills sliced."""
    n_bars, n = target.shape
    fills = np.empty(3 * n_bars * n + 1, FILL_DTYPE)
    eq, cash, gross, ee, eg, pos, n_fills, stats = simulate_nb(
        market["open_"],
        market["high"],
        market["low"],
        market["close"],
        target,
        market["tradable"],
        market["session_id"],
        params,
        fills,
    )
    # the kernel leaves closed trades to be counted from the fills, as sim.py does
    assert np.isnan(stats[STAT_TRADES:]).all()
    round_trip_stats_nb(fills, n_fills, n, stats.reshape((1, N_STATS)))
    return {
        "equity": eq,
        "cash": cash,
        "gross": gross,
        "exec_equity": ee,
        "exec_gross": eg,
        "positions": pos,
        "fills": fills[:n_fills].copy(),
        "stats": stats,
    }
