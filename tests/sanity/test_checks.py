"""Every DataSanity check: a minimal frame that fails it (with its code, where expected) and one that passes."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from trader_cols.config import DataSanityConfig
from trader_cols.sanity import CHECKS, validate

from .frames import CFG, TINY, as_of_after, at, clean, codes, run

BASE = clean(40)
TS = BASE["ts"].to_list()
MID = 20


def ts_of(i: int) -> datetime:
    return TS[i]


def _scale_from(df: pl.DataFrame, i: int, factor: float) -> pl.DataFrame:
    idx = pl.int_range(pl.len())
    cols = ["open", "high", "low", "close", "adj_close"]
    return df.with_columns(
        [pl.when(idx >= i).then(pl.col(c) * factor).otherwise(pl.col(c)).alias(c) for c in cols]
    )


def _scale_row(df: pl.DataFrame, i: int, factor: float) -> pl.DataFrame:
    row = df.row(i, named=True)
    return at(df, i, **{c: row[c] * factor for c in ("open", "high", "low", "close")})


def _stale(df: pl.DataFrame, i: int, n: int) -> pl.DataFrame:
    row = df.row(i, named=True)
    for k in range(i + 1, i + n):
        df = at(df, k, **{c: row[c] for c in ("open", "high", "low", "close")})
    return df


# code -> (corrupt the clean frame, run kwargs, (symbol, ts) of the finding or None for frame/symbol level)
Case = tuple[Callable[[pl.DataFrame], pl.DataFrame], dict, tuple | None]
CASES: dict[str, Case] = {
    "schema_missing_column": (lambda d: d.drop("volume"), {}, None),
    "schema_dtype": (lambda d: d.with_columns(pl.col("close").cast(pl.String)), {}, None),
    "ts_not_utc": (lambda d: d.with_columns(pl.col("ts").dt.replace_time_zone(None)), {}, None),
    "interval_mixed": (
        lambda d: d.with_columns(
            interval=pl.when(pl.int_range(pl.len()) == 3).then(pl.lit("1h")).otherwise(pl.lit("1d"))
        ),
        {},
        None,
    ),
    "empty": (lambda d: d.clear(), {}, None),
    "null_key": (lambda d: at(d, 5, symbol=None), {}, None),
    "row_duplicate": (lambda d: pl.concat([d, d.slice(MID, 1)]), {}, ("AAA", ts_of(MID))),
    "ts_duplicate": (
        lambda d: pl.concat([d, d.slice(MID, 1).with_columns(volume=pl.col("volume") + 1)]),
        {},
        ("AAA", ts_of(MID)),
    ),
    "ts_not_monotonic": (
        lambda d: pl.concat(
            [d.slice(0, MID), d.slice(MID + 1, 1), d.slice(MID, 1), d.slice(MID + 2)]
        ),
        {"ordered_input": True},
        ("AAA", ts_of(MID)),
    ),
    "ts_future": (lambda d: d, {"as_of": TS[-1] - timedelta(hours=1)}, ("AAA", ts_of(39))),
    "bar_incomplete": (lambda d: d, {"as_of": TS[-1] + timedelta(hours=12)}, ("AAA", ts_of(39))),
    "ts_not_session_aligned": (
        lambda d: at(d, MID, ts=ts_of(MID) + timedelta(hours=5)),
        {},
        ("AAA", ts_of(MID) + timedelta(hours=5)),
    ),
    "ts_off_calendar": (
        lambda d: at(d, MID, ts=ts_of(MID) + timedelta(days=(5 - ts_of(MID).weekday()) % 7)),
        {},
        ("AAA", ts_of(MID) + timedelta(days=(5 - ts_of(MID).weekday()) % 7)),
    ),
    "price_missing": (lambda d: at(d, MID, close=float("nan")), {}, ("AAA", ts_of(MID))),
    "price_not_finite": (lambda d: at(d, MID, high=float("inf")), {}, ("AAA", ts_of(MID))),
    "price_nonpositive": (lambda d: at(d, MID, low=0.0), {}, ("AAA", ts_of(MID))),
    "high_below_low": (
        lambda d: at(d, MID, high=d["low"][MID], low=d["high"][MID]),
        {},
        ("AAA", ts_of(MID)),
    ),
    "open_outside_range": (
        lambda d: at(d, MID, open=d["high"][MID] * 1.01),
        {},
        ("AAA", ts_of(MID)),
    ),
    "close_outside_range": (
        lambda d: at(d, MID, close=d["low"][MID] * 0.99),
        {},
        ("AAA", ts_of(MID)),
    ),
    "volume_negative": (lambda d: at(d, MID, volume=-1.0), {}, ("AAA", ts_of(MID))),
    "volume_missing": (lambda d: at(d, MID, volume=None), {}, ("AAA", ts_of(MID))),
    "na_fraction": (lambda d: at(d, MID, open=None), {}, ("AAA", None)),
    "history_short": (lambda d: d.head(4), {}, ("AAA", None)),
    "calendar_gap": (
        lambda d: d.filter(~pl.int_range(pl.len()).is_between(MID, MID + 3)),
        {},
        ("AAA", ts_of(MID + 4)),
    ),
    "data_stale": (lambda d: d, {"as_of": TS[-1] + timedelta(days=30)}, ("AAA", None)),
    "unit_error": (lambda d: _scale_row(d, MID, 100.0), {}, ("AAA", ts_of(MID))),
    "split_jump": (lambda d: _scale_from(d, MID, 0.5), {}, ("AAA", ts_of(MID))),
    "return_outlier": (lambda d: _scale_from(d, MID, 1.25), {}, ("AAA", ts_of(MID))),
    "stale_run": (lambda d: _stale(d, MID, 3), {}, ("AAA", ts_of(MID))),
    "zero_volume_run": (
        lambda d: at(at(at(d, MID, volume=0.0), MID + 1, volume=0.0), MID + 2, volume=0.0),
        {},
        ("AAA", ts_of(MID)),
    ),
}


def test_every_catalogued_check_has_a_case():
    assert sorted(CASES) == sorted(c.code for c in CHECKS if not c.sql)


@pytest.mark.parametrize("symbol", ["AAA", "BTC-USD"])
def test_clean_frames_pass_every_check(symbol):
    df = clean(40, symbol)
    report = run(df)
    assert report.findings.height == 0
    assert report.ok()
    assert report.bars.height == 40 and report.rejected.height == 0 and report.repairs.height == 0


@pytest.mark.parametrize("code", sorted(CASES))
def test_check_flags_its_minimal_failing_frame(code):
    corrupt, kwargs, where = CASES[code]
    report = run(corrupt(BASE), **kwargs)
    found = report.findings.filter(pl.col("code") == code)
    assert found.height >= 1, f"{code} not flagged; got {codes(report)}"
    if where is not None:
        symbol, ts = where
        assert (symbol, ts) in set(zip(found["symbol"], found["ts"], strict=True))


@pytest.mark.parametrize("code", sorted(CASES))
def test_check_passes_its_clean_twin(code):
    _, kwargs, _ = CASES[code]
    if code in ("ts_future", "bar_incomplete", "data_stale"):
        kwargs = {"as_of": as_of_after(BASE)}  # the twin is the same frame judged at a fair time
    report = run(BASE, **kwargs)
    assert code not in codes(report)


GAP1 = DataSanityConfig(
    profile="g", mode="enforce", profiles={"g": dataclasses.replace(TINY, max_gap_bars=1)}
)


def test_gap_uses_business_days_for_equities_and_every_day_for_crypto():
    # weekends are no gap for an equity; two missing days are a gap for crypto at max_gap_bars=1
    eq = clean(15, "AAA")
    assert "calendar_gap" not in codes(validate(eq, GAP1, as_of=as_of_after(eq)))
    cr = clean(15, "BTC-USD").filter(~pl.int_range(pl.len()).is_between(5, 6))
    got = validate(cr, GAP1, as_of=as_of_after(cr)).findings.filter(
        pl.col("code") == "calendar_gap"
    )
    assert got["observed"].to_list() == [2.0]


def test_asset_class_override_changes_the_calendar():
    cfg = GAP1
    # daily bars on every day, with Saturday and Sunday missing once: a gap for crypto, not for an equity
    first_weekend = (
        pl.col("ts").dt.date().is_in([datetime(2024, 1, 6).date(), datetime(2024, 1, 7).date()])
    )
    df = clean(15, "ZZZ-USD").filter(~first_weekend)
    as_crypto = validate(df, cfg, as_of=as_of_after(df))
    as_equity = validate(df, cfg, as_of=as_of_after(df), asset_classes={"ZZZ-USD": "equity"})
    assert "calendar_gap" in codes(as_crypto)
    assert "calendar_gap" not in codes(as_equity)
    assert "ts_off_calendar" in codes(as_equity)  # its weekend bars are now off the equity calendar


def test_intraday_equity_gaps_count_within_a_day_only():
    day1 = [datetime(2024, 1, 2, 14, 30, tzinfo=UTC) + timedelta(minutes=5 * k) for k in range(20)]
    day2 = [datetime(2024, 1, 3, 14, 30, tzinfo=UTC) + timedelta(minutes=5 * k) for k in range(20)]
    stamps = day1 + day2[:5] + day2[10:]  # overnight: fine; 5 bars missing on day 2: a gap
    df = clean(len(stamps)).with_columns(
        ts=pl.Series(stamps, dtype=BASE["ts"].dtype), interval=pl.lit("5m")
    )
    report = validate(df, CFG, as_of=datetime(2024, 1, 5, tzinfo=UTC))
    gaps = report.findings.filter(pl.col("code") == "calendar_gap")
    assert gaps["ts"].to_list() == [day2[10]] and gaps["observed"].to_list() == [5.0]


def test_unit_error_is_not_a_split_and_a_split_is_not_an_outlier():
    report = run(_scale_row(BASE, MID, 100.0))
    assert {"unit_error"} <= codes(report) and not {"split_jump", "return_outlier"} & codes(report)
    report = run(_scale_from(BASE, MID, 0.5))
    assert "split_jump" in codes(report) and "return_outlier" not in codes(report)


def test_sigma_outlier_without_crossing_the_absolute_limit():
    # 1% moves, then one 15% move: below max_abs_return 0.2 but far beyond 8 sigma
    report = run(_scale_from(BASE, MID, 1.15))
    found = report.findings.filter(pl.col("code") == "return_outlier")
    assert found["ts"].to_list() == [ts_of(MID)]
    assert "x trailing sigma" in found["message"][0]


def test_windows_do_not_bleed_across_symbols():
    # a symbol at 100 followed by one at 1: no jump, gap or outlier at the boundary
    a, b = clean(40, "AAA", price=100.0), clean(40, "BBB", price=1.0, seed=1)
    report = run(pl.concat([a, b]))
    assert report.findings.height == 0
