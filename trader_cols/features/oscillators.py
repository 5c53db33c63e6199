"""Bounded oscillators: RSI, stochastic %K/%D, Williams %R, CCI, money flow index."""

from __future__ import annotations

from trader_cols.features._indicator import Indicator, Param, Params, decay_bars
from trader_cols.kernels import indicators as k

_HLC = ("high", "low", "close")


def _w(p: Params) -> int:
    return int(p["window"])


RSI = Indicator(
    name="rsi",
    family="oscillators",
    summary="Wilder RSI: 100 avg gain / (avg gain + avg loss), Wilder-smoothed over `window` bars",
    inputs=("close",),
    params=(Param("window", 14, 1),),
    outputs=("rsi",),
    lookbacks=lambda p: (_w(p),),
    kernel=k.rsi_nb,
    kernel_args=lambda p: (_w(p),),
    recursive=True,
    stable=lambda p, tol: _w(p) + decay_bars(1.0 / _w(p), tol) if _w(p) > 1 else 1,
    talib="RSI",
    differs="no movement at all (avg gain = avg loss = 0) gives 50, TA-Lib gives 0",
)


def _stoch_lookback(p: Params) -> tuple[int, int]:
    lb = int(p["k"]) + int(p["smooth"]) + int(p["d"]) - 3
    return (lb, lb)


STOCH = Indicator(
    name="stoch",
    family="oscillators",
    summary=(
        "stochastic: raw %K = 100 (c - lowest low) / (highest high - lowest low) over `k` bars, "
        "%K = SMA(raw, smooth), %D = SMA(%K, d)"
    ),
    inputs=_HLC,
    params=(Param("k", 14, 1), Param("smooth", 3, 1), Param("d", 3, 1)),
    outputs=("stoch_k", "stoch_d"),
    lookbacks=_stoch_lookback,
    kernel=k.stoch_nb,
    kernel_args=lambda p: (int(p["k"]), int(p["smooth"]), int(p["d"])),
    talib="STOCH (slowk, slowd; SMA)",
    differs="a flat window (highest high = lowest low) gives raw %K 50, TA-Lib gives 0",
)

WILLR = Indicator(
    name="willr",
    family="oscillators",
    summary="Williams %R = -100 (highest high - c) / (highest high - lowest low) over `window` bars",
    inputs=_HLC,
    params=(Param("window", 14, 1),),
    outputs=("willr",),
    lookbacks=lambda p: (_w(p) - 1,),
    kernel=k.willr_nb,
    kernel_args=lambda p: (_w(p),),
    talib="WILLR",
    differs="a flat window gives -50, TA-Lib gives 0",
)

CCI = Indicator(
    name="cci",
    family="oscillators",
    summary="commodity channel index (tp - SMA(tp)) / (0.015 mean |tp - SMA(tp)|), tp = (h + l + c) / 3",
    inputs=_HLC,
    params=(Param("window", 20, 2),),
    outputs=("cci",),
    lookbacks=lambda p: (_w(p) - 1,),
    kernel=k.cci_nb,
    kernel_args=lambda p: (_w(p),),
    talib="CCI",
)

MFI = Indicator(
    name="mfi",
    family="oscillators",
    summary=(
        "money flow index 100 pos / (pos + neg), money flow tp · volume counted positive (negative) "
        "when tp rises (falls), summed over `window` bars"
    ),
    inputs=("high", "low", "close", "volume"),
    params=(Param("window", 14, 1),),
    outputs=("mfi",),
    lookbacks=lambda p: (_w(p),),
    kernel=k.mfi_nb,
    kernel_args=lambda p: (_w(p),),
    talib="MFI",
    differs="a window with no money flow gives 50, TA-Lib gives 0",
)

INDICATORS = (RSI, STOCH, WILLR, CCI, MFI)
