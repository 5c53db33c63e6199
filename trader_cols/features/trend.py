"""Trend indicators: SMA, EMA, KAMA, MACD, ADX/DI, Aroon, linear-regression slope, efficiency ratio."""

from __future__ import annotations

from trader_cols.features._indicator import Indicator, Param, Params, decay_bars
from trader_cols.kernels import indicators as k

_W20 = Param("window", 20, 2)
_W14 = Param("window", 14, 2)


def _w(p: Params) -> int:
    return int(p["window"])


SMA = Indicator(
    name="sma",
    family="trend",
    summary="simple moving average of the close over `window` bars",
    inputs=("close",),
    params=(Param("window", 20, 1),),
    outputs=("sma",),
    lookbacks=lambda p: (_w(p) - 1,),
    kernel=k.sma_nb,
    kernel_args=lambda p: (_w(p),),
    talib="SMA",
)

EMA = Indicator(
    name="ema",
    family="trend",
    summary="exponential moving average, k = 2/(w+1), seeded with the SMA of the first `window` bars",
    inputs=("close",),
    params=(Param("window", 20, 1),),
    outputs=("ema",),
    lookbacks=lambda p: (_w(p) - 1,),
    kernel=k.ema_nb,
    kernel_args=lambda p: (_w(p),),
    recursive=True,
    stable=lambda p, tol: _w(p) - 1 + decay_bars(2.0 / (_w(p) + 1.0), tol),
    talib="EMA",
)

KAMA = Indicator(
    name="kama",
    family="trend",
    summary=(
        "Kaufman adaptive MA: kama += sc (c - kama), sc = (er (2/3 - 2/31) + 2/31)^2 with the "
        "efficiency ratio over `window` bars; seeded with the previous close"
    ),
    inputs=("close",),
    params=(Param("window", 10, 2),),
    outputs=("kama",),
    lookbacks=lambda p: (_w(p),),
    kernel=k.kama_nb,
    kernel_args=lambda p: (_w(p),),
    recursive=True,
    # Worst case: a window with no efficiency smooths with the slowest constant (2/31)^2 every bar.
    stable=lambda p, tol: _w(p) + decay_bars((2.0 / 31.0) ** 2, tol),
    talib="KAMA",
)


def _macd_lookback(p: Params) -> tuple[int, int, int]:
    lb = int(p["slow"]) + int(p["signal"]) - 2
    return (lb, lb, lb)


def _macd_stable(p: Params, tol: float) -> int:
    # Slow-EMA seed error, then the signal EMA's own seed error: add the two horizons (conservative).
    return (
        _macd_lookback(p)[0]
        + decay_bars(2.0 / (int(p["slow"]) + 1.0), tol)
        + decay_bars(2.0 / (int(p["signal"]) + 1.0), tol)
    )


MACD = Indicator(
    name="macd",
    family="trend",
    summary="MACD line EMA(fast) - EMA(slow) of the close, its EMA(signal), and the histogram (line - signal)",
    inputs=("close",),
    params=(Param("fast", 12, 1), Param("slow", 26, 2), Param("signal", 9, 1)),
    outputs=("macd", "macd_signal", "macd_hist"),
    lookbacks=_macd_lookback,
    kernel=k.macd_nb,
    kernel_args=lambda p: (int(p["fast"]), int(p["slow"]), int(p["signal"])),
    recursive=True,
    stable=_macd_stable,
    talib="MACD",
    differs="fast must be below slow (TA-Lib silently swaps them)",
    check=lambda p: None if int(p["fast"]) < int(p["slow"]) else "fast must be smaller than slow",
)

ADX = Indicator(
    name="adx",
    family="trend",
    summary=(
        "Wilder's ADX with +DI and -DI over `window` bars: DI = 100 smoothed DM / smoothed TR, "
        "DX = 100 |+DI - -DI| / (+DI + -DI), ADX = Wilder average of DX"
    ),
    inputs=("high", "low", "close"),
    params=(_W14,),
    outputs=("adx", "plus_di", "minus_di"),
    lookbacks=lambda p: (2 * _w(p) - 1, _w(p), _w(p)),
    kernel=k.adx_nb,
    kernel_args=lambda p: (_w(p),),
    recursive=True,
    stable=lambda p, tol: 2 * _w(p) - 1 + 2 * decay_bars(1.0 / _w(p), tol),
    talib="ADX, PLUS_DI, MINUS_DI",
)

AROON = Indicator(
    name="aroon",
    family="trend",
    summary=(
        "Aroon up/down = 100 (w - bars since the highest high / lowest low) / w over the last w + 1 bars "
        "(ties: latest bar), oscillator = up - down"
    ),
    inputs=("high", "low"),
    params=(_W14,),
    outputs=("aroon_up", "aroon_down", "aroon_osc"),
    lookbacks=lambda p: (_w(p),) * 3,
    kernel=k.aroon_nb,
    kernel_args=lambda p: (_w(p),),
    talib="AROON, AROONOSC",
)

LINREG_SLOPE = Indicator(
    name="linreg_slope",
    family="trend",
    summary="least-squares slope of the close against bar number over `window` bars (price units per bar)",
    inputs=("close",),
    params=(_W14,),
    outputs=("linreg_slope",),
    lookbacks=lambda p: (_w(p) - 1,),
    kernel=k.linreg_slope_nb,
    kernel_args=lambda p: (_w(p),),
    talib="LINEARREG_SLOPE",
)

ER = Indicator(
    name="er",
    family="trend",
    summary="Kaufman efficiency ratio |c_t - c_{t-w}| / sum of |c_i - c_{i-1}| over `window` bars, in [0, 1]",
    inputs=("close",),
    params=(Param("window", 10, 1),),
    outputs=("er",),
    lookbacks=lambda p: (_w(p),),
    kernel=k.er_nb,
    kernel_args=lambda p: (_w(p),),
    talib="ER",
    differs="a flat window (no movement) gives 0, TA-Lib gives 1",
)

INDICATORS = (SMA, EMA, KAMA, MACD, ADX, AROON, LINREG_SLOPE, ER)
