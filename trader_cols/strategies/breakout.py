"""Breakout: where the close sits inside its Donchian channel (top = long, bottom = short)."""

from __future__ import annotations

import polars as pl

from trader_cols.features import FeatureSpec
from trader_cols.strategies.base import Param, Params, Strategy, col


def _specs(p: Params) -> tuple[FeatureSpec, ...]:
    return (FeatureSpec.of("donchian", window=int(p["window"])),)


def _signal(p: Params) -> pl.Expr:
    (dc,) = _specs(p)
    upper, lower = col(dc, 0), col(dc, 2)
    width = upper - lower
    # null while the channel warms up (null > 0 is null, and when(null) falls through to otherwise(null))
    pos = pl.when(width > 0).then((pl.col("close") - lower) / width * 2.0 - 1.0).when(width == 0).then(0.0)
    # Only the outer `edge` of the channel counts as a breakout; inside it the signal fades to zero.
    edge = p["edge"]
    return pl.when(pos.abs() >= 1.0 - edge).then(pos.sign()).when(pos.is_not_null()).then(0.0)


STRATEGY = Strategy(
    name="breakout",
    summary="Donchian breakout: +1 in the top `edge` of the channel, -1 in the bottom `edge`, else flat",
    style="trend",
    params=(
        Param("window", 55, (20, 55, 100), (55,), minimum=2),
        Param("edge", 0.1, (0.05, 0.1, 0.2), (0.1,), minimum=0.0),
    ),
    features=_specs,
    signal=_signal,
    check=lambda p: None if 0 <= p["edge"] < 1 else f"edge ({p['edge']}) must be in [0, 1)",
)
