"""Property tests: valid OHLC series pass the strict profile's hard checks; one injected corruption is caught."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from trader_cols.sanity.checks import IDX, flag_frame, jump_frame, layout
from trader_cols.schema import UTC_TS

from .frames import CFG, as_of_after, at, run, sessions

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)


@st.composite
def valid_series(draw, min_bars: int = 2) -> pl.DataFrame:
    """1-3 symbols of valid OHLCV: positive, low <= open, close <= high, bounded moves, on their calendar."""
    n_sym = draw(st.integers(1, 3))
    frames = []
    for k in range(n_sym):
        n = draw(st.integers(min_bars, 150))
        seed = draw(st.integers(0, 2**32 - 1))
        level = draw(st.sampled_from([0.0001, 0.5, 30.0, 2_000.0, 1e6]))
        vol = draw(st.floats(0.0001, 0.06))
        crypto = draw(st.booleans())
        start = date(2000, 1, 3) + timedelta(days=draw(st.integers(0, 9000)))
        rng = np.random.default_rng(seed)
        close = level * np.exp(np.cumsum(np.clip(rng.normal(0, vol, n), -0.2, 0.2)))
        opn = close * np.exp(np.clip(rng.normal(0, vol / 3, n), -0.1, 0.1))
        high = np.maximum(opn, close) * (1 + rng.uniform(0.0005, 0.02, n))
        low = np.minimum(opn, close) * (1 - rng.uniform(0.0005, 0.02, n))
        sym = f"S{k}-USD" if crypto else f"S{k}"
        frames.append(
            pl.DataFrame(
                {
                    "symbol": [sym] * n,
                    "ts": pl.Series(sessions(n, start, crypto), dtype=UTC_TS),
                    "open": opn,
                    "high": high,
                    "low": low,
                    "close": close,
                    "adj_close": close,
                    "volume": rng.integers(1, 10_000_000, n).astype(float),
                }
            )
        )
    return pl.concat(frames)


@SETTINGS
@given(valid_series())
def test_valid_series_never_trip_a_hard_check_of_the_strict_profile(df):
    report = run(df, profile="strict")
    errors = report.findings.filter(pl.col("severity") == "error")
    assert errors.height == 0, errors.to_dicts()
    assert report.ok() and report.bars.height == df.height and report.repairs.height == 0
    # hard checks are the error-severity ones; soft ones may speak (short history) but never refuse
    soft = {"history_short", "return_outlier", "split_jump", "data_stale"}
    assert set(report.findings["code"]) <= soft


def _scale_row(df, i, f):
    return at(df, i, **{c: df[c][i] * f for c in ("open", "high", "low", "close")})


CORRUPTIONS = {
    "price_missing": lambda df, i: at(df, i, close=float("nan")),
    "price_not_finite": lambda df, i: at(df, i, low=float("-inf")),
    "price_nonpositive": lambda df, i: at(df, i, low=-df["low"][i]),
    "high_below_low": lambda df, i: at(df, i, high=df["low"][i], low=df["high"][i]),
    "open_outside_range": lambda df, i: at(df, i, open=df["high"][i] * 1.5),
    "close_outside_range": lambda df, i: at(df, i, close=df["low"][i] / 1.5),
    "volume_negative": lambda df, i: at(df, i, volume=-df["volume"][i]),
    "volume_missing": lambda df, i: at(df, i, volume=None),
    "row_duplicate": lambda df, i: pl.concat([df, df.slice(i, 1)]),
    "ts_duplicate": lambda df, i: pl.concat(
        [df, df.slice(i, 1).with_columns(volume=pl.col("volume") + 1)]
    ),
    "null_key": lambda df, i: at(df, i, ts=None),
    "ts_not_session_aligned": lambda df, i: at(df, i, ts=df["ts"][i] + timedelta(hours=3)),
    "unit_error": lambda df, i: _scale_row(df, i, 100.0),
}


@SETTINGS
@given(valid_series(min_bars=3), st.sampled_from(sorted(CORRUPTIONS)), st.data())
def test_any_single_injected_corruption_is_flagged_with_its_code(df, code, data):
    first = df["symbol"][0]
    n = df.filter(pl.col("symbol") == first).height
    i = data.draw(st.integers(1, n - 2))  # an inner bar of the first symbol: it has both neighbours
    bad = CORRUPTIONS[code](df, i)
    report = run(bad, profile="strict", as_of=as_of_after(df))
    assert code in set(report.findings["code"]), report.findings.to_dicts()


@SETTINGS
@given(valid_series(min_bars=3), st.integers(0, 10_000))
def test_future_bars_are_flagged(df, back_s):
    as_of = df["ts"].max() - timedelta(seconds=back_s + 1)
    report = run(df, profile="strict", as_of=as_of)
    future = report.findings.filter(pl.col("code") == "ts_future")
    assert future.height == df.filter(pl.col("ts") > as_of).height >= 1
    assert not report.ok() and CFG.mode == "enforce"


@SETTINGS
@given(
    valid_series(min_bars=3),
    st.lists(
        st.tuples(
            st.integers(0, 10_000), st.sampled_from([100.0, 0.01, 0.5, 2.0, 1.2, 1 / 1.2, 3.0])
        ),
        min_size=1,
        max_size=6,
    ),
    st.lists(st.integers(0, 10_000), max_size=3),
)
def test_candidates_never_miss_a_jump_or_gap(df, jumps, holes):
    # the exact jump/gap checks on every bar agree with running them on phase 1's candidates only
    n = df.height
    for pos, factor in jumps:
        i = pos % n
        df = at(df, i, **{c: df[c][i] * factor for c in ("open", "high", "low", "close")})
    df = df.filter(~pl.int_range(pl.len()).is_in([h % n for h in holes]))
    assume(df.height > 0)
    p = CFG.profiles["strict"]
    crypto = pl.col("symbol").str.ends_with("-USD")
    flags = flag_frame(
        layout(df.sort("symbol", "ts").lazy()).with_columns(crypto.alias("_crypto")),
        p,
        interval="1d",
        as_of=as_of_after(df),
    ).collect()
    cols = ["f_unit_error", "f_split_jump", "f_return_outlier", "f_calendar_gap"]

    def hits(frame: pl.DataFrame) -> pl.DataFrame:
        out = jump_frame(frame, p, interval="1d")
        return out.filter(pl.any_horizontal(cols)).select(IDX, *cols).sort(IDX)

    assert hits(flags).equals(hits(flags.with_columns(_cand=pl.lit(True))))
