"""Range and volatility indicators: ATR, NATR, Bollinger, Keltner, Donchian, realized/Parkinson/GK vol, z-score."""

from __future__ import annotations

from trader_cols.features._indicator import Indicator, Param, Params, decay_bars
from trader_cols.kernels import indicators as k

_HLC = ("high", "low", "close")


def _w(p: Params) -> int:
    return int(p["window"])


def _wilder_stable(p: Params, tol: float) -> int:
    return _w(p) + (decay_bars(1.0 / _w(p), tol) if _w(p) > 1 else 0)


ATR = Indicator(
    name="atr",
    family="volatility",
    summary="average true range, Wilder-smoothed over `window` bars (seed: mean of the first w true ranges)",
    inputs=_HLC,
    params=(Param("window", 14, 1),),
    outputs=("atr",),
    lookbacks=lambda p: (_w(p),),
    kernel=k.atr_nb,
    kernel_args=lambda p: (_w(p),),
    recursive=True,
    stable=_wilder_stable,
    talib="ATR",
)

NATR = Indicator(
    name="natr",
    family="volatility",
    summary="normalised ATR: 100 ATR / close",
    inputs=_HLC,
    params=(Param("window", 14, 1),),
    outputs=("natr",),
    lookbacks=lambda p: (_w(p),),
    kernel=k.natr_nb,
    kernel_args=lambda p: (_w(p),),
    recursive=True,
    stable=_wilder_stable,
    talib="NATR",
)

BBANDS = Indicator(
    name="bbands",
    family="volatility",
    summary=(
        "Bollinger bands SMA(w) ± k · population std over `window` bars, %B = (c - lower) / "
        "(upper - lower), bandwidth = (upper - lower) / middle"
    ),
    inputs=("close",),
    params=(Param("window", 20, 2), Param("k", 2.0, 0.0)),
    outputs=("bb_upper", "bb_middle", "bb_lower", "bb_pct_b", "bb_width"),
    lookbacks=lambda p: (_w(p) - 1,) * 5,
    kernel=k.bbands_nb,
    kernel_args=lambda p: (_w(p), float(p["k"]), float(p["k"])),
    talib="BBANDS (upper, middle, lower; %B and bandwidth derived from them)",
    differs="%B of coinciding bands (flat window) is 0.5; TA-Lib has no %B",
)


def _keltner_first(p: Params) -> int:
    return max(_w(p) - 1, int(p["atr_window"]))


KELTNER = Indicator(
    name="keltner",
    family="volatility",
    summary=(
        "Keltner channel EMA(w) of the typical price ± mult · ATR(atr_window); both legs seeded at the "
        "later of their look-backs"
    ),
    inputs=_HLC,
    params=(Param("window", 20, 2), Param("atr_window", 10, 1), Param("mult", 2.0, 0.0)),
    outputs=("kc_upper", "kc_middle", "kc_lower"),
    lookbacks=lambda p: (_keltner_first(p),) * 3,
    kernel=k.keltner_nb,
    kernel_args=lambda p: (_w(p), int(p["atr_window"]), float(p["mult"])),
    recursive=True,
    stable=lambda p, tol: (
        _keltner_first(p)
        + max(
            decay_bars(2.0 / (_w(p) + 1.0), tol),
            decay_bars(1.0 / max(int(p["atr_window"]), 2), tol),
        )
    ),
    talib="KC",
)

DONCHIAN = Indicator(
    name="donchian",
    family="volatility",
    summary="Donchian channel: highest high, lowest low and their mid-point over `window` bars",
    inputs=("high", "low"),
    params=(Param("window", 20, 1),),
    outputs=("dc_upper", "dc_middle", "dc_lower"),
    lookbacks=lambda p: (_w(p) - 1,) * 3,
    kernel=k.donchian_nb,
    kernel_args=lambda p: (_w(p),),
    talib="DONCHIAN",
)

RVOL = Indicator(
    name="rvol",
    family="volatility",
    summary="realized volatility: sample std (ddof 1) of one-bar log returns over `window` bars, per bar",
    inputs=("close",),
    params=(Param("window", 20, 2),),
    outputs=("rvol",),
    lookbacks=lambda p: (_w(p),),
    kernel=k.rvol_nb,
    kernel_args=lambda p: (_w(p),),
)

PARKINSON = Indicator(
    name="parkinson",
    family="volatility",
    summary="Parkinson volatility sqrt(sum ln(h/l)^2 / (4 w ln 2)) over `window` bars, per bar",
    inputs=("high", "low"),
    params=(Param("window", 20, 1),),
    outputs=("parkinson_vol",),
    lookbacks=lambda p: (_w(p) - 1,),
    kernel=k.parkinson_nb,
    kernel_args=lambda p: (_w(p),),
)

GARMAN_KLASS = Indicator(
    name="garman_klass",
    family="volatility",
    summary=(
        "Garman-Klass volatility sqrt(mean(0.5 ln(h/l)^2 - (2 ln 2 - 1) ln(c/o)^2)) over `window` bars, "
        "per bar"
    ),
    inputs=("open", "high", "low", "close"),
    params=(Param("window", 20, 1),),
    outputs=("gk_vol",),
    lookbacks=lambda p: (_w(p) - 1,),
    kernel=k.garman_klass_nb,
    kernel_args=lambda p: (_w(p),),
)

ZSCORE = Indicator(
    name="zscore",
    family="volatility",
    summary="z-score of the close: (c - SMA(w)) / population std over `window` bars (flat window: 0)",
    inputs=("close",),
    params=(Param("window", 20, 2),),
    outputs=("zscore",),
    lookbacks=lambda p: (_w(p) - 1,),
    kernel=k.zscore_nb,
    kernel_args=lambda p: (_w(p),),
    talib="(c - SMA) / STDDEV",
)

INDICATORS = (ATR, NATR, BBANDS, KELTNER, DONCHIAN, RVOL, PARKINSON, GARMAN_KLASS, ZSCORE)
