"""The warehouse: migrations, atomic bar files, the writer lock, read-only SQL."""

from __future__ import annotations

import multiprocessing as mp
import re
import time

import duckdb
import polars as pl
import pytest

from trader_cols import schema
from trader_cols.errors import WarehouseError
from trader_cols.sqlfiles import load_sql
from trader_cols.warehouse import Warehouse, check_symbol, migration_versions


def bars(symbol="AAA", n=5, start_price=10.0):
    from trader_cols.sources.synthetic import generate

    b = generate([symbol], "2020-01-01", "2020-03-01").bars.head(n)
    return b.with_columns(pl.lit("1d").alias("interval"), pl.lit("test").alias("source"), pl.lit("i1").alias("ingest_id"))


def test_new_warehouse_is_migrated_to_latest(warehouse):
    versions = warehouse.query("SELECT version FROM schema_version ORDER BY version")["version"].to_list()
    assert versions == [v for v, _ in migration_versions() if v > 0]
    assert warehouse.query("SELECT count(*) AS n FROM bars")["n"].item() == 0


def test_older_warehouse_is_migrated_on_open(warehouse):
    warehouse.query("SELECT 1")  # create
    con = duckdb.connect(str(warehouse.db_path))
    # the catalog as it was before the newest migration: its table dropped, or its added column
    last = migration_versions()[-1]
    sql = load_sql(last[1])
    created = re.search(r"CREATE TABLE (\w+)", sql)
    added = re.search(r"ALTER TABLE (\w+) ADD COLUMN (\w+)", sql)
    assert created or added, sql
    table, column = (created.group(1), None) if created else (added.group(1), added.group(2))
    con.execute("DELETE FROM schema_version WHERE version = ?", [last[0]])
    con.execute(f"DROP TABLE {table}" if column is None else f"ALTER TABLE {table} DROP COLUMN {column}")
    con.close()
    fresh = Warehouse(warehouse.root)  # a new process opening the older catalog
    what = "count(*)" if column is None else f"count({column})"
    assert fresh.query(f"SELECT {what} AS n FROM {table}")["n"].item() == 0
    assert fresh.query("SELECT max(version) AS v FROM schema_version")["v"].item() == last[0]


def test_newer_warehouse_is_a_clear_error(warehouse):
    warehouse.query("SELECT 1")
    con = duckdb.connect(str(warehouse.db_path))
    con.execute("INSERT INTO schema_version VALUES (999, 'from_the_future', now())")
    con.close()
    with pytest.raises(WarehouseError, match="newer than this trader_cols"):
        Warehouse(warehouse.root).query("SELECT 1")  # opened by a process of an older trader_cols


def test_bar_file_write_is_atomic_and_readable(warehouse):
    with warehouse.writer():
        path, digest = warehouse.write_bar_file("1d", "AAA", bars())
    assert path.exists() and len(digest) == 64
    assert not list(path.parent.glob(".*.tmp"))
    back = warehouse.read_bars(["AAA"])
    assert back.height == 5 and back.schema == pl.Schema(schema.BARS)
    assert warehouse.query("SELECT count(*) AS n FROM bars WHERE symbol = 'AAA'")["n"].item() == 5


def test_writes_need_the_writer_lock(warehouse):
    with pytest.raises(WarehouseError, match="writer lock"):
        warehouse.write_bar_file("1d", "AAA", bars())


def test_read_only_sql_refuses_writes(warehouse):
    with pytest.raises(WarehouseError, match="read-only"):
        warehouse.query("CREATE TABLE x (a INT)")
    warehouse.query("CREATE TABLE x (a INT)", write=True)
    assert warehouse.query("SELECT count(*) AS n FROM x")["n"].item() == 0


def test_bad_symbols_are_refused(warehouse):
    for bad in ("../etc", "A/B", "", "x" * 40, "A B"):
        with pytest.raises(WarehouseError):
            check_symbol(bad)
    for good in ("SPY", "BTC-USD", "^GSPC", "BRK.B", "EURUSD=X"):
        assert check_symbol(good) == good


def _hold_lock(root, ready, release):
    wh = Warehouse(root, lock_timeout_s=5)
    with wh.writer():
        ready.set()
        release.wait(10)


def test_second_writer_waits_then_fails_clearly(tmp_path):
    ctx = mp.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    p = ctx.Process(target=_hold_lock, args=(str(tmp_path / "wh"), ready, release))
    p.start()
    try:
        assert ready.wait(30)
        wh = Warehouse(tmp_path / "wh", lock_timeout_s=0.3)
        t0 = time.monotonic()
        with pytest.raises(WarehouseError, match=r"another process \(pid \d+\) is writing"):
            with wh.writer():
                pass
        assert time.monotonic() - t0 >= 0.3
    finally:
        release.set()
        p.join(10)
    # once released, the lock is free again
    with Warehouse(tmp_path / "wh", lock_timeout_s=2).writer():
        pass


def test_second_writer_proceeds_when_the_first_finishes_in_time(tmp_path):
    ctx = mp.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    p = ctx.Process(target=_hold_lock, args=(str(tmp_path / "wh"), ready, release))
    p.start()
    assert ready.wait(30)
    wh = Warehouse(tmp_path / "wh", lock_timeout_s=20)
    release.set()
    with wh.writer():
        wh.write_bar_file("1d", "AAA", bars())
    p.join(10)
    assert wh.read_bars(["AAA"]).height == 5


def test_stale_temp_files_are_swept(warehouse):
    with warehouse.writer():
        path, _ = warehouse.write_bar_file("1d", "AAA", bars())
        (path.parent / ".data.parquet.123.tmp").write_bytes(b"torn")
        assert warehouse.sweep_temp_files() == 1
    assert warehouse.read_bars(["AAA"]).height == 5
