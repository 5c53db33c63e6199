"""Timezone handling: naive times in a declared zone, UTC, New York, mixed offsets and both DST transitions."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from trader_cols.errors import ConfigError, DataSourceError
from trader_cols.sanity.timestamps import parse_timestamps, to_utc
from trader_cols.schema import UTC_TS


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def parse(values, zone, **kw) -> list[datetime]:
    out = parse_timestamps(pl.Series("ts", values), zone, file="bars.csv", **kw)
    assert out.dtype == UTC_TS
    return out.to_list()


def test_naive_in_declared_exchange_zone_is_converted_not_labelled():
    # Tokyo has no DST: 09:00 JST is 00:00 UTC; blindly labelling would give 09:00 UTC.
    assert parse(["2024-01-04 09:00:00"], "Asia/Tokyo") == [utc(2024, 1, 4, 0)]
    assert parse(["2024-07-01 08:00:00"], "Europe/London") == [utc(2024, 7, 1, 7)]


def test_naive_in_utc_zone():
    assert parse(["2024-01-02 14:30", "2024-01-02T14:30:00.250"], "UTC") == [
        utc(2024, 1, 2, 14, 30),
        datetime(2024, 1, 2, 14, 30, 0, 250_000, tzinfo=UTC),
    ]


def test_new_york_winter_and_summer_offsets():
    assert parse(["2024-01-02 09:30:00", "2024-07-01 09:30:00"], "America/New_York") == [
        utc(2024, 1, 2, 14, 30),
        utc(2024, 7, 1, 13, 30),
    ]


def test_mixed_offsets_are_instants_whatever_the_zone():
    values = [
        "2024-03-08T16:00:00-05:00",  # before the US spring change
        "2024-03-11T16:00:00-04:00",  # after it
        "2024-03-11T20:00:00Z",
        "2024-03-11 22:00:00+0200",
        "2024-03-11T21:00:00+01",
    ]
    expected = [
        utc(2024, 3, 8, 21),
        utc(2024, 3, 11, 20),
        utc(2024, 3, 11, 20),
        utc(2024, 3, 11, 20),
    ]
    expected.append(utc(2024, 3, 11, 20))
    assert parse(values, "Asia/Tokyo") == expected
    assert parse(values, None) == expected  # no zone needed when every value has an offset


def test_date_only_values_are_session_dates_at_midnight_utc():
    assert parse(["2024-01-02", "2024-01-03"], "America/New_York") == [
        utc(2024, 1, 2),
        utc(2024, 1, 3),
    ]


def test_mixed_forms_in_one_column():
    got = parse(["2024-01-02", "2024-01-02 09:30", "2024-01-02T09:30:00-05:00"], "America/New_York")
    assert got == [utc(2024, 1, 2), utc(2024, 1, 2, 14, 30), utc(2024, 1, 2, 14, 30)]


def test_spring_forward_times_around_the_gap_and_in_it():
    # 2024-03-10: New York clocks jump from 02:00 EST to 03:00 EDT.
    assert parse(["2024-03-10 01:59:59", "2024-03-10 03:00:00"], "America/New_York") == [
        utc(2024, 3, 10, 6, 59, 59),
        utc(2024, 3, 10, 7, 0, 0),
    ]
    with pytest.raises(DataSourceError, match="does not exist") as err:
        parse(["2024-03-10 01:00:00", "2024-03-10 02:30:00"], "America/New_York")
    assert err.value.row == 2 and err.value.file == "bars.csv"


def test_fall_back_overlap_raises_unless_a_side_is_chosen():
    # 2024-11-03: New York clocks fall back from 02:00 EDT to 01:00 EST; 01:30 happens twice.
    assert parse(["2024-11-03 00:30:00", "2024-11-03 02:30:00"], "America/New_York") == [
        utc(2024, 11, 3, 4, 30),
        utc(2024, 11, 3, 7, 30),
    ]
    with pytest.raises(DataSourceError, match="ambiguous") as err:
        parse(["2024-11-03 00:00:00", "2024-11-03 01:30:00"], "America/New_York", first_row=2)
    assert err.value.row == 3
    assert parse(["2024-11-03 01:30:00"], "America/New_York", ambiguous="earliest") == [
        utc(2024, 11, 3, 5, 30)
    ]
    assert parse(["2024-11-03 01:30:00"], "America/New_York", ambiguous="latest") == [
        utc(2024, 11, 3, 6, 30)
    ]


def test_southern_hemisphere_transitions():
    # Sydney 2024-04-07 03:00 AEDT -> 02:00 AEST (overlap); 2024-10-06 02:00 AEST -> 03:00 AEDT (gap).
    with pytest.raises(DataSourceError, match="ambiguous"):
        parse(["2024-04-07 02:30:00"], "Australia/Sydney")
    with pytest.raises(DataSourceError, match="does not exist"):
        parse(["2024-10-06 02:30:00"], "Australia/Sydney")
    assert parse(["2024-10-06 03:00:00"], "Australia/Sydney") == [utc(2024, 10, 5, 16)]


def test_naive_values_without_a_zone_are_refused_not_assumed_utc():
    with pytest.raises(DataSourceError, match="no zone is declared") as err:
        parse(["2024-01-02T10:00:00Z", "2024-01-02 10:00:00"], None)
    assert err.value.row == 2


@pytest.mark.parametrize(
    ("values", "row"),
    [(["2024-01-02", "02/01/2024"], 2), (["2024-02-30"], 1), (["2024-01-02", None], 2), ([""], 1)],
)
def test_unparsable_or_missing_values_name_file_and_row(values, row):
    with pytest.raises(DataSourceError) as err:
        parse(values, "UTC")
    assert err.value.row == row and err.value.file == "bars.csv"
    assert "bars.csv" in str(err.value) and f"row {row}" in str(err.value)


def test_unknown_zone_is_a_config_error():
    with pytest.raises(ConfigError, match="America/New_Yrok"):
        parse(["2024-01-02 10:00"], "America/New_Yrok")


def test_datetime_and_date_columns():
    naive = pl.Series("ts", [datetime(2024, 7, 1, 9, 30)])
    out = parse_timestamps(naive, "America/New_York", file="f.parquet")
    assert out.to_list() == [utc(2024, 7, 1, 13, 30)]
    aware = naive.dt.replace_time_zone("Europe/Paris")
    assert parse_timestamps(aware, None, file="f").to_list() == [utc(2024, 7, 1, 7, 30)]
    dates = pl.Series("ts", [datetime(2024, 7, 1).date()])
    assert parse_timestamps(dates, "Asia/Tokyo", file="f").to_list() == [utc(2024, 7, 1)]
    with pytest.raises(DataSourceError, match="type"):
        parse_timestamps(pl.Series("ts", [1, 2]), "UTC", file="f")


def test_to_utc_series_and_expr_agree():
    naive = pl.Series("ts", [datetime(2024, 1, 2, 9, 30), datetime(2024, 7, 1, 9, 30)])
    as_series = to_utc(naive, "America/New_York")
    as_expr = (
        pl.DataFrame({"ts": naive}).select(to_utc(pl.col("ts"), "America/New_York")).to_series()
    )
    assert (
        as_series.to_list()
        == as_expr.to_list()
        == [utc(2024, 1, 2, 14, 30), utc(2024, 7, 1, 13, 30)]
    )
    with pytest.raises(DataSourceError, match="does not exist") as err:
        to_utc(
            pl.Series([datetime(2024, 3, 10, 2, 30)]), "America/New_York", file="x", first_row=10
        )
    assert err.value.row == 10
