"""Trend following: a fast/slow moving-average cross, scaled by how far apart the averages are."""

from __future__ import annotations

import polars as pl

from trader_cols.features import FeatureSpec
from trader_cols.strategies.base import Param, Params, Strategy, col


def _specs(p: Params) -> tuple[FeatureSpec, ...]:
    return FeatureSpec.of("sma", window=int(p["fast"])), FeatureSpec.of("sma", window=int(p["slow"]))


def _signal(p: Params) -> pl.Expr:
    fast, slow = (col(s) for s in _specs(p))
    # Full position once the fast average is `band` (fraction) above/below the slow one.
    return (fast / slow - 1.0) / p["band"]


STRATEGY = Strategy(
    name="trend",
    summary="moving-average cross: (SMA(fast) / SMA(slow) - 1) / band, clipped to [-1, 1]",
    style="trend",
    params=(
        Param("fast", 20, (10, 20, 50), (20,)),
        Param("slow", 100, (50, 100, 200), (100,)),
        Param("band", 0.02, (0.01, 0.03), (0.02,), minimum=1e-6),
    ),
    features=_specs,
    signal=_signal,
    check=lambda p: None if p["fast"] < p["slow"] else f"fast ({p['fast']}) must be below slow ({p['slow']})",
)
