"""Volume indicators: on-balance volume and rolling VWAP."""

from __future__ import annotations

from trader_cols.features._indicator import Indicator, Param
from trader_cols.kernels import indicators as k

OBV = Indicator(
    name="obv",
    family="volume",
    summary="on-balance volume: starts at the first bar's volume, adds (subtracts) volume on up (down) closes",
    inputs=("close", "volume"),
    params=(),
    outputs=("obv",),
    lookbacks=lambda p: (0,),
    kernel=k.obv_nb,
    recursive=True,
    stable=lambda p, tol: None,  # a running sum: its level depends on the first bar forever
    talib="OBV",
)

VWAP = Indicator(
    name="vwap",
    family="volume",
    summary="rolling VWAP sum(tp · volume) / sum(volume) over `window` bars, tp = (h + l + c) / 3",
    inputs=("high", "low", "close", "volume"),
    params=(Param("window", 20, 1),),
    outputs=("vwap",),
    lookbacks=lambda p: (int(p["window"]) - 1,),
    kernel=k.vwap_nb,
    kernel_args=lambda p: (int(p["window"]),),
    differs=(
        "rolling over `window` bars; TA-Lib's VWAP is cumulative from the first bar. No volume in the "
        "window gives null"
    ),
)

INDICATORS = (OBV, VWAP)
