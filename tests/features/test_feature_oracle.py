"""Every indicator TA-Lib has matches it (same null rows, values within 1e-6 relative) on three price scales."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from trader_cols.features import INDICATORS, FeatureSpec, compute_features

talib = pytest.importorskip("talib")

pytestmark = pytest.mark.oracle


def _talib(spec: FeatureSpec, b: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """TA-Lib's values for every output column of `spec` (derived columns composed from TA-Lib outputs)."""
    h, lo, c, v = b["high"], b["low"], b["close"], b["volume"]
    p = spec.kwargs
    w = int(p.get("window", 0))
    name = spec.name
    if name == "ret":
        out = [talib.ROCP(c, w)]
    elif name == "log_ret":
        out = [np.log(talib.ROCR(c, w))]
    elif name == "roc":
        out = [talib.ROC(c, w)]
    elif name == "mom":
        out = [talib.MOM(c, w)]
    elif name == "sma":
        out = [talib.SMA(c, w)]
    elif name == "ema":
        out = [talib.EMA(c, w)]
    elif name == "kama":
        out = [talib.KAMA(c, w)]
    elif name == "macd":
        out = list(talib.MACD(c, p["fast"], p["slow"], p["signal"]))
    elif name == "adx":
        out = [talib.ADX(h, lo, c, w), talib.PLUS_DI(h, lo, c, w), talib.MINUS_DI(h, lo, c, w)]
    elif name == "aroon":
        down, up = talib.AROON(h, lo, w)
        out = [up, down, talib.AROONOSC(h, lo, w)]
    elif name == "linreg_slope":
        out = [talib.LINEARREG_SLOPE(c, w)]
    elif name == "er":
        out = [talib.ER(c, w)]
    elif name == "rsi":
        out = [talib.RSI(c, w)]
    elif name == "stoch":
        out = list(talib.STOCH(h, lo, c, p["k"], p["smooth"], 0, p["d"], 0))
    elif name == "willr":
        out = [talib.WILLR(h, lo, c, w)]
    elif name == "cci":
        out = [talib.CCI(h, lo, c, w)]
    elif name == "mfi":
        out = [talib.MFI(h, lo, c, v, w)]
    elif name == "atr":
        out = [talib.ATR(h, lo, c, w)]
    elif name == "natr":
        out = [talib.NATR(h, lo, c, w)]
    elif name == "bbands":
        up, mid, low = talib.BBANDS(c, w, p["k"], p["k"], 0)
        out = [up, mid, low, (c - low) / (up - low), (up - low) / mid]
    elif name == "keltner":
        out = list(talib.KC(h, lo, c, w, p["atr_window"], p["mult"]))
    elif name == "donchian":
        out = list(talib.DONCHIAN(h, lo, w))
    elif name == "zscore":
        out = [(c - talib.SMA(c, w)) / talib.STDDEV(c, w, 1.0)]
    elif name == "rvol":
        # sample std of log returns = TA-Lib's population STDDEV · sqrt(w / (w - 1))
        out = [talib.STDDEV(np.log(talib.ROCR(c, 1)), w, 1.0) * np.sqrt(w / (w - 1))]
    elif name == "obv":
        out = [talib.OBV(c, v)]
    else:
        raise AssertionError(f"no TA-Lib counterpart for {name}")
    return dict(zip(spec.columns, out, strict=True))


ORACLE_NAMES = [n for n in INDICATORS if n not in ("vwap", "parkinson", "garman_klass")]
OTHER_PARAMS = {
    "ret": {"window": 3},
    "log_ret": {"window": 7},
    "roc": {"window": 4},
    "mom": {"window": 2},
    "sma": {"window": 5},
    "ema": {"window": 9},
    "kama": {"window": 30},
    "macd": {"fast": 5, "slow": 35, "signal": 5},
    "adx": {"window": 5},
    "aroon": {"window": 25},
    "linreg_slope": {"window": 30},
    "er": {"window": 25},
    "rsi": {"window": 3},
    "stoch": {"k": 5, "smooth": 1, "d": 4},
    "willr": {"window": 30},
    "cci": {"window": 7},
    "mfi": {"window": 30},
    "atr": {"window": 1},
    "natr": {"window": 30},
    "bbands": {"window": 7, "k": 1.5},
    "keltner": {"window": 5, "atr_window": 14, "mult": 1.5},
    "donchian": {"window": 55},
    "zscore": {"window": 40},
    "rvol": {"window": 5},
    "obv": {},
}


def test_every_indicator_is_covered_here_or_by_a_reference_test():
    assert len(INDICATORS) == 28
    assert set(ORACLE_NAMES) == set(OTHER_PARAMS)


@pytest.mark.parametrize("variant", ["default", "other"])
@pytest.mark.parametrize("name", ORACLE_NAMES)
def test_matches_talib(three_scales: pl.DataFrame, name: str, variant: str):
    spec = (
        FeatureSpec.of(name) if variant == "default" else FeatureSpec.of(name, **OTHER_PARAMS[name])
    )
    got = compute_features(three_scales.lazy(), [spec]).collect(engine="in-memory")
    for sym in ("A", "B", "C"):
        bars = three_scales.filter(pl.col("symbol") == sym).sort("ts")
        arrays = {c: bars[c].to_numpy() for c in ("open", "high", "low", "close", "volume")}
        mine = got.filter(pl.col("symbol") == sym)
        for col, want in _talib(spec, arrays).items():
            have = mine[col].to_numpy().astype(float)  # nulls → NaN
            assert np.array_equal(np.isnan(have), np.isnan(want)), f"{sym} {col}: null rows differ"
            assert np.isnan(have).sum() == spec.lookbacks[col], f"{sym} {col}: look-back"
            ok = ~np.isnan(want)
            scale = float(np.median(np.abs(want[ok])))
            np.testing.assert_allclose(
                have[ok], want[ok], rtol=1e-6, atol=1e-9 * scale, err_msg=f"{sym} {col}"
            )
