"""The validate use case: re-check stored bars with DataSanity and the warehouse SQL checks, store the findings."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import polars as pl

from trader_cols import schema
from trader_cols.logs import get_logger
from trader_cols.sanity import CHECKS, SanityReport, findings_from_rows, validate
from trader_cols.sanity.codes import ERROR
from trader_cols.warehouse import Warehouse, check_symbol

log = get_logger(__name__)


@dataclass(frozen=True)
class ValidateRequest:
    """What to re-validate: some symbols (empty: every stored one) of one interval; profile/mode override
    the config's `data_sanity`."""

    symbols: tuple[str, ...] = ()
    interval: str = "1d"
    profile: str | None = None
    mode: str | None = None


@dataclass(frozen=True)
class ValidateResult:
    """A validate run: its id, the DataSanity report, what was read and which asked symbols are not stored."""

    run_id: str
    report: SanityReport
    symbols: tuple[str, ...]
    rows: int
    missing: tuple[str, ...]

    def ok(self) -> bool:
        """No error finding and no asked symbol missing."""
        return self.report.ok() and not self.missing

    def counts(self) -> pl.DataFrame:
        """Findings per code (check order): errors, warnings and symbols."""
        f = self.report.findings
        return (
            f.group_by("check_order", "code")
            .agg(
                (pl.col("severity") == ERROR).sum().alias("errors"),
                (pl.col("severity") != ERROR).sum().alias("warnings"),
                pl.col("symbol").drop_nulls().n_unique().alias("symbols"),
            )
            .sort("check_order")
            .drop("check_order")
        )

    def worst_symbols(self, n: int = 10) -> pl.DataFrame:
        """The `n` symbols with the most error findings (then warnings, then name) and their codes."""
        f = self.report.findings.filter(pl.col("symbol").is_not_null())
        return (
            f.group_by("symbol")
            .agg(
                (pl.col("severity") == ERROR).sum().alias("errors"),
                (pl.col("severity") != ERROR).sum().alias("warnings"),
                pl.col("code").unique().sort().str.join(",").alias("codes"),
            )
            .sort(["errors", "warnings", "symbol"], descending=[True, True, False])
            .head(n)
        )


def new_run_id(now: datetime) -> str:
    """`val-20240102T030405-1a2b3c`: sortable by time, unique across processes."""
    return f"val-{now.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"


def read_stored(wh: Warehouse, interval: str, symbols: tuple[str, ...]) -> pl.DataFrame:
    """Stored bars in file order (symbol by symbol, each file's rows as stored), not re-sorted, so that
    DataSanity can see rows stored out of time order."""
    files = wh.bar_files(interval, list(symbols) if symbols else None)
    if not files:
        return schema.empty(schema.BARS)
    return pl.scan_parquet([str(p) for p in files], hive_partitioning=False).collect()


def validate_stored(
    wh: Warehouse,
    request: ValidateRequest,
    *,
    sanity_cfg,
    asset_classes: Mapping[str, str] | None = None,
    now: datetime | None = None,
    store: bool = True,
) -> ValidateResult:
    """Re-validate stored bars (as of `now`) and store the findings in `sanity_findings` (context validate).

    Stored data is never changed: the report's repairs say what ingest would repair, its rejected rows what
    enforce mode would refuse. `sanity_cfg` is a `DataSanityConfig`.
    """
    now = (now or datetime.now(UTC)).astimezone(UTC)
    run_id = new_run_id(now)
    asked = tuple(dict.fromkeys(check_symbol(s) for s in request.symbols))
    bars = read_stored(wh, request.interval, asked)
    stored = tuple(bars["symbol"].unique(maintain_order=True).to_list())
    missing = tuple(s for s in asked if s not in set(stored))
    report = validate(
        bars,
        sanity_cfg,
        as_of=now,
        asset_classes=asset_classes,
        mode=request.mode,
        profile=request.profile,
        interval=request.interval,
        ordered_input=True,
    )
    if bars.height:
        report = report.with_findings(_sql_findings(wh, request.interval, stored))
    if store and report.findings.height:
        _store(wh, run_id, request.interval, now, report.findings)
    log.info(
        "validate %s: %d symbols, %d bars, %d findings (%d errors)",
        run_id,
        len(stored),
        bars.height,
        report.findings.height,
        report.errors().height,
    )
    return ValidateResult(run_id, report, stored, bars.height, missing)


def _sql_findings(wh: Warehouse, interval: str, symbols: tuple[str, ...]) -> pl.DataFrame:
    """Run every SQL-implemented check over the warehouse, keep the validated symbols' rows."""
    parts = []
    for check in CHECKS:
        if check.sql:
            rows = wh.query_file(check.sql, {"interval": interval})
            if rows.height:
                rows = rows.filter(pl.col("symbol").is_in(list(symbols)))
                parts.append(findings_from_rows(check.code, rows))
    return pl.concat(parts) if parts else schema.empty(schema.FINDINGS)


def _store(
    wh: Warehouse, run_id: str, interval: str, now: datetime, findings: pl.DataFrame
) -> None:
    rows = findings.with_columns(
        pl.lit(run_id).alias("run_id"),
        pl.lit("validate").alias("context"),
        pl.lit(interval).alias("interval"),
        pl.lit(now).cast(schema.UTC_TS).alias("created_at"),
    )
    with wh.writer(), wh.connect(write=True) as con:
        con.execute("BEGIN TRANSACTION")
        try:
            Warehouse.insert(con, "sanity_findings", rows)
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
