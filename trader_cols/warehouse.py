"""The embedded warehouse: bar Parquet files with atomic writes, the DuckDB catalog, migrations and the writer lock.

Layout of a warehouse folder:
    bars/interval=<interval>/symbol=<symbol>/data.parquet   one file per (interval, symbol), replaced atomically
    tcols.duckdb                                            catalog: ingest log, bar file index, findings, results
    .writer.lock                                            flock held by the one process writing
The catalog is updated after the data, so a crash between the two leaves old, readable data and a stale index
that the next write repairs. This is the only module that imports duckdb.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl

from trader_cols import schema
from trader_cols.errors import WarehouseError
from trader_cols.logs import get_logger
from trader_cols.sqlfiles import list_sql, load_sql

log = get_logger(__name__)

DB_NAME = "tcols.duckdb"
LOCK_NAME = ".writer.lock"
SYMBOL_RE = re.compile(r"^[A-Za-z0-9^][A-Za-z0-9.^=_\-]{0,31}$")
_LOCK_CONFLICT = ("Could not set lock", "Conflicting lock")
# Views over the results tables, in dependency order (each file of sql/views/ is one CREATE TEMP VIEW).
RESULT_VIEWS = ("run_summary", "latest_run", "fold_report", "attribution_by_symbol", "attribution_by_strategy",
                "attribution_by_regime")


def check_symbol(symbol: str) -> str:
    """A symbol safe to use as a file name and in SQL: letters, digits and . ^ = _ -; at most 32 characters."""
    if not isinstance(symbol, str) or not SYMBOL_RE.match(symbol):
        raise WarehouseError(f"symbol {symbol!r} is not valid: use letters, digits and . ^ = _ - (at most 32)")
    return symbol


def query_frames(dotted: str, params: dict | None = None, **frames: pl.DataFrame) -> pl.DataFrame:
    """Run one SQL file on an in-memory DuckDB over the given frames (registered under their keyword names)."""
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")
        for name, frame in frames.items():
            con.register(name, frame)
        return con.sql(load_sql(dotted), params=params or None).pl()
    finally:
        con.close()


def migration_versions() -> list[tuple[int, str]]:
    """(version, dotted name) of every migration shipped in sql/schema/, in order."""
    out = []
    for dotted in list_sql("schema"):
        stem = dotted.split(".", 1)[1]
        num, _, _ = stem.partition("_")
        if num.isdigit():
            out.append((int(num), dotted))
    return sorted(out)


class Warehouse:
    """One warehouse folder. Cheap to construct; connections are opened per operation and closed promptly,
    because DuckDB lets only one process hold a read-write connection to the catalog at a time."""

    def __init__(self, root: str | Path, lock_timeout_s: float = 30.0):
        self.root = Path(root).expanduser().resolve()
        self.lock_timeout_s = lock_timeout_s
        self.db_path = self.root / DB_NAME
        self.bars_dir = self.root / "bars"
        self._lock_depth = 0
        self._lock_fd: int | None = None
        self._schema_ok = False  # checked once per instance: the catalog is at this code's schema version

    @classmethod
    def from_config(cls, cfg) -> Warehouse:
        """From a `WarehouseConfig` (path, lock_timeout_s)."""
        return cls(cfg.path, cfg.lock_timeout_s)

    def __repr__(self) -> str:
        return f"Warehouse({str(self.root)!r})"

    # ------------------------------------------------------------------------- the writer lock

    @contextmanager
    def writer(self) -> Iterator[Warehouse]:
        """Hold the exclusive writer lock (re-entrant in this process); wait at most `lock_timeout_s` for it."""
        if self._lock_depth:
            self._lock_depth += 1
            try:
                yield self
            finally:
                self._lock_depth -= 1
            return
        self._ensure_root()
        fd = os.open(self.root / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.lock_timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
                    os.close(fd)
                    raise WarehouseError(
                        f"another process (pid {holder}) is writing; waited {self.lock_timeout_s:g} s "
                        "(raise warehouse.lock_timeout_s or retry later)",
                        path=str(self.root),
                    ) from None
                time.sleep(0.05)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._lock_fd, self._lock_depth = fd, 1
        try:
            yield self
        finally:
            self._lock_depth = 0
            self._lock_fd = None
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _ensure_root(self) -> None:
        try:
            self.bars_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WarehouseError(f"cannot create the folder: {exc}", path=str(self.root)) from exc

    # ------------------------------------------------------------------------- connections

    @contextmanager
    def connect(self, *, write: bool = False, views: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
        """A DuckDB connection to the catalog with the `bars` view (unless `views=False`); read-only unless `write`.

        A missing or outdated catalog is created or migrated first (under the writer lock). A newer one is an error.
        """
        if write and not self._lock_depth:
            raise WarehouseError("write connections need the writer lock (use `with wh.writer():`)", path=str(self.root))
        if not self._schema_ok:
            if not self.db_path.exists() or self._needs_migration():
                with self.writer():
                    con = self._open(read_only=False)
                    try:
                        self._migrate(con)
                    finally:
                        con.close()
            self._schema_ok = True
        con = self._open(read_only=not write)
        try:
            con.execute("SET TimeZone = 'UTC'")
            if views:
                self._make_views(con)
            yield con
        finally:
            con.close()

    def _open(self, *, read_only: bool) -> duckdb.DuckDBPyConnection:
        deadline = time.monotonic() + self.lock_timeout_s
        while True:
            try:
                return duckdb.connect(str(self.db_path), read_only=read_only)
            except duckdb.IOException as exc:
                if not any(s in str(exc) for s in _LOCK_CONFLICT) or time.monotonic() >= deadline:
                    raise WarehouseError(f"cannot open the catalog {self.db_path.name}: {exc}", path=str(self.root)) from exc
                time.sleep(0.05)
            except duckdb.Error as exc:
                raise WarehouseError(f"cannot open the catalog {self.db_path.name}: {exc}", path=str(self.root)) from exc

    def _needs_migration(self) -> bool:
        known = migration_versions()
        con = self._open(read_only=True)
        try:
            have = con.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
            ).fetchone()[0]
            current = con.execute("SELECT coalesce(max(version), -1) FROM schema_version").fetchone()[0] if have else -1
        finally:
            con.close()
        latest = known[-1][0]
        if current > latest:
            raise WarehouseError(
                f"the catalog is at schema version {current}, newer than this trader_cols knows ({latest}): "
                "upgrade trader_cols",
                path=str(self.root),
            )
        return current < latest

    def _migrate(self, con: duckdb.DuckDBPyConnection) -> None:
        """Apply every shipped migration newer than the catalog's version, each in its own transaction."""
        con.execute(load_sql("schema.000_schema_version"))
        current = con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]
        latest = migration_versions()[-1][0]
        if current > latest:
            raise WarehouseError(
                f"the catalog is at schema version {current}, newer than this trader_cols knows ({latest}): "
                "upgrade trader_cols",
                path=str(self.root),
            )
        applied = []
        for version, dotted in migration_versions():
            if version <= current or version == 0:
                continue
            applied.append(version)
            con.execute("BEGIN TRANSACTION")
            try:
                con.execute(load_sql(dotted))
                con.execute(
                    "INSERT INTO schema_version VALUES ($v, $n, now())", {"v": version, "n": dotted.split(".", 1)[1]}
                )
                con.execute("COMMIT")
            except duckdb.Error as exc:
                con.execute("ROLLBACK")
                raise WarehouseError(f"migration {dotted} failed: {exc}", path=str(self.root)) from exc
        if applied:
            log.info("warehouse %s: schema migrated from version %d to %d", self.root, current, applied[-1])

    def _make_views(self, con: duckdb.DuckDBPyConnection) -> None:
        """Temporary views: `bars` over the Parquet files, then every other file of sql/views/ (in name order,
        dependencies first as listed in RESULT_VIEWS)."""
        files = [str(p) for p in self.bar_files()]
        if files:
            con.execute("SET VARIABLE bars_files = $files", {"files": files})
            con.execute(load_sql("views.bars"))
        else:
            con.execute(load_sql("views.bars_empty"))
        for name in RESULT_VIEWS:
            con.execute(load_sql(f"views.{name}"))

    # ------------------------------------------------------------------------- SQL

    def query(self, sql: str, params: Mapping | None = None, *, write: bool = False) -> pl.DataFrame:
        """Run SQL text against the catalog (read-only unless `write`) and return a Polars frame."""
        if write:
            with self.writer(), self.connect(write=True) as con:
                return _result_frame(con, sql, params)
        with self.connect() as con:
            return _result_frame(con, sql, params)

    def query_file(self, dotted: str, params: Mapping | None = None) -> pl.DataFrame:
        """Run one SQL file from `sql/` read-only."""
        return self.query(load_sql(dotted), params)

    @staticmethod
    def insert(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
        """Insert a frame into a catalog table by column name (inside the caller's transaction)."""
        if frame.height == 0:
            return
        con.register("_tcols_insert", frame)
        try:
            con.execute(f'INSERT INTO "{table}" BY NAME SELECT * FROM _tcols_insert')
        finally:
            con.unregister("_tcols_insert")

    # ------------------------------------------------------------------------- bars

    def bar_file(self, interval: str, symbol: str) -> Path:
        """Where the bars of one (interval, symbol) live."""
        check_symbol(symbol)
        if interval not in schema.INTERVALS:
            raise WarehouseError(f"interval {interval!r} is not one of {', '.join(schema.INTERVALS)}")
        return self.bars_dir / f"interval={interval}" / f"symbol={symbol}" / "data.parquet"

    def bar_files(self, interval: str | None = None, symbols: Sequence[str] | None = None) -> list[Path]:
        """The bar files that exist, in (interval, symbol) order — the symbol order Polars sorts strings in;
        optionally one interval and some symbols."""
        if symbols is not None:
            intervals = [interval] if interval else sorted(p.name.split("=", 1)[1] for p in self.bars_dir.glob("interval=*"))
            paths = [self.bar_file(i, s) for i in intervals for s in sorted(set(symbols))]
            return [p for p in paths if p.exists()]
        pattern = f"interval={interval}/symbol=*/data.parquet" if interval else "interval=*/symbol=*/data.parquet"
        return sorted(self.bars_dir.glob(pattern), key=lambda p: (p.parent.parent.name, p.parent.name.split("=", 1)[1]))

    def scan_bars(
        self,
        symbols: Sequence[str] | None = None,
        interval: str = "1d",
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> pl.LazyFrame:
        """A lazy scan of stored bars (canonical schema), sorted by (symbol, ts); `end` inclusive.

        Files are read in symbol order and each is stored sorted by ts, so no sort is needed (sorting 2.6 M rows
        by (String, Datetime) would cost seconds and a gigabyte)."""
        files = self.bar_files(interval, symbols)
        if not files:
            return schema.empty(schema.BARS).lazy()
        lf = pl.scan_parquet([str(p) for p in files], hive_partitioning=False)
        if start is not None:
            lf = lf.filter(pl.col("ts") >= _utc(start))
        if end is not None:
            lf = lf.filter(pl.col("ts") <= _utc(end))
        return lf

    def read_bars(self, symbols: Sequence[str] | None = None, interval: str = "1d", start=None, end=None) -> pl.DataFrame:
        """Stored bars, collected."""
        return self.scan_bars(symbols, interval, start, end).collect()

    def write_bar_file(self, interval: str, symbol: str, bars: pl.DataFrame) -> tuple[Path, str]:
        """Replace one symbol's bar file atomically; returns (path, sha256). See `write_bar_files`."""
        return self.write_bar_files(interval, {symbol: bars})[symbol]

    def write_bar_files(self, interval: str, frames: Mapping[str, pl.DataFrame]) -> dict[str, tuple[Path, str]]:
        """Replace several symbols' bar files, each atomically: write temp files, flush them to disk, then rename
        each over its old file and flush the renames. Returns symbol → (path, sha256 of the file).

        Needs the writer lock. A crash or kill at any moment leaves every file either old or new, never torn;
        once this returns, the new files survive a power loss too.
        """
        if not self._lock_depth:
            raise WarehouseError("writing bars needs the writer lock", path=str(self.root))
        staged: dict[str, tuple[Path, Path]] = {}
        out: dict[str, tuple[Path, str]] = {}
        try:
            for symbol, bars in frames.items():
                path = self.bar_file(interval, symbol)
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
                staged[symbol] = (tmp, path)
                schema.conform(bars, schema.BAR_FILE).write_parquet(tmp, compression="zstd", statistics=True)
            os.sync()  # NOTE: one flush for the whole batch: temp files are on disk before any rename
            for symbol, (tmp, path) in staged.items():
                out[symbol] = (path, self.file_digest(tmp))
                os.replace(tmp, path)
            os.sync()  # the renames themselves
        except OSError as exc:
            for tmp, _ in staged.values():
                tmp.unlink(missing_ok=True)
            raise WarehouseError(f"cannot write bar files: {exc}", path=str(self.root)) from exc
        return out

    @staticmethod
    def file_digest(path: Path) -> str:
        """sha256 of a file's bytes: the content hash the catalog records for a bar file."""
        with open(path, "rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()

    def sweep_temp_files(self) -> int:
        """Remove temp files left by a writer that died mid-write (only call while holding the writer lock)."""
        n = 0
        for p in self.bars_dir.glob("interval=*/symbol=*/.*.tmp"):
            p.unlink(missing_ok=True)
            n += 1
        return n


def _result_frame(con: duckdb.DuckDBPyConnection, sql: str, params: Mapping | None) -> pl.DataFrame:
    try:
        rel = con.sql(sql, params=dict(params) if params else None)
        return pl.DataFrame() if rel is None else rel.pl()
    except duckdb.Error as exc:
        raise WarehouseError(f"SQL failed: {str(exc).splitlines()[0]}") from exc


def _utc(value) -> datetime:
    """A datetime (or ISO string/date) as an aware UTC datetime; naive values are taken as UTC."""
    dt = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return dt.astimezone(UTC) if dt.tzinfo else dt.replace(tzinfo=UTC)
