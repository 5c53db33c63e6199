"""Frame-level DataSanity checks (columns, dtypes, UTC, one interval, empty) and arrival-order monotonicity."""

from __future__ import annotations

import polars as pl

from trader_cols.sanity.checks import finding, fmt, ts_text
from trader_cols.schema import BARS, FINDINGS, REJECTED, UTC_TS, empty

REQUIRED = ("symbol", "ts", "open", "high", "low", "close", "volume")
NUMERIC = ("open", "high", "low", "close", "adj_close", "volume")
TEXT = ("symbol", "interval", "source", "ingest_id")


def _frame_row(code: str, message: str) -> pl.DataFrame:
    none = {"symbol": pl.lit(None, dtype=pl.String), "ts": pl.lit(None, dtype=UTC_TS)}
    return pl.select(finding(code, pl.lit(message), **none))


def _dtype_ok(name: str, dtype: pl.DataType) -> bool:
    if dtype == pl.Null:
        return True
    if name in NUMERIC:
        return dtype.is_numeric()
    if name in TEXT:
        return dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum)
    if name == "ts":
        return isinstance(dtype, pl.Datetime)
    return True


def frame_findings(df: pl.DataFrame, *, ordered_input: bool = False) -> pl.DataFrame:
    """Findings about the frame as a whole (symbol and ts null), plus ts_not_monotonic rows when the input
    order is meaningful. Any error here means the frame cannot be checked further nor land."""
    rows: list[pl.DataFrame] = []
    for col in REQUIRED:
        if col not in df.columns:
            rows.append(_frame_row("schema_missing_column", f"column {col!r} is missing"))
    for col, dtype in df.schema.items():
        if col in BARS and not _dtype_ok(col, dtype):
            want = BARS[col]
            rows.append(
                _frame_row("schema_dtype", f"column {col!r} has type {dtype}, expected {want}")
            )
    ts_type = df.schema.get("ts")
    if isinstance(ts_type, pl.Datetime) and ts_type.time_zone != "UTC":
        zone = ts_type.time_zone
        what = "naive (no time zone)" if zone is None else f"in zone {zone}"
        rows.append(
            _frame_row(
                "ts_not_utc",
                f"ts is {what}: sources must convert to UTC (trader_cols.sanity.timestamps)",
            )
        )
    if "interval" in df.columns and _dtype_ok("interval", df.schema["interval"]):
        found = df["interval"].cast(pl.String).drop_nulls().unique().sort().to_list()
        if len(found) > 1:
            rows.append(_frame_row("interval_mixed", f"intervals {', '.join(found)} in one frame"))
    if not rows and df.height == 0:
        rows.append(_frame_row("empty", "no rows"))
    if not rows and ordered_input:
        rows.append(_monotonic(df))
    return pl.concat(rows) if rows else empty(FINDINGS)


def _monotonic(df: pl.DataFrame) -> pl.DataFrame:
    """Rows whose ts is earlier than the previous row of the same symbol, in arrival order."""
    prev_ts = pl.col("ts").shift(1)
    back = (pl.col("symbol") == pl.col("symbol").shift(1)) & (pl.col("ts") < prev_ts)
    return (
        df.select(
            "symbol",
            pl.col("ts").cast(UTC_TS),
            prev_ts.cast(UTC_TS).alias("_prev"),
            back.alias("_b"),
        )
        .filter(pl.col("_b").fill_null(False))
        .select(
            finding(
                "ts_not_monotonic",
                fmt(
                    "ts {} comes after {} in the input",
                    ts_text(pl.col("ts")),
                    ts_text(pl.col("_prev")),
                ),
                (pl.col("_prev") - pl.col("ts")).dt.total_seconds(),
            )
        )
    )


def lenient(df: pl.DataFrame) -> pl.DataFrame:
    """The frame in the REJECTED columns as far as it can be cast (uncastable values become null) — for the
    quarantine only. Naive ts are stored as if UTC there, which the ts_not_utc code on the row says."""
    ts_type = df.schema.get("ts")
    exprs = []
    for name, dtype in REJECTED.items():
        if name == "codes":
            continue
        if name not in df.columns:
            exprs.append(pl.lit(None, dtype=dtype).alias(name))
        elif name == "ts" and isinstance(ts_type, pl.Datetime):
            ts = pl.col("ts").dt.cast_time_unit("us")
            if ts_type.time_zone is None:
                ts = ts.dt.replace_time_zone("UTC")
            exprs.append(ts.dt.convert_time_zone("UTC").alias("ts"))
        else:
            exprs.append(pl.col(name).cast(dtype, strict=False).alias(name))
    return df.select(exprs)
