"""The csv/parquet source: column mapping, one-file-per-symbol and long files, zones, and bad files."""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl
import pytest

from trader_cols.errors import DataSourceError
from trader_cols.sources.files import fetch_files, frame_from_file

START, END = date(2000, 1, 1), date(2030, 1, 1)
CSV_SPY = "Date,Open,High,Low,Close,Adj Close,Volume\n2024-01-02,10,11,9,10.5,10.4,100\n2024-01-03,10.5,12,10,11,10.9,200\n"


def utc(*a):
    return datetime(*a, tzinfo=UTC)


def test_one_file_per_symbol_with_yahoo_style_headers(tmp_path):
    (tmp_path / "SPY.csv").write_text(CSV_SPY)
    got = fetch_files(tmp_path, ["SPY"], START, END, fmt="csv")
    assert not got.failures
    b = got.bars
    assert b["symbol"].to_list() == ["SPY", "SPY"]
    assert b["ts"].to_list() == [utc(2024, 1, 2), utc(2024, 1, 3)]
    assert b["adj_close"].to_list() == [10.4, 10.9]
    assert b["volume"].to_list() == [100.0, 200.0]


def test_long_file_with_symbol_column_and_lowercase_names(tmp_path):
    p = tmp_path / "all.csv"
    p.write_text("ticker,timestamp,open,high,low,close,volume\nAAA,2024-01-02,1,2,0.5,1.5,10\nBBB,2024-01-02,5,6,4,5.5,20\n")
    got = fetch_files(p, ["AAA", "BBB"], START, END, fmt="csv")
    assert sorted(got.bars["symbol"].to_list()) == ["AAA", "BBB"]
    assert got.bars["adj_close"].null_count() == 2


def test_symbols_match_case_insensitively_and_range_is_inclusive(tmp_path):
    (tmp_path / "spy.csv").write_text(CSV_SPY)
    got = fetch_files(tmp_path, ["SPY"], date(2024, 1, 3), date(2024, 1, 3), fmt="csv")
    assert got.bars["ts"].to_list() == [utc(2024, 1, 3)]
    assert got.bars["symbol"].to_list() == ["SPY"]


def test_naive_intraday_times_are_read_in_the_declared_zone(tmp_path):
    p = tmp_path / "AAA.csv"
    p.write_text("Datetime,Open,High,Low,Close,Volume\n2024-07-01 09:30:00,1,2,0.5,1.5,10\n")
    got = fetch_files(p, ["AAA"], START, END, fmt="csv", interval="1h", tz="America/New_York")
    assert got.bars["ts"].to_list() == [utc(2024, 7, 1, 13, 30)]


def test_mixed_offsets_are_parsed_as_instants(tmp_path):
    p = tmp_path / "AAA.csv"
    p.write_text(
        "Datetime,Open,High,Low,Close,Volume\n"
        "2024-03-08T09:30:00-05:00,1,2,0.5,1.5,10\n2024-03-11T09:30:00-04:00,1,2,0.5,1.5,10\n"
    )
    got = fetch_files(p, ["AAA"], START, END, fmt="csv", interval="1h")
    assert got.bars["ts"].to_list() == [utc(2024, 3, 8, 14, 30), utc(2024, 3, 11, 13, 30)]


def test_daily_dates_keep_their_session_date_whatever_the_offset(tmp_path):
    p = tmp_path / "SAP.DE.csv"
    p.write_text("Date,Open,High,Low,Close,Volume\n2024-03-01 00:00:00+01:00,1,2,0.5,1.5,10\n")
    got = fetch_files(p, ["SAP.DE"], START, END, fmt="csv", interval="1d")
    assert got.bars["ts"].to_list() == [utc(2024, 3, 1)]


def test_parquet_with_typed_columns(tmp_path):
    df = pl.DataFrame({
        "Date": [date(2024, 1, 2)], "Open": [1.0], "High": [2.0], "Low": [0.5], "Close": [1.5], "Volume": [7],
    })
    df.write_parquet(tmp_path / "QQQ.parquet")
    got = fetch_files(tmp_path, ["QQQ"], START, END, fmt="parquet")
    assert got.bars.row(0, named=True)["ts"] == utc(2024, 1, 2)
    assert got.bars["volume"].to_list() == [7.0]


@pytest.mark.parametrize(
    ("content", "fragment", "row"),
    [
        ("", "file is empty", None),
        ("Date,Open,High,Low,Close,Volume\n", "no rows", None),
        ("Date,Open,High,Close\n2024-01-02,1,2,1\n", "missing columns ['low']", None),
        ("Date,Open,High,Low,Close,Volume\n2024-01-02,1,2,0.5,1.5,10\nnot-a-date,1,2,0.5,1.5,10\n", "", 3),
        ("Date,Open,High,Low,Close,Volume\n2024-01-02,1,2,0.5,1.5,10\n2024-01-03,1,two,0.5,1.5,10\n", "not a number", 3),
    ],
)
def test_bad_files_name_the_file_symbol_and_row(tmp_path, content, fragment, row):
    p = tmp_path / "BAD.csv"
    p.write_text(content)
    with pytest.raises(DataSourceError) as err:
        frame_from_file(p, "csv", "1d", None)
    assert err.value.file == str(p)
    assert fragment in str(err.value)
    if row is not None:
        assert err.value.row == row
        assert f"row {row}" in str(err.value)


def test_a_bad_file_fails_only_its_symbol(tmp_path):
    (tmp_path / "SPY.csv").write_text(CSV_SPY)
    (tmp_path / "BAD.csv").write_text("Date,Open\n2024-01-02,1\n")
    got = fetch_files(tmp_path, ["SPY", "BAD"], START, END, fmt="csv")
    assert set(got.bars["symbol"].unique()) == {"SPY"}
    assert set(got.failures) == {"BAD"} and "missing columns" in str(got.failures["BAD"])


def test_unknown_symbol_is_a_failure_naming_the_path(tmp_path):
    (tmp_path / "SPY.csv").write_text(CSV_SPY)
    got = fetch_files(tmp_path, ["SPY", "NOPE"], START, END, fmt="csv")
    assert "not found in" in str(got.failures["NOPE"]) and "NOPE" in str(got.failures["NOPE"])


def test_naive_intraday_without_zone_is_refused(tmp_path):
    p = tmp_path / "AAA.csv"
    p.write_text("Datetime,Open,High,Low,Close,Volume\n2024-07-01 09:30:00,1,2,0.5,1.5,10\n")
    with pytest.raises(DataSourceError, match="zone"):
        frame_from_file(p, "csv", "1h", None)


def test_missing_path():
    with pytest.raises(DataSourceError, match="no such file"):
        fetch_files("/nonexistent/dir", ["SPY"], START, END, fmt="csv")


def test_per_symbol_zones_in_one_long_file(tmp_path):
    p = tmp_path / "mixed.csv"
    p.write_text(
        "symbol,Datetime,Open,High,Low,Close,Volume\n"
        "AAA,2024-07-01 09:30:00,1,2,0.5,1.5,10\nBTC-USD,2024-07-01 09:30:00,1,2,0.5,1.5,10\n"
        "AAA,2024-07-01 10:30:00,1,2,0.5,1.5,10\n"
    )
    zones = {"AAA": "America/New_York", "BTC-USD": "UTC"}
    got = fetch_files(p, [], START, END, fmt="csv", interval="1h", tz=zones.get)
    rows = {(r["symbol"], r["ts"]) for r in got.bars.iter_rows(named=True)}
    assert rows == {("AAA", utc(2024, 7, 1, 13, 30)), ("AAA", utc(2024, 7, 1, 14, 30)),
                    ("BTC-USD", utc(2024, 7, 1, 9, 30))}
