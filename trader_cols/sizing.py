"""Volatility targeting as a Polars expression: signal in [-1, 1] and causal realised volatility → target weight."""

from __future__ import annotations

import math
from typing import Any

import polars as pl


def realised_vol(
    close: pl.Expr, lookback_bars: int, periods_per_year: float, *, by: str = "symbol"
) -> pl.Expr:
    """Annualised realised volatility: sample std of the last `lookback_bars` log returns × sqrt(periods per year).

    Causal: the value at bar t uses closes up to t only; null until `lookback_bars` returns exist. Rows must be
    sorted by ts within each `by` group (the canonical (symbol, ts) order).
    """
    if lookback_bars < 2:
        raise ValueError(
            f"lookback_bars must be >= 2 (a std needs two returns), got {lookback_bars}"
        )
    log_ret = close.log().diff()
    return (
        log_ret.rolling_std(lookback_bars, min_samples=lookback_bars) * math.sqrt(periods_per_year)
    ).over(by)


def vol_target_weights(
    signal: pl.Expr,
    close: pl.Expr,
    *,
    vol_target: float,
    lookback_bars: int,
    periods_per_year: float,
    max_weight: float = 1.0,
    by: str = "symbol",
) -> pl.Expr:
    """Target weight = clip(signal, -1, 1) × vol_target / realised vol, capped at ±`max_weight`.

    `vol_target` is annualised (0.15 = 15 %). While the volatility is still warming up the weight is null (the
    simulator then holds, i.e. stays flat until the first weight). A zero volatility gives ±`max_weight` for a
    non-zero signal and 0 for a zero signal; a NaN signal stays NaN.
    """
    vol = realised_vol(close, lookback_bars, periods_per_year, by=by)
    return scale_to_vol(signal, vol, vol_target=vol_target, max_weight=max_weight)


def scale_to_vol(
    signal: pl.Expr, vol: pl.Expr, *, vol_target: float, max_weight: float = 1.0
) -> pl.Expr:
    """Target weight from a signal and an (annualised, causal) volatility already computed: the rule of
    `vol_target_weights`, for callers that keep the volatility as a column."""
    sig = signal.clip(-1.0, 1.0)
    raw = sig * vol_target / vol
    return (
        pl.when(vol.is_null())
        .then(None)
        .when(vol > 0)
        .then(raw.clip(-max_weight, max_weight))
        .otherwise(sig.sign() * max_weight)
        .alias("target_weight")
    )


def target_weights(signal: pl.Expr, close: pl.Expr, risk: Any, periods_per_year: float) -> pl.Expr:
    """`vol_target_weights` with the RiskConfig's vol_target, vol_lookback_bars and max_position_pct as the cap."""
    return vol_target_weights(
        signal,
        close,
        vol_target=risk.vol_target,
        lookback_bars=risk.vol_lookback_bars,
        periods_per_year=periods_per_year,
        max_weight=risk.max_position_pct,
    )
