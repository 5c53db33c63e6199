"""The ingest use case: fetch bars from a source, validate them, merge them into the warehouse, log what changed."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import polars as pl

from trader_cols import schema
from trader_cols.calendars import classify_symbol
from trader_cols.errors import (
    DataSanityError,
    DataSourceError,
    PartialFailure,
    TraderColsError,
    WarehouseError,
)
from trader_cols.logs import get_logger, progress
from trader_cols.sanity import SanityReport, validate
from trader_cols.sources.base import Fetched
from trader_cols.warehouse import Warehouse, check_symbol

log = get_logger(__name__)

SOURCES = ("synthetic", "yfinance", "csv", "parquet")
SUMMARY_SCHEMA = {
    "symbol": pl.String(), "status": pl.String(), "rows_in": pl.Int64(), "rows_new": pl.Int64(),
    "rows_replaced": pl.Int64(), "rows_unchanged": pl.Int64(), "first_ts": schema.UTC_TS,
    "last_ts": schema.UTC_TS, "message": pl.String(),
}


@dataclass(frozen=True)
class IngestRequest:
    """What to ingest. `end` is inclusive. `path`/`tz` are for csv/parquet; `seed` for synthetic."""

    symbols: tuple[str, ...]
    start: date
    end: date
    interval: str = "1d"
    source: str = "synthetic"
    path: str | None = None
    tz: str | None = None
    auto_adjust: bool = True
    refresh: bool = False
    seed: int = 42


@dataclass
class IngestResult:
    """What an ingest did: one summary row per symbol, the failures by symbol, and the DataSanity findings."""

    ingest_id: str
    summary: pl.DataFrame
    failures: dict[str, TraderColsError] = field(default_factory=dict)
    findings: pl.DataFrame = field(default_factory=pl.DataFrame)

    def raise_for_failures(self) -> None:
        """Raise `PartialFailure` when any symbol failed (the others have landed)."""
        if self.failures:
            names = ", ".join(sorted(self.failures))
            raise PartialFailure(
                f"{len(self.failures)} of {self.summary.height} symbols failed: {names}",
                failures=self.failures,
                result=self,
            )


Fetcher = Callable[[IngestRequest, Sequence[str], date, date], Fetched]


def new_ingest_id(now: datetime) -> str:
    """`ing-20240102T030405-1a2b3c`: sortable by time, unique across processes."""
    return f"ing-{now.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"


def missing_ranges(
    stored: Mapping[str, tuple[date, date]],
    symbols: Sequence[str],
    start: date,
    end: date,
    every_day: Sequence[str] = (),
) -> dict[tuple[date, date], list[str]]:
    """Group symbols by the date ranges of [start, end] not already stored (a stored range is contiguous).

    For symbols not in `every_day` (exchange-traded ones) a range without a weekday is skipped: asking a
    vendor for a weekend returns nothing, which would read as a failure."""
    out: dict[tuple[date, date], list[str]] = {}
    for sym in symbols:
        have = stored.get(sym)
        if have is None:
            pieces = [(start, end)]
        else:
            first, last = have
            pieces = []
            if start < first:
                pieces.append((start, min(end, first - timedelta(days=1))))
            if end > last:
                pieces.append((max(start, last + timedelta(days=1)), end))
        for lo, hi in pieces:
            if lo <= hi and (sym in every_day or _has_weekday(lo, hi)):
                out.setdefault((lo, hi), []).append(sym)
    return out


def _has_weekday(lo: date, hi: date) -> bool:
    return (hi - lo).days >= 2 or any((lo + timedelta(days=k)).weekday() < 5 for k in range((hi - lo).days + 1))


def ingest(
    wh: Warehouse,
    request: IngestRequest,
    *,
    sanity_cfg,
    data_cfg,
    asset_classes: Mapping[str, str] | None = None,
    now: datetime | None = None,
    fetchers: Mapping[str, Fetcher] | None = None,
    batch_size: int = 50,
) -> IngestResult:
    """Fetch → validate → merge into the warehouse. One symbol failing never stops the others.

    `sanity_cfg` is a `DataSanityConfig`, `data_cfg` a `DataConfig`. `fetchers` overrides the source functions
    (tests); `now` is the as-of time for validation and the log (defaults to the clock). Symbols are fetched,
    validated and stored `batch_size` at a time.
    """
    now = now or datetime.now(UTC)
    ingest_id = new_ingest_id(now)
    if request.source not in SOURCES:
        raise DataSourceError(f"unknown source {request.source!r}; expected one of {', '.join(SOURCES)}")
    symbols = tuple(dict.fromkeys(request.symbols))
    failures: dict[str, TraderColsError] = {}
    good: list[str] = []
    for sym in symbols:
        try:
            good.append(check_symbol(sym))
        except WarehouseError as exc:
            failures[sym] = DataSourceError(str(exc), symbol=sym)
    fetch = (fetchers or {}).get(request.source) or _default_fetcher(
        request.source, data_cfg, asset_classes, cache_dir=wh.root / "cache" / request.source
    )

    # Symbols go through in batches: memory stays bounded by the batch, and each batch's catalog rows commit
    # with it, so an interrupted ingest leaves every finished batch fully recorded.
    summaries, findings = [], []
    if not good:
        summaries.append(_summary(symbols, pl.DataFrame(schema=SUMMARY_SCHEMA), failures, {}))
    batches = [good[i:i + batch_size] for i in range(0, len(good), batch_size)]
    for batch in progress(batches, label=f"ingesting {len(good)} symbols", total=len(batches)):
        fetched = _fetch(wh, request, batch, fetch, asset_classes)
        batch_failures: dict[str, TraderColsError] = dict(fetched.failures)
        asked = set(batch) - set(fetched.failures)
        delivered = set(fetched.bars["symbol"].unique().to_list())
        for sym in sorted(asked - delivered):
            if request.source == "yfinance" and not request.refresh and _is_stored(wh, request, sym):
                continue  # the whole range is stored already: nothing was fetched, nothing failed
            batch_failures[sym] = DataSourceError(
                "no bars returned for the requested range", source=request.source, symbol=sym
            )
        report = validate(fetched.bars, sanity_cfg, as_of=now, asset_classes=asset_classes, interval=request.interval)
        for sym in sorted(set(report.rejected["symbol"].unique().to_list())):
            codes = (
                report.findings.filter((pl.col("symbol") == sym) & (pl.col("severity") == "error"))["code"]
                .unique().sort().to_list()
            )
            batch_failures[sym] = DataSanityError(
                f"symbol {sym}: refused by DataSanity ({', '.join(codes)}); rows quarantined, stored data untouched",
                symbol=sym,
            )
        failures.update(batch_failures)
        first = batch is batches[0]
        reported = ([s for s in symbols if s not in good] if first else []) + list(batch)
        summaries.append(_store(wh, request, ingest_id, now, report, failures, reported))
        findings.append(report.findings)
    summary = pl.concat(summaries)
    n_new, n_rep = int(summary["rows_new"].sum()), int(summary["rows_replaced"].sum())
    log.info(
        "ingest %s: %d symbols, %d new rows, %d replaced, %d series rewritten, %d failed",
        ingest_id, len(symbols), n_new, n_rep, int((summary["status"] == "stored").sum()), len(failures),
    )
    return IngestResult(
        ingest_id=ingest_id, summary=summary, failures=failures,
        findings=pl.concat(findings) if findings else pl.DataFrame(),
    )


def _is_stored(wh: Warehouse, request: IngestRequest, symbol: str) -> bool:
    return wh.bar_file(request.interval, symbol).exists()


def _stored_ranges(wh: Warehouse, interval: str, symbols: Sequence[str]) -> dict[str, tuple[date, date]]:
    files = wh.bar_files(interval, symbols)
    if not files:
        return {}
    ranges = (
        pl.scan_parquet([str(p) for p in files], hive_partitioning=False)
        .group_by("symbol")
        .agg(pl.col("ts").min().dt.date().alias("first"), pl.col("ts").max().dt.date().alias("last"))
        .collect()
    )
    return {r["symbol"]: (r["first"], r["last"]) for r in ranges.iter_rows(named=True)}


def _fetch(wh: Warehouse, request: IngestRequest, symbols: Sequence[str], fetch: Fetcher, asset_classes=None) -> Fetched:
    if not symbols:
        return Fetched.of([])
    if request.source == "yfinance" and not request.refresh:
        crypto = [s for s in symbols if classify_symbol(s, asset_classes) == "crypto"]
        plan = missing_ranges(_stored_ranges(wh, request.interval, symbols), symbols, request.start, request.end,
                              every_day=crypto)
    else:
        plan = {(request.start, request.end): list(symbols)}
    frames, failures = [], {}
    for (start, end), syms in plan.items():
        got = fetch(request, syms, start, end)
        frames.append(got.bars)
        failures.update(got.failures)
    return Fetched.of(frames, failures)


def _default_fetcher(source: str, data_cfg, asset_classes, cache_dir=None) -> Fetcher:
    if source == "synthetic":
        from trader_cols.sources.synthetic import fetch_synthetic

        return lambda req, syms, s, e: fetch_synthetic(
            syms, s, e, interval=req.interval, seed=req.seed, asset_classes=asset_classes
        )
    if source == "yfinance":
        from trader_cols.sources.yfinance import fetch_yfinance

        return lambda req, syms, s, e: fetch_yfinance(
            syms, s, e, req.interval, auto_adjust=req.auto_adjust, cfg=data_cfg.yfinance, cache_dir=cache_dir
        )
    from trader_cols.sources.files import fetch_files

    def files(req: IngestRequest, syms, s, e) -> Fetched:
        if not req.path:
            raise DataSourceError("--path is required for the csv and parquet sources", source=req.source)
        zone = req.tz or data_cfg.source_tz.get(req.source)
        return fetch_files(req.path, syms, s, e, fmt=req.source, interval=req.interval, tz=zone)

    return files


def _store(
    wh: Warehouse,
    request: IngestRequest,
    ingest_id: str,
    now: datetime,
    report: SanityReport,
    failures: Mapping[str, TraderColsError],
    symbols: Sequence[str],
) -> pl.DataFrame:
    """Merge one batch of validated bars into storage (files first, catalog after) and write its catalog rows.

    A symbol whose file on disk no longer matches its catalog row (a writer died between the two) is
    re-registered, so the catalog heals on the next ingest that touches it."""
    incoming = report.bars.filter(~pl.col("symbol").is_in(list(failures))).with_columns(
        pl.lit(request.interval).alias("interval"),
        pl.lit(request.source).alias("source"),
        pl.lit(ingest_id).alias("ingest_id"),
    )
    with wh.writer():
        wh.sweep_temp_files()
        merged, counts = _merge(wh, request.interval, schema.conform(incoming, schema.BARS))
        changed = counts.filter((pl.col("rows_new") + pl.col("rows_replaced")) > 0)["symbol"].to_list()
        parts = merged.filter(pl.col("symbol").is_in(changed)).partition_by("symbol", as_dict=True, maintain_order=True)
        done = wh.write_bar_files(request.interval, {sym: frame for (sym,), frame in parts.items()})
        written = {sym: digest for sym, (_, digest) in done.items()}
        summary = _summary(symbols, counts, failures, written)
        unchanged = [s for s in counts["symbol"].to_list() if s not in written]
        _write_catalog(wh, request, ingest_id, now, merged, written, unchanged, summary, report)
    return summary


def _stale_catalog_rows(con, wh: Warehouse, interval: str, symbols: Sequence[str]) -> dict[str, str]:
    """Symbols whose bar file differs from what the catalog recorded (or is missing from it): symbol → digest."""
    files = {s: wh.bar_file(interval, s) for s in symbols}
    files = {s: p for s, p in files.items() if p.exists()}
    if not files:
        return {}
    known = con.execute(
        "SELECT symbol, content_hash FROM bar_files WHERE interval = $i AND list_contains($s, symbol) ORDER BY symbol",
        {"i": interval, "s": list(files)},
    ).fetchall()
    recorded = dict(known)
    out = {}
    for sym, path in files.items():
        digest = wh.file_digest(path)
        if recorded.get(sym) != digest:
            out[sym] = digest
    return out


def _merge(wh: Warehouse, interval: str, incoming: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Full outer join of incoming and stored bars on (symbol, ts), all symbols at once.

    Returns the merged bars of the incoming symbols and per-symbol counts of new, replaced and unchanged rows.
    Unchanged rows keep their original provenance (source, ingest_id); changed history replaces stored rows.
    """
    symbols = incoming["symbol"].unique().to_list()
    stored = wh.scan_bars(symbols, interval).collect() if symbols else schema.empty(schema.BARS)
    vals = list(schema.VALUE_COLUMNS)
    j = incoming.join(stored, on=["symbol", "ts"], how="full", coalesce=True, suffix="_old")
    same = pl.all_horizontal([pl.col(c).eq_missing(pl.col(f"{c}_old")) for c in vals])
    j = j.with_columns(
        pl.when(pl.col("open_old").is_null() & pl.col("close_old").is_null() & pl.col("ingest_id_old").is_null())
        .then(pl.lit("new"))
        .when(pl.col("ingest_id").is_null())
        .then(pl.lit("kept"))
        .when(same)
        .then(pl.lit("unchanged"))
        .otherwise(pl.lit("replaced"))
        .alias("_row")
    )
    take_old = pl.col("_row").is_in(["kept", "unchanged"])
    merged = j.select(
        "symbol",
        pl.lit(interval).alias("interval"),
        "ts",
        *[pl.when(take_old).then(pl.col(f"{c}_old")).otherwise(pl.col(c)).alias(c) for c in vals],
        *[pl.when(take_old).then(pl.col(f"{c}_old")).otherwise(pl.col(c)).alias(c) for c in ("source", "ingest_id")],
        "_row",
    ).sort("symbol", "ts")
    counts = merged.group_by("symbol").agg(
        (pl.col("_row") != "kept").sum().cast(pl.Int64).alias("rows_in"),
        (pl.col("_row") == "new").sum().cast(pl.Int64).alias("rows_new"),
        (pl.col("_row") == "replaced").sum().cast(pl.Int64).alias("rows_replaced"),
        (pl.col("_row") == "unchanged").sum().cast(pl.Int64).alias("rows_unchanged"),
        pl.col("ts").min().alias("first_ts"),
        pl.col("ts").max().alias("last_ts"),
    )
    return merged.drop("_row"), counts


def _summary(symbols, counts: pl.DataFrame, failures: Mapping[str, TraderColsError], written: Mapping[str, str]):
    rows = []
    by_sym = {r["symbol"]: r for r in counts.iter_rows(named=True)}
    for sym in symbols:
        if sym in failures:
            status = "rejected" if isinstance(failures[sym], DataSanityError) else "failed"
            rows.append({"symbol": sym, "status": status, "message": str(failures[sym]),
                         "rows_in": 0, "rows_new": 0, "rows_replaced": 0, "rows_unchanged": 0})
            continue
        r = dict(by_sym.get(sym) or {"rows_in": 0, "rows_new": 0, "rows_replaced": 0, "rows_unchanged": 0})
        r.update(symbol=sym, status="stored" if sym in written else "unchanged", message=None)
        rows.append(r)
    return pl.DataFrame(rows, schema=SUMMARY_SCHEMA) if rows else schema.empty(SUMMARY_SCHEMA)


def _write_catalog(
    wh, request, ingest_id, now, merged: pl.DataFrame, written, unchanged, summary, report: SanityReport
) -> None:
    started = now
    finished = datetime.now(UTC)
    log_rows = summary.select(
        pl.lit(ingest_id).alias("ingest_id"),
        pl.lit(started).cast(schema.UTC_TS).alias("started_at"),
        pl.lit(finished).cast(schema.UTC_TS).alias("finished_at"),
        pl.lit(request.source).alias("source"),
        pl.lit(request.interval).alias("interval"),
        "symbol", "status", "rows_in", "rows_new", "rows_replaced", "rows_unchanged", "first_ts", "last_ts", "message",
    )
    files = _file_rows(wh, request, ingest_id, finished, merged, written)
    extras = _sanity_rows(report, ingest_id, request.interval, finished)
    with wh.connect(write=True, views=False) as con:
        healed = _stale_catalog_rows(con, wh, request.interval, unchanged)
        if healed:
            files = _file_rows(wh, request, ingest_id, finished, merged, {**written, **healed})
        con.execute("BEGIN TRANSACTION")
        try:
            _apply_catalog(con, request, files, log_rows, extras)
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise


def _file_rows(wh, request, ingest_id, finished, merged: pl.DataFrame, written: Mapping[str, str]) -> pl.DataFrame:
    return (
        merged.filter(pl.col("symbol").is_in(list(written)))
        .group_by("symbol")
        .agg(pl.len().cast(pl.Int64).alias("rows"), pl.col("ts").min().alias("first_ts"), pl.col("ts").max().alias("last_ts"))
        .with_columns(
            pl.lit(request.interval).alias("interval"),
            pl.col("symbol").map_elements(
                lambda s: str(wh.bar_file(request.interval, s).relative_to(wh.root)), return_dtype=pl.String
            ).alias("path"),
            pl.col("symbol").replace_strict(dict(written), return_dtype=pl.String).alias("content_hash"),
            pl.lit(ingest_id).alias("ingest_id"),
            pl.lit(finished).cast(schema.UTC_TS).alias("updated_at"),
        )
    )


def _apply_catalog(con, request, files: pl.DataFrame, log_rows: pl.DataFrame, extras: Mapping[str, pl.DataFrame]):
    """The catalog rows of one batch, inside the caller's transaction: bar_files upserted with version + 1."""
    if files.height:
        con.register("_files", files)
        con.execute(
            "CREATE TEMP TABLE _prev AS SELECT interval, symbol, version FROM bar_files "
            "WHERE interval = $i AND symbol IN (SELECT symbol FROM _files)",
            {"i": request.interval},
        )
        con.execute(
            "DELETE FROM bar_files WHERE interval = $i AND symbol IN (SELECT symbol FROM _files)",
            {"i": request.interval},
        )
        con.execute(
            "INSERT INTO bar_files BY NAME SELECT f.*, coalesce(p.version, 0) + 1 AS version "
            "FROM _files f LEFT JOIN _prev p USING (interval, symbol)"
        )
        con.execute("DROP TABLE _prev")
        con.unregister("_files")
    Warehouse.insert(con, "ingest_log", log_rows)
    for table, frame in extras.items():
        Warehouse.insert(con, table, frame)


def _sanity_rows(report: SanityReport, run_id: str, interval: str, at: datetime) -> dict[str, pl.DataFrame]:
    stamp = [pl.lit(run_id).alias("run_id"), pl.lit(interval).alias("interval"), pl.lit(at).cast(schema.UTC_TS).alias("created_at")]
    out = {}
    if report.findings.height:
        out["sanity_findings"] = report.findings.with_columns(*stamp, pl.lit("ingest").alias("context"))
    if report.repairs.height:
        out["sanity_repairs"] = report.repairs.with_columns(*stamp)
    if report.rejected.height:
        out["quarantine"] = report.rejected.with_columns(*stamp)
    return out
