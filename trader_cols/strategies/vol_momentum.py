"""Volatility-scaled momentum: the n-bar return in units of its expected spread (a t-statistic of the trend)."""

from __future__ import annotations

import polars as pl

from trader_cols.features import FeatureSpec
from trader_cols.strategies.base import Param, Params, Strategy, col


def _specs(p: Params) -> tuple[FeatureSpec, ...]:
    n = int(p["lookback"])
    return FeatureSpec.of("log_ret", window=n), FeatureSpec.of("rvol", window=int(p["vol_window"]))


def _signal(p: Params) -> pl.Expr:
    ret, vol = _specs(p)
    t_stat = col(ret) / (col(vol) * float(p["lookback"]) ** 0.5)
    return pl.when(col(vol) > 0).then(t_stat / p["z_full"]).when(col(vol) == 0).then(0.0)


STRATEGY = Strategy(
    name="vol_momentum",
    summary="log return over `lookback` / (realized vol x sqrt(lookback)), full size at z_full",
    style="trend",
    params=(
        Param("lookback", 60, (20, 60, 120), (60,), minimum=2),
        Param("vol_window", 20, (20, 60), (20,), minimum=2),
        Param("z_full", 2.0, (1.0, 2.0), (2.0,), minimum=1e-6),
    ),
    features=_specs,
    signal=_signal,
)
