"""Mean reversion: buy oversold, sell overbought, by RSI and Bollinger %B together."""

from __future__ import annotations

import polars as pl

from trader_cols.features import FeatureSpec
from trader_cols.strategies.base import Param, Params, Strategy, col


def _specs(p: Params) -> tuple[FeatureSpec, ...]:
    return FeatureSpec.of("rsi", window=int(p["rsi_window"])), FeatureSpec.of("bbands", window=int(p["bb_window"]), k=2.0)


def _signal(p: Params) -> pl.Expr:
    rsi, bb = _specs(p)
    rsi_leg = (50.0 - col(rsi)) / (50.0 - p["oversold"])  # +1 at the oversold level, -1 at its mirror
    bb_leg = (0.5 - col(bb, 3)) * 2.0  # +1 at the lower band, -1 at the upper band
    return (rsi_leg.clip(-1.0, 1.0) + bb_leg.clip(-1.0, 1.0)) / 2.0


STRATEGY = Strategy(
    name="mean_reversion",
    summary="average of RSI ((50 - RSI) / (50 - oversold)) and Bollinger ((0.5 - %B) x 2) legs",
    style="chop",
    params=(
        Param("rsi_window", 14, (7, 14, 21), (14,), minimum=2),
        Param("bb_window", 20, (10, 20), (20,), minimum=2),
        Param("oversold", 30.0, (25.0, 30.0, 35.0), (30.0,), minimum=1.0),
    ),
    features=_specs,
    signal=_signal,
    check=lambda p: None if p["oversold"] < 50 else f"oversold ({p['oversold']}) must be below 50",
)
