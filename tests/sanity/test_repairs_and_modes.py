"""Repairs happen only where the profile allows them and are all audited; off / warn / enforce modes."""

from __future__ import annotations

import logging
from datetime import timedelta

import polars as pl
import pytest

from trader_cols.errors import ConfigError, DataSanityError
from trader_cols.sanity import raise_on_errors, validate
from trader_cols.schema import BARS, FINDINGS, REJECTED, REPAIRS

from .frames import CFG, as_of_after, at, clean, codes, run

BASE = clean(40)
TS = BASE["ts"].to_list()


def test_clip_only_when_allowed_and_audited():
    bad = at(BASE, 10, open=BASE["high"][10] * 1.05)
    strict = run(bad)
    assert strict.findings.filter(pl.col("code") == "open_outside_range")["severity"].to_list() == [
        "error"
    ]
    assert strict.repairs.height == 0 and strict.bars.height == 0  # refused, nothing changed
    relaxed = run(bad, profile="relaxed_tiny")
    found = relaxed.findings.filter(pl.col("code") == "open_outside_range")
    assert found["severity"].to_list() == ["warn"] and "clipped to" in found["message"][0]
    assert relaxed.ok()
    landed = relaxed.bars.filter(pl.col("ts") == TS[10])
    assert landed["open"][0] == BASE["high"][10]
    audit = relaxed.repairs.row(0, named=True)
    assert (audit["action"], audit["column_name"], audit["ts"]) == ("clip_price", "open", TS[10])
    assert (
        float(audit["before"]) == BASE["high"][10] * 1.05
        and float(audit["after"]) == BASE["high"][10]
    )


def test_forward_fill_short_runs_only():
    # relaxed fills runs of at most 3 missing values from the previous valid one; longer runs stay
    df = BASE
    for i in (5, 6):
        df = at(df, i, close=float("nan"))
    for i in range(20, 25):
        df = at(df, i, open=None)
    df = at(df, 0, high=None)  # nothing before it: not filled
    report = run(df, profile="relaxed_tiny", mode="warn")
    fills = report.repairs.filter(pl.col("action") == "ffill")
    assert fills.select("ts", "column_name").rows() == [(TS[5], "close"), (TS[6], "close")]
    assert fills["after"].to_list() == [str(BASE["close"][4])] * 2
    assert fills["before"].to_list() == ["NaN", "NaN"]
    assert report.bars.filter(pl.col("ts").is_between(TS[20], TS[24]))["open"].null_count() == 5
    assert report.bars["high"][0] is None


def test_drop_rows_without_close_is_audited():
    df = at(at(at(at(BASE, 5, close=None), 6, close=None), 7, close=None), 8, close=None)
    report = run(
        df, profile="relaxed_tiny", mode="warn"
    )  # a run of 4 > ffill_max_bars 3: dropped instead
    dropped = report.repairs.filter(pl.col("action") == "drop_missing_close")
    assert dropped["ts"].to_list() == TS[5:9]
    assert all("close=null" in b for b in dropped["before"])
    assert report.bars.height == 36


def test_duplicates_exact_dropped_and_timestamps_resolved_keeping_the_last_received():
    later = BASE.slice(10, 1).with_columns(close=pl.col("close") * 1.001)
    df = pl.concat([BASE, BASE.slice(3, 1), later])
    relaxed = run(df, profile="relaxed_tiny")
    assert relaxed.ok() and relaxed.bars.height == 40
    assert relaxed.bars.filter(pl.col("ts") == TS[10])["close"][0] == later["close"][0]
    actions = relaxed.repairs.select("ts", "action").rows()
    assert (TS[3], "drop_duplicate_row") in actions and (TS[10], "resolve_duplicate_ts") in actions
    kept = relaxed.repairs.filter(pl.col("action") == "resolve_duplicate_ts").row(0, named=True)
    assert (
        f"close={BASE['close'][10]}" in kept["before"]
        and f"close={later['close'][0]}" in kept["after"]
    )
    # strict: exact copies are dropped, a conflicting timestamp is refused
    strict = run(df)
    dup = strict.findings.filter(pl.col("code") == "ts_duplicate")
    assert dup["severity"].to_list() == ["error"] and not strict.ok()


def test_unresolved_duplicates_never_land_even_in_warn_mode():
    df = pl.concat([BASE, BASE.slice(10, 1).with_columns(close=pl.col("close") * 1.001)])
    report = run(df, mode="warn")
    assert report.bars.height == 39
    refused = report.rejected
    assert refused["ts"].to_list() == [TS[10], TS[10]] and set(refused["codes"]) == {"ts_duplicate"}


def test_incomplete_bar_dropped_and_audited():
    report = run(BASE, as_of=TS[-1] + timedelta(hours=15))
    assert report.ok() and report.bars.height == 39
    assert report.repairs.select("ts", "action").rows() == [(TS[-1], "drop_incomplete_bar")]


def test_nothing_changes_without_an_audit_row():
    df = at(at(at(BASE, 3, open=BASE["high"][3] * 1.1), 7, close=float("nan")), 9, close=None)
    df = at(at(df, 10, close=None), 11, close=None)
    df = at(df, 12, close=None)
    df = pl.concat([df, df.slice(20, 1)])
    report = run(df, profile="relaxed_tiny", mode="warn", as_of=TS[-1] + timedelta(hours=15))
    before = BASE.join(report.bars, on=["symbol", "ts"], how="left", suffix="_out")
    changed = set()
    for c in ("open", "high", "low", "close", "volume"):
        diff = before.filter(
            ~pl.col(c).eq_missing(pl.col(f"{c}_out")) | pl.col(f"{c}_out").is_null()
        )
        changed |= set(diff["ts"].to_list())
    audited = set(report.repairs["ts"].to_list())
    assert changed and changed <= audited


def test_off_mode_returns_bars_untouched():
    bad = at(BASE, 3, high=-1.0)
    report = run(bad, mode="off")
    assert report.bars.equals(bad) and report.findings.height == 0 and report.ok()


def test_enforce_rejects_failing_symbols_only():
    good, bad = clean(40, "GOOD"), at(clean(40, "BAD", seed=2), 7, low=-1.0)
    report = run(pl.concat([bad, good]))
    assert report.bars["symbol"].unique().to_list() == ["GOOD"]
    assert report.rejected.height == 40 and set(report.rejected["symbol"]) == {"BAD"}
    assert report.rejected["codes"][0] == "price_nonpositive"
    assert report.rejected.schema == pl.Schema(REJECTED)
    assert report.bars.schema == pl.Schema(BARS)
    assert report.findings.schema == pl.Schema(FINDINGS)
    assert report.repairs.schema == pl.Schema(REPAIRS)


def test_warn_mode_lands_everything_and_logs_one_line_per_symbol_and_code(caplog):
    bad = at(at(clean(40, "BAD", seed=2), 7, low=-1.0), 8, low=-2.0)
    bad = at(bad, 9, volume=-1.0)
    caplog.set_level(logging.INFO, logger="trader_cols")
    report = run(pl.concat([bad, clean(40, "GOOD")]), mode="warn")
    assert report.bars.height == 80 and report.rejected.height == 0 and not report.ok()
    lines = [r.getMessage() for r in caplog.records if "DataSanity" in r.getMessage()]
    assert len(lines) == 2
    assert lines[0].startswith("DataSanity BAD price_nonpositive: 2 finding(s)")
    assert lines[1].startswith("DataSanity BAD volume_negative: 1 finding(s)")


def test_raise_on_errors_summarises_counts_and_first_rows():
    bad = at(at(clean(40, "BAD", seed=2), 7, low=-1.0), 8, low=-2.0)
    report = run(pl.concat([bad, clean(40, "GOOD")]))
    with pytest.raises(DataSanityError) as err:
        raise_on_errors(report)
    text = str(err.value)
    assert text.splitlines()[0].startswith("DataSanity: 2 error finding(s) in 1 symbol(s)")
    assert "  price_nonpositive: 2 error(s), 0 warning(s) in 1 symbol(s)" in text
    assert "    BAD 2024-01-11 00:00:00 UTC: non-positive price" in text
    assert err.value.findings.height == report.findings.height
    raise_on_errors(run(clean(40, "GOOD")))  # no error: no raise


def test_schema_errors_refuse_the_whole_frame_in_every_mode():
    naive = BASE.with_columns(pl.col("ts").dt.replace_time_zone(None))
    for mode in ("warn", "enforce"):
        report = run(naive, mode=mode)
        assert codes(report) == {"ts_not_utc"} and report.bars.height == 0
        assert report.rejected.height == 40 and report.rejected["codes"][0] == "ts_not_utc"


def test_lazy_input_and_unknown_names():
    assert run(BASE.lazy()).bars.equals(run(BASE).bars)
    with pytest.raises(ConfigError, match="did you mean 'strict'"):
        validate(BASE, CFG, as_of=as_of_after(BASE), profile="strct")
    with pytest.raises(ConfigError, match="mode"):
        validate(BASE, CFG, as_of=as_of_after(BASE), mode="loud")
    with pytest.raises(ConfigError, match="timezone-aware"):
        validate(BASE, CFG, as_of=TS[-1].replace(tzinfo=None))
