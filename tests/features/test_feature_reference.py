"""Indicators without a TA-Lib twin against slow, obvious references; flat windows; no bleeding between symbols."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trader_cols.features import DEFAULT_SPECS, FeatureSpec, compute_features

T0 = datetime(2021, 3, 1, tzinfo=UTC)


def _bars(cols: dict[str, list[float]], symbol: str = "S") -> pl.DataFrame:
    n = len(cols["close"])
    return pl.DataFrame(
        {"symbol": symbol, "ts": [T0 + timedelta(days=i) for i in range(n)], **cols}
    ).with_columns(pl.col("ts").cast(pl.Datetime("us", "UTC")))


def _compute(bars: pl.DataFrame, *specs: FeatureSpec) -> pl.DataFrame:
    return compute_features(bars.lazy(), list(specs)).collect(engine="in-memory")


@st.composite
def ohlcv_lists(draw, min_size=2, max_size=60):
    n = draw(st.integers(min_size, max_size))
    base = draw(st.lists(st.floats(0.5, 2.0), min_size=n, max_size=n))
    spread = draw(st.lists(st.floats(0.0, 0.2), min_size=n, max_size=n))
    mix = draw(st.lists(st.floats(0.0, 1.0), min_size=2 * n, max_size=2 * n))
    vol = draw(st.lists(st.sampled_from([0.0, 1.0, 250.0, 1e6]), min_size=n, max_size=n))
    scale = draw(st.sampled_from([1e-5, 1.0, 3e4]))
    low = [b * scale for b in base]
    high = [lo * (1 + s) for lo, s in zip(low, spread, strict=True)]
    open_ = [lo + (hi - lo) * mix[i] for i, (lo, hi) in enumerate(zip(low, high, strict=True))]
    close = [lo + (hi - lo) * mix[n + i] for i, (lo, hi) in enumerate(zip(low, high, strict=True))]
    return {"open": open_, "high": high, "low": low, "close": close, "volume": vol}


def _ref_vwap(c: dict[str, list[float]], w: int) -> list[float | None]:
    out: list[float | None] = []
    for i in range(len(c["close"])):
        if i < w - 1:
            out.append(None)
            continue
        idx = range(i - w + 1, i + 1)
        tp = [(c["high"][j] + c["low"][j] + c["close"][j]) / 3 for j in idx]
        v = [c["volume"][j] for j in idx]
        out.append(sum(p * q for p, q in zip(tp, v, strict=True)) / sum(v) if sum(v) > 0 else None)
    return out


def _ref_parkinson(c: dict[str, list[float]], w: int) -> list[float | None]:
    sq = [math.log(h / lo) ** 2 for h, lo in zip(c["high"], c["low"], strict=True)]
    return [
        None if i < w - 1 else math.sqrt(sum(sq[i - w + 1 : i + 1]) / (4 * w * math.log(2)))
        for i in range(len(sq))
    ]


def _ref_gk(c: dict[str, list[float]], w: int) -> list[float | None]:
    # Each bar's term is clipped at 0 (only rounding can make it negative for a consistent bar).
    terms = [
        max(0.5 * math.log(h / lo) ** 2 - (2 * math.log(2) - 1) * math.log(cl / o) ** 2, 0.0)
        for o, h, lo, cl in zip(c["open"], c["high"], c["low"], c["close"], strict=True)
    ]
    return [
        None if i < w - 1 else math.sqrt(sum(terms[i - w + 1 : i + 1]) / w)
        for i in range(len(terms))
    ]


def _ref_rvol(c: dict[str, list[float]], w: int) -> list[float | None]:
    cl = c["close"]
    r = [math.log(cl[i] / cl[i - 1]) for i in range(1, len(cl))]
    out: list[float | None] = [None]
    for i in range(len(r)):
        out.append(None if i < w - 1 else float(np.std(r[i - w + 1 : i + 1], ddof=1)))
    return out


REFERENCES = {
    "vwap": _ref_vwap,
    "parkinson": _ref_parkinson,
    "garman_klass": _ref_gk,
    "rvol": _ref_rvol,
}


@pytest.mark.parametrize("name", sorted(REFERENCES))
@settings(max_examples=60, deadline=None)
@given(cols=ohlcv_lists(), window=st.integers(2, 12))
def test_matches_slow_reference(name: str, cols: dict[str, list[float]], window: int):
    spec = FeatureSpec.of(name, window=window)
    got = _compute(_bars(cols), spec)[spec.columns[0]].to_list()
    want = REFERENCES[name](cols, window)
    if name == "vwap":
        pairs = list(zip(got, want, strict=True))
    else:
        # Volatilities are square roots of rolling sums: compare in variance space, where a running
        # sum's rounding is a fixed absolute amount (relative to the largest term seen), not relative.
        pairs = [
            (None if a is None else a * a, None if b is None else b * b)
            for a, b in zip(got, want, strict=True)
        ]
    biggest = max((abs(b) for _, b in pairs if b is not None), default=0.0)
    for i, (a, b) in enumerate(pairs):
        if a is None or b is None:
            assert a is None and b is None, f"{name} row {i}: {a} vs {b}"
            continue
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12 * biggest), (
            f"{name} row {i}: {a} != {b}"
        )


def test_symbols_do_not_bleed(three_scales: pl.DataFrame):
    """Computing symbols together gives exactly what computing each alone gives."""
    together = _compute(three_scales, *DEFAULT_SPECS).sort("symbol", "ts")
    for sym in ("A", "B", "C"):
        alone = _compute(three_scales.filter(pl.col("symbol") == sym), *DEFAULT_SPECS)
        assert together.filter(pl.col("symbol") == sym).equals(alone), sym


def test_price_scale_only_rescales_price_unit_outputs(three_scales: pl.DataFrame):
    """Symbol B' = symbol A · 1e-6: dimensionless outputs agree, price-unit outputs scale by 1e-6."""
    a = three_scales.filter(pl.col("symbol") == "A")
    scaled = a.with_columns(
        pl.lit("Z").alias("symbol"), *[pl.col(c) * 1e-6 for c in ("open", "high", "low", "close")]
    )
    out = _compute(pl.concat([a, scaled]), *DEFAULT_SPECS)
    fa = out.filter(pl.col("symbol") == "A")
    fz = out.filter(pl.col("symbol") == "Z")
    price_unit = (
        "sma",
        "ema",
        "kama",
        "macd",
        "linreg_slope",
        "atr",
        "bb_upper",
        "bb_middle",
        "bb_lower",
        "kc_",
        "dc_",
        "vwap",
        "mom",
    )
    for col in fa.columns[2:]:
        factor = 1e-6 if col.startswith(price_unit) else 1.0
        x, y = fa[col].to_numpy().astype(float), fz[col].to_numpy().astype(float)
        assert np.array_equal(np.isnan(x), np.isnan(y)), col
        if col == "obv":
            np.testing.assert_array_equal(x, y)
            continue
        ok = ~np.isnan(x)
        tol = 1e-9 * float(np.median(np.abs(x[ok]))) * factor
        np.testing.assert_allclose(y[ok], x[ok] * factor, rtol=1e-7, atol=tol, err_msg=col)


def test_flat_windows_give_neutral_values_exactly():
    """After 30 moving bars the price freezes (h = l = o = c) for 40 bars: no rounding residue survives."""
    rng = np.random.default_rng(3)
    moving = 50.0 * np.exp(np.cumsum(rng.normal(0, 0.02, 30)))
    close = np.concatenate([moving, np.full(40, moving[-1])])
    high = np.concatenate([moving * 1.01, close[30:]])
    low = np.concatenate([moving * 0.99, close[30:]])
    bars = _bars(
        {
            "open": list(close),
            "high": list(high),
            "low": list(low),
            "close": list(close),
            "volume": [1000.0] * 30 + [0.0] * 40,
        }
    )
    specs = [
        FeatureSpec.of(n)
        for n in (
            "rsi",
            "stoch",
            "willr",
            "mfi",
            "er",
            "zscore",
            "bbands",
            "rvol",
            "parkinson",
            "garman_klass",
            "cci",
            "vwap",
            "linreg_slope",
            "donchian",
            "aroon",
        )
    ]
    last = _compute(bars, *specs).row(-1, named=True)
    expect = {
        "stoch_k_14_3_3": 50.0,
        "stoch_d_14_3_3": 50.0,
        "willr_14": -50.0,
        "mfi_14": 50.0,
        "er_10": 0.0,
        "zscore_20": 0.0,
        "bb_pct_b_20_2": 0.5,
        "bb_width_20_2": 0.0,
        "rvol_20": 0.0,
        "parkinson_vol_20": 0.0,
        "gk_vol_20": 0.0,
        "cci_20": 0.0,
        "vwap_20": None,
        "linreg_slope_14": 0.0,
        "bb_middle_20_2": close[-1],
        "dc_upper_20": close[-1],
        "aroon_up_14": 100.0,
        "aroon_down_14": 100.0,
    }
    for col, want in expect.items():
        if col.startswith("stoch"):  # SMA-smoothed with a running sum (as TA-Lib): equal to 1e-12
            assert last[col] == pytest.approx(want, abs=1e-12), col
        else:
            assert last[col] == want, f"{col}: {last[col]} != {want}"
    never_moved = _bars(
        {c: [7.0] * 30 for c in ("open", "high", "low", "close")} | {"volume": [5.0] * 30}
    )
    row = _compute(never_moved, FeatureSpec.of("rsi"), FeatureSpec.of("adx", window=5)).row(
        -1, named=True
    )
    assert row["rsi_14"] == 50.0
    assert (row["adx_5"], row["plus_di_5"], row["minus_di_5"]) == (0.0, 0.0, 0.0)


def test_warmup_rows_are_null_per_symbol(three_scales: pl.DataFrame):
    """Exactly the look-back rows of each symbol are null, for every column, and nothing else is."""
    out = _compute(three_scales, *DEFAULT_SPECS)
    lookbacks = {col: lb for spec in DEFAULT_SPECS for col, lb in spec.lookbacks.items()}
    counts = out.group_by("symbol").agg(pl.all().exclude("ts").null_count())
    for row in counts.iter_rows(named=True):
        for col, lb in lookbacks.items():
            assert row[col] == lb, f"{row['symbol']} {col}: {row[col]} nulls, look-back {lb}"
    heads = out.group_by("symbol").head(25)
    for col, lb in lookbacks.items():
        leading = heads.group_by("symbol").agg(pl.col(col).head(min(lb, 25)).null_count())
        assert (leading[col] == min(lb, 25)).all(), col


def test_short_symbol_is_null_where_history_is_too_short():
    rng = np.random.default_rng(11)
    n = 12
    close = list(20 * np.exp(np.cumsum(rng.normal(0, 0.01, n))))
    bars = _bars(
        {
            "open": close,
            "high": [c * 1.01 for c in close],
            "low": [c * 0.99 for c in close],
            "close": close,
            "volume": [100.0] * n,
        }
    )
    out = _compute(bars, *DEFAULT_SPECS)
    for spec in DEFAULT_SPECS:
        for col, lb in spec.lookbacks.items():
            assert out[col].null_count() == min(lb, n), col


def test_null_input_gives_null_never_a_wrong_number():
    close = [10.0 + 0.1 * i + (0.3 if i % 3 else -0.2) for i in range(60)]
    close[25] = None  # type: ignore[call-overload]
    bars = _bars({"open": close, "high": close, "low": close, "close": close, "volume": [1.0] * 60})
    specs = (
        FeatureSpec.of("sma", window=5),
        FeatureSpec.of("ret", window=1),
        FeatureSpec.of("ema", window=5),
    )
    out = _compute(bars, *specs)
    sma = out["sma_5"].to_list()
    for i in range(4, 60):
        window = close[i - 4 : i + 1]
        if None in window:
            assert sma[i] is None, i  # the window saw the missing bar
        elif sma[i] is not None:
            assert sma[i] == pytest.approx(sum(window) / 5), i  # a value, when given, is right
    assert sma[59] is not None  # and the running sum recovers once it is re-summed
    assert out["ret_1"][25] is None and out["ret_1"][26] is None and out["ret_1"][27] is not None
    assert (
        out["ema_5"][25:].null_count() == 35
    )  # a recursive indicator cannot recover: null, not garbage


def test_empty_input_gives_empty_frame_with_all_columns():
    empty = _bars({c: [] for c in ("open", "high", "low", "close", "volume")})
    out = _compute(empty, *DEFAULT_SPECS)
    assert out.height == 0
    assert out.columns == ["symbol", "ts", *[c for s in DEFAULT_SPECS for c in s.columns]]
