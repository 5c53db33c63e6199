"""A fixed-weight ensemble of the other strategies at their default parameters."""

from __future__ import annotations

import polars as pl

from trader_cols.features import FeatureSpec
from trader_cols.strategies import breakout, mean_reversion, trend, vol_momentum
from trader_cols.strategies.base import Param, Params, Strategy

MEMBERS = (trend.STRATEGY, mean_reversion.STRATEGY, breakout.STRATEGY, vol_momentum.STRATEGY)


def _weights(p: Params) -> list[float]:
    return [float(p[f"w_{m.name}"]) for m in MEMBERS]


def _specs(p: Params) -> tuple[FeatureSpec, ...]:
    return tuple(dict.fromkeys(s for m in MEMBERS for s in m.features(m.resolve())))


def _signal(p: Params) -> pl.Expr:
    w = _weights(p)
    total = sum(w)
    parts = [m.signal(m.resolve()).clip(-1.0, 1.0) * wi for m, wi in zip(MEMBERS, w, strict=True) if wi > 0]
    # `+` (not sum_horizontal) so the ensemble stays null until every member has warmed up
    total_expr = parts[0]
    for part in parts[1:]:
        total_expr = total_expr + part
    return total_expr / total


STRATEGY = Strategy(
    name="ensemble",
    summary="fixed-weight average of trend, mean_reversion, breakout and vol_momentum at their defaults",
    style="any",
    params=tuple(Param(f"w_{m.name}", 1.0, (1.0,), (1.0,), minimum=0.0) for m in MEMBERS),
    features=_specs,
    signal=_signal,
    check=lambda p: None if sum(_weights(p)) > 0 else "ensemble weights must not all be zero",
)
