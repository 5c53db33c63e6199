"""Ingest: idempotent re-ingest, changed history, failures by symbol, and crash safety."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from trader_cols.config import load_config
from trader_cols.errors import DataSourceError, PartialFailure
from trader_cols.pipeline.ingest import IngestRequest, ingest, missing_ranges
from trader_cols.sources.base import Fetched
from trader_cols.sources.synthetic import fetch_synthetic

CFG = load_config(env={}).config


def run(wh, symbols=("AAA", "BTC-USD"), start="2020-01-01", end="2020-06-30", fetchers=None, **kw):
    req = IngestRequest(symbols=tuple(symbols), start=date.fromisoformat(start), end=date.fromisoformat(end), **kw)
    return ingest(wh, req, sanity_cfg=CFG.data_sanity, data_cfg=CFG.data, fetchers=fetchers)


def scaled(factor: float, only: str):
    """A fetcher that returns the synthetic bars with one symbol's closes changed (a corrected history)."""

    def fetch(req, syms, s, e):
        got = fetch_synthetic(syms, s, e, seed=req.seed)
        b = got.bars.with_columns(
            pl.when(pl.col("symbol") == only).then(pl.col(c) * factor).otherwise(pl.col(c)).alias(c)
            for c in ("open", "high", "low", "close")
        )
        return Fetched(b, got.failures)

    return fetch


def test_ingest_lands_bars_and_logs_them(warehouse):
    res = run(warehouse)
    assert not res.failures
    assert dict(zip(res.summary["symbol"], res.summary["status"], strict=True)) == {"AAA": "stored", "BTC-USD": "stored"}
    stored = warehouse.query("SELECT symbol, count(*) AS n FROM bars GROUP BY symbol ORDER BY symbol")
    assert stored["n"].to_list() == res.summary.sort("symbol")["rows_new"].to_list()
    log = warehouse.query("SELECT symbol, status, rows_new FROM ingest_log ORDER BY symbol")
    assert log["status"].to_list() == ["stored", "stored"]
    files = warehouse.query("SELECT symbol, version, rows FROM bar_files ORDER BY symbol")
    assert files["version"].to_list() == [1, 1]


def test_reingest_is_idempotent_and_rewrites_nothing(warehouse):
    run(warehouse)
    mtimes = {p: p.stat().st_mtime_ns for p in warehouse.bar_files()}
    before = warehouse.read_bars()
    res = run(warehouse)
    assert res.summary["status"].to_list() == ["unchanged", "unchanged"]
    assert res.summary["rows_new"].sum() == 0 and res.summary["rows_replaced"].sum() == 0
    assert {p: p.stat().st_mtime_ns for p in warehouse.bar_files()} == mtimes
    assert warehouse.read_bars().equals(before)
    assert warehouse.query("SELECT max(version) AS v FROM bar_files")["v"].item() == 1


def test_overlapping_range_adds_only_new_rows(warehouse):
    first = run(warehouse, end="2020-03-31")
    res = run(warehouse, start="2020-03-01", end="2020-06-30")
    full = run(warehouse.__class__(warehouse.root.parent / "other"), end="2020-06-30")
    assert res.summary["rows_replaced"].sum() == 0
    assert res.summary["rows_new"].sum() + first.summary["rows_new"].sum() == full.summary["rows_new"].sum()
    dupes = warehouse.query("SELECT symbol, ts, count(*) AS n FROM bars GROUP BY ALL HAVING n > 1 ORDER BY ALL")
    assert dupes.height == 0


def test_changed_history_replaces_rows_and_bumps_version(warehouse):
    run(warehouse)
    old = warehouse.read_bars(["AAA"])
    res = run(warehouse, fetchers={"synthetic": scaled(1.01, "AAA")})
    row = res.summary.filter(pl.col("symbol") == "AAA").row(0, named=True)
    assert row["status"] == "stored" and row["rows_replaced"] == old.height and row["rows_new"] == 0
    assert res.summary.filter(pl.col("symbol") == "BTC-USD")["status"].item() == "unchanged"
    new = warehouse.read_bars(["AAA"])
    assert (new["close"] / old["close"] - 1.01).abs().max() < 1e-12
    v = dict(warehouse.query("SELECT symbol, version FROM bar_files ORDER BY symbol").iter_rows())
    assert v == {"AAA": 2, "BTC-USD": 1}
    log = warehouse.query("SELECT rows_replaced FROM ingest_log WHERE symbol = 'AAA' ORDER BY finished_at")
    assert log["rows_replaced"].to_list() == [0, old.height]


def test_one_failing_symbol_does_not_stop_the_others(warehouse):
    def fetch(req, syms, s, e):
        got = fetch_synthetic([x for x in syms if x != "BAD"], s, e)
        return Fetched(got.bars, {"BAD": DataSourceError("boom", source="test", symbol="BAD")})

    res = run(warehouse, symbols=("AAA", "BAD"), fetchers={"synthetic": fetch})
    assert set(res.failures) == {"BAD"}
    assert dict(zip(res.summary["symbol"], res.summary["status"], strict=True)) == {"AAA": "stored", "BAD": "failed"}
    assert warehouse.read_bars(["AAA"]).height > 0
    with pytest.raises(PartialFailure, match="1 of 2 symbols failed: BAD") as err:
        res.raise_for_failures()
    assert err.value.exit_code == 10
    assert warehouse.query("SELECT status FROM ingest_log WHERE symbol = 'BAD'")["status"].item() == "failed"


def test_invalid_symbol_names_fail_alone(warehouse):
    res = run(warehouse, symbols=("AAA", "../x"))
    assert set(res.failures) == {"../x"}
    assert warehouse.read_bars(["AAA"]).height > 0


def test_missing_ranges_fetch_only_what_is_not_stored():
    d = date.fromisoformat
    stored = {"AAA": (d("2020-02-01"), d("2020-03-31")), "BBB": (d("2020-01-01"), d("2020-12-31"))}
    plan = missing_ranges(stored, ["AAA", "BBB", "CCC"], d("2020-01-01"), d("2020-06-30"))
    assert plan == {
        (d("2020-01-01"), d("2020-01-31")): ["AAA"],
        (d("2020-04-01"), d("2020-06-30")): ["AAA"],
        (d("2020-01-01"), d("2020-06-30")): ["CCC"],
    }


def test_a_weekend_is_not_asked_for_exchange_traded_symbols():
    d = date.fromisoformat
    stored = {"SPY": (d("2024-01-02"), d("2024-01-05")), "BTC-USD": (d("2024-01-02"), d("2024-01-05"))}
    # Saturday and Sunday after a Friday close: nothing to fetch for SPY, the weekend for BTC-USD
    plan = missing_ranges(stored, ["SPY", "BTC-USD"], d("2024-01-02"), d("2024-01-07"), every_day=["BTC-USD"])
    assert plan == {(d("2024-01-06"), d("2024-01-07")): ["BTC-USD"]}


def test_yfinance_source_asks_only_for_missing_ranges(warehouse):
    calls = []

    def fake_yf(req, syms, s, e):
        calls.append((tuple(syms), s, e))
        return fetch_synthetic(syms, s, e)

    run(warehouse, symbols=("AAA",), end="2020-03-31", source="yfinance", fetchers={"yfinance": fake_yf})
    run(warehouse, symbols=("AAA",), end="2020-06-30", source="yfinance", fetchers={"yfinance": fake_yf})
    run(warehouse, symbols=("AAA",), end="2020-06-30", source="yfinance", fetchers={"yfinance": fake_yf})
    assert calls == [(("AAA",), date(2020, 1, 1), date(2020, 3, 31)), (("AAA",), date(2020, 4, 1), date(2020, 6, 30))]
    run(warehouse, symbols=("AAA",), end="2020-06-30", source="yfinance", refresh=True, fetchers={"yfinance": fake_yf})
    assert calls[-1] == (("AAA",), date(2020, 1, 1), date(2020, 6, 30))


def test_catalog_heals_when_a_writer_died_between_file_and_catalog(warehouse):
    run(warehouse)
    # A writer that replaced AAA's file and died before its catalog commit:
    changed = warehouse.read_bars(["AAA"]).with_columns(pl.col("open", "high", "low", "close") * 1.01)
    with warehouse.writer():
        _, digest = warehouse.write_bar_file("1d", "AAA", changed)
    before = warehouse.query("SELECT content_hash, version FROM bar_files WHERE symbol = 'AAA'").row(0)
    assert before[0] != digest
    # The next ingest of the same (new) data sees nothing to write, but records the file as it is.
    run(warehouse, fetchers={"synthetic": scaled(1.01, "AAA")})
    after = warehouse.query("SELECT content_hash, version FROM bar_files WHERE symbol = 'AAA'").row(0)
    assert after == (digest, before[1] + 1)


def test_batches_give_the_same_result_as_one_batch(tmp_path):
    from trader_cols.warehouse import Warehouse

    syms = tuple(f"S{i}" for i in range(7))
    a, b = Warehouse(tmp_path / "a"), Warehouse(tmp_path / "b")
    req = IngestRequest(symbols=syms, start=date(2020, 1, 1), end=date(2020, 3, 31))
    ra = ingest(a, req, sanity_cfg=CFG.data_sanity, data_cfg=CFG.data, batch_size=3)
    rb = ingest(b, req, sanity_cfg=CFG.data_sanity, data_cfg=CFG.data, batch_size=100)
    assert ra.summary.equals(rb.summary)
    assert a.read_bars().drop("ingest_id").equals(b.read_bars().drop("ingest_id"))
