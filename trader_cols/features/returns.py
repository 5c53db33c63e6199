"""Return-like indicators (simple and log returns, ROC, momentum) as native shift expressions per symbol."""

from __future__ import annotations

import polars as pl

from trader_cols.features._indicator import Indicator, Param, Params, lagged

_WINDOW = Param("window", 1, 1)


def _window(p: Params) -> tuple[int]:
    return (int(p["window"]),)


def _build_ret(p: Params, names: tuple[str, ...]) -> list[pl.Expr]:
    prev, same = lagged("close", int(p["window"]))
    return [pl.when(same & (prev != 0)).then((pl.col("close") - prev) / prev).alias(names[0])]


def _build_log_ret(p: Params, names: tuple[str, ...]) -> list[pl.Expr]:
    prev, same = lagged("close", int(p["window"]))
    ok = same & (prev > 0) & (pl.col("close") > 0)
    return [pl.when(ok).then((pl.col("close") / prev).log()).alias(names[0])]


def _build_roc(p: Params, names: tuple[str, ...]) -> list[pl.Expr]:
    prev, same = lagged("close", int(p["window"]))
    return [
        pl.when(same & (prev != 0)).then((pl.col("close") / prev - 1.0) * 100.0).alias(names[0])
    ]


def _build_mom(p: Params, names: tuple[str, ...]) -> list[pl.Expr]:
    prev, same = lagged("close", int(p["window"]))
    return [pl.when(same).then(pl.col("close") - prev).alias(names[0])]


RET = Indicator(
    name="ret",
    family="returns",
    summary="simple return over `window` bars: (c_t - c_{t-w}) / c_{t-w}",
    inputs=("close",),
    params=(_WINDOW,),
    outputs=("ret",),
    lookbacks=_window,
    build=_build_ret,
    talib="ROCP",
)

LOG_RET = Indicator(
    name="log_ret",
    family="returns",
    summary="log return over `window` bars: ln(c_t / c_{t-w})",
    inputs=("close",),
    params=(_WINDOW,),
    outputs=("log_ret",),
    lookbacks=_window,
    build=_build_log_ret,
    talib="LN(ROCR)",
)

ROC = Indicator(
    name="roc",
    family="returns",
    summary="rate of change in percent: 100 (c_t / c_{t-w} - 1)",
    inputs=("close",),
    params=(Param("window", 10, 1),),
    outputs=("roc",),
    lookbacks=_window,
    build=_build_roc,
    talib="ROC",
)

MOM = Indicator(
    name="mom",
    family="returns",
    summary="momentum: c_t - c_{t-w}",
    inputs=("close",),
    params=(Param("window", 10, 1),),
    outputs=("mom",),
    lookbacks=_window,
    build=_build_mom,
    talib="MOM",
)

INDICATORS = (RET, LOG_RET, ROC, MOM)
