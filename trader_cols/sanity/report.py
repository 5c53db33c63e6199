"""The DataSanity report (bars to land, findings, repair audit, refused rows) and its summary text."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import polars as pl

from trader_cols.errors import DataSanityError
from trader_cols.logs import get_logger
from trader_cols.sanity.codes import ERROR

log = get_logger(__name__)

# The fixed order of findings: check order, then symbol, then ts (frame- and symbol-level rows, whose ts is
# null, first), then message and observed value so that even ties are ordered by content alone.
FINDING_ORDER = ("check_order", "symbol", "ts", "code", "severity", "message", "observed")


def sort_findings(findings: pl.DataFrame) -> pl.DataFrame:
    """Findings in their documented order."""
    return findings.sort(list(FINDING_ORDER), nulls_last=False)


@dataclass(frozen=True)
class SanityReport:
    """What DataSanity made of one frame of bars.

    bars: rows to land (after allowed repairs), canonical bars schema, sorted by (symbol, ts).
    findings: `schema.FINDINGS`, in the fixed documented order.
    repairs: `schema.REPAIRS` audit: one row per changed value or dropped row (landing symbols only).
    rejected: `schema.REJECTED` rows that must not land, with the codes that refused them.
    """

    bars: pl.DataFrame
    findings: pl.DataFrame
    repairs: pl.DataFrame
    rejected: pl.DataFrame
    profile: str = ""
    mode: str = ""

    def ok(self) -> bool:
        """True when no error-severity finding remains."""
        return not self.errors().height

    def errors(self) -> pl.DataFrame:
        """The error-severity findings."""
        return self.findings.filter(pl.col("severity") == ERROR)

    def with_findings(self, extra: pl.DataFrame) -> SanityReport:
        """This report with more findings (e.g. from SQL checks), re-sorted into the fixed order."""
        if not extra.height:
            return self
        findings = sort_findings(pl.concat([self.findings, extra.select(self.findings.columns)]))
        return dataclasses.replace(self, findings=findings)

    def summary(self, max_rows: int = 3) -> str:
        """Multi-line text: a count per code (errors and warnings) and the first rows of each, in check order."""
        return summarise(self.findings, max_rows=max_rows, profile=self.profile, mode=self.mode)


def _row_line(row: dict) -> str:
    ts = row["ts"]
    stamp = ts.strftime("%Y-%m-%d %H:%M:%S UTC") if ts is not None else None
    where = " ".join(v for v in (row["symbol"], stamp) if v is not None) or "(frame)"
    return f"{where}: {row['message']}"


def summarise(
    findings: pl.DataFrame, *, max_rows: int = 3, profile: str = "", mode: str = ""
) -> str:
    """The summary text of a findings frame; identical for identical findings, whatever the input order."""
    findings = sort_findings(findings)
    n_err = findings.filter(pl.col("severity") == ERROR).height
    syms = findings.filter(pl.col("severity") == ERROR)["symbol"].drop_nulls().unique()
    how = ", ".join(
        x for x in (f"profile {profile}" if profile else "", f"mode {mode}" if mode else "") if x
    )
    head = (
        f"DataSanity: {n_err} error finding(s) in {syms.len()} symbol(s), "
        f"{findings.height - n_err} warning(s)" + (f" [{how}]" if how else "")
    )
    lines = [head]
    counts = (
        findings.group_by("check_order", "code", maintain_order=True)
        .agg(
            (pl.col("severity") == ERROR).sum().alias("errors"),
            (pl.col("severity") != ERROR).sum().alias("warnings"),
            pl.col("symbol").drop_nulls().n_unique().alias("symbols"),
        )
        .sort("check_order")
    )
    for code, errors, warnings, n_syms in counts.select(
        "code", "errors", "warnings", "symbols"
    ).iter_rows():
        lines.append(f"  {code}: {errors} error(s), {warnings} warning(s) in {n_syms} symbol(s)")
        first = findings.filter(pl.col("code") == code).head(max_rows)
        lines += [f"    {_row_line(r)}" for r in first.iter_rows(named=True)]
    return "\n".join(lines)


def raise_on_errors(report: SanityReport, *, max_rows: int = 3) -> None:
    """Raise `DataSanityError` (with the findings attached) when the report has error findings.

    The message counts findings per code and shows the first `max_rows` rows of each, in the fixed order.
    """
    if report.ok():
        return
    raise DataSanityError(report.summary(max_rows), findings=report.findings)


def log_findings(findings: pl.DataFrame) -> None:
    """One log line per (symbol, code): count and the first finding (warn mode)."""
    if not findings.height:
        return
    lines = (
        sort_findings(findings)
        .group_by("check_order", "symbol", "code", maintain_order=True)
        .agg(
            pl.len().alias("n"),
            (pl.col("severity") == ERROR).any().alias("is_error"),
            pl.col("ts").first().alias("ts"),
            pl.col("message").first().alias("message"),
        )
        .sort("symbol", "check_order", nulls_last=False)
    )
    for sym, code, n, is_error, ts, msg in lines.select(
        "symbol", "code", "n", "is_error", "ts", "message"
    ).iter_rows():
        at = f" first at {ts}" if ts is not None else ""
        text = f"DataSanity {sym or '(frame)'} {code}: {n} finding(s){at}: {msg}"
        (log.warning if is_error else log.info)(text)
