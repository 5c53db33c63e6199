"""Performance statistics as pure functions of arrays: CAGR, Sharpe, Sortino, drawdown, trades, turnover, exposure.

Every function accepts one series (shape [T]) or a batch of series (shape [P, T], one row per parameter set) and
reduces the last axis. Returns are simple per-bar returns of equity. A flat or empty series gives 0, never NaN.
"""

from __future__ import annotations

import numpy as np

METRICS = ("cagr", "sharpe", "sortino", "max_drawdown", "win_rate", "avg_trade", "turnover", "exposure", "trades")


def bar_returns(equity: np.ndarray) -> np.ndarray:
    """Simple returns per bar along the last axis (length T-1); a non-positive previous equity gives 0."""
    eq = np.asarray(equity, dtype=np.float64)
    prev = eq[..., :-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(prev > 0, eq[..., 1:] / prev - 1.0, 0.0)
    return np.nan_to_num(r, nan=0.0, posinf=0.0, neginf=0.0)


def cagr(equity: np.ndarray, periods_per_year: float) -> np.ndarray:
    """Compound annual growth rate from first to last equity over (T-1) bars of `periods_per_year` each."""
    eq = np.asarray(equity, dtype=np.float64)
    n = eq.shape[-1] - 1
    if n <= 0:
        return np.zeros(eq.shape[:-1]) if eq.ndim > 1 else np.float64(0.0)
    start, end = eq[..., 0], eq[..., -1]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        growth = np.where((start > 0) & (end > 0), end / start, 0.0)
        out = np.where(growth > 0, growth ** (periods_per_year / n) - 1.0, -1.0)
    return out


def sharpe(returns: np.ndarray, periods_per_year: float) -> np.ndarray:
    """Annualised Sharpe ratio (risk-free 0): mean / sample std × sqrt(periods per year); 0 when std is 0."""
    r = np.asarray(returns, dtype=np.float64)
    if r.shape[-1] < 2:
        return np.zeros(r.shape[:-1]) if r.ndim > 1 else np.float64(0.0)
    sd = r.std(axis=-1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(sd > 1e-15, r.mean(axis=-1) / sd * np.sqrt(periods_per_year), 0.0)
    return out


def sortino(returns: np.ndarray, periods_per_year: float) -> np.ndarray:
    """Annualised Sortino ratio: mean / downside deviation (root mean square of negative returns)."""
    r = np.asarray(returns, dtype=np.float64)
    if r.shape[-1] < 2:
        return np.zeros(r.shape[:-1]) if r.ndim > 1 else np.float64(0.0)
    dd = np.sqrt(np.mean(np.minimum(r, 0.0) ** 2, axis=-1))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(dd > 1e-15, r.mean(axis=-1) / dd * np.sqrt(periods_per_year), 0.0)
    return out


def drawdown(equity: np.ndarray) -> np.ndarray:
    """Drawdown from the running peak at every bar, as a positive fraction."""
    eq = np.asarray(equity, dtype=np.float64)
    peak = np.maximum.accumulate(eq, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(peak > 0, 1.0 - eq / peak, 0.0)


def max_drawdown(equity: np.ndarray) -> np.ndarray:
    """Largest drawdown from a running peak, as a positive fraction (0.2 = 20 %)."""
    eq = np.asarray(equity, dtype=np.float64)
    if eq.shape[-1] == 0:
        return np.float64(0.0)
    return drawdown(eq).max(axis=-1)


def win_rate(trade_returns: np.ndarray) -> float:
    """Share of closed trades with a positive return; 0 without trades."""
    t = np.asarray(trade_returns, dtype=np.float64)
    return float((t > 0).mean()) if t.size else 0.0


def avg_trade(trade_returns: np.ndarray) -> float:
    """Mean return per closed trade; 0 without trades."""
    t = np.asarray(trade_returns, dtype=np.float64)
    return float(t.mean()) if t.size else 0.0


def turnover(weights: np.ndarray) -> float:
    """Mean one-way turnover per bar: half the summed absolute weight change across symbols ([T, N] weights)."""
    w = np.nan_to_num(np.asarray(weights, dtype=np.float64))
    if w.shape[0] < 2:
        return 0.0
    return float(np.abs(np.diff(w, axis=0)).sum(axis=1).mean() / 2.0)


def exposure(gross: np.ndarray) -> float:
    """Share of bars with any position (gross exposure above 1e-12)."""
    g = np.asarray(gross, dtype=np.float64)
    return float((g > 1e-12).mean()) if g.size else 0.0


def summarize(
    equity: np.ndarray,
    *,
    periods_per_year: float,
    trade_returns: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    gross: np.ndarray | None = None,
) -> dict[str, float]:
    """All headline metrics of one equity curve as a flat dict of floats (names in `METRICS`)."""
    r = bar_returns(equity)
    trades = np.asarray(trade_returns if trade_returns is not None else [], dtype=np.float64)
    return {
        "cagr": float(cagr(equity, periods_per_year)),
        "sharpe": float(sharpe(r, periods_per_year)),
        "sortino": float(sortino(r, periods_per_year)),
        "max_drawdown": float(max_drawdown(equity)),
        "win_rate": win_rate(trades),
        "avg_trade": avg_trade(trades),
        "turnover": turnover(weights) if weights is not None else 0.0,
        "exposure": exposure(gross) if gross is not None else 0.0,
        "trades": float(trades.size),
    }


def periods_per_year(ts_seconds: np.ndarray) -> float:
    """Bars per year implied by a time index (epoch seconds): (T-1) / span in years; 252 for fewer than 2 bars."""
    t = np.asarray(ts_seconds, dtype=np.float64)
    if t.size < 2 or t[-1] <= t[0]:
        return 252.0
    return float((t.size - 1) / ((t[-1] - t[0]) / (365.25 * 86400.0)))
