"""Canonical column names and Polars dtypes of every table trader_cols moves between stages."""

from __future__ import annotations

import polars as pl

UTC_TS = pl.Datetime("us", "UTC")

# A bar. Daily bars are labelled by their session date at 00:00 UTC; intraday bars by their open time in UTC.
BARS: dict[str, pl.DataType] = {
    "symbol": pl.String(),
    "interval": pl.String(),
    "ts": UTC_TS,
    "open": pl.Float64(),
    "high": pl.Float64(),
    "low": pl.Float64(),
    "close": pl.Float64(),
    "adj_close": pl.Float64(),  # nullable: absent when the source adjusts OHLC itself
    "volume": pl.Float64(),
    "source": pl.String(),
    "ingest_id": pl.String(),
}
PRICE_COLUMNS = ("open", "high", "low", "close")
VALUE_COLUMNS = ("open", "high", "low", "close", "adj_close", "volume")
# What a source hands to ingest: the bar minus what ingest stamps (interval, source, ingest_id).
SOURCE_BARS: dict[str, pl.DataType] = {k: v for k, v in BARS.items() if k not in ("interval", "source", "ingest_id")}
# What a bar Parquet file holds (symbol and interval are in its path and its catalog row too, kept in the file
# so a file read alone is self-describing).
BAR_FILE = BARS

# The true regime path a synthetic source keeps for tests.
REGIMES = ("trend", "chop", "volatile")
TRUE_REGIMES: dict[str, pl.DataType] = {"symbol": pl.String(), "ts": UTC_TS, "regime": pl.String()}

# DataSanity findings: fixed order = check order, then symbol, then ts.
FINDINGS: dict[str, pl.DataType] = {
    "check_order": pl.Int32(),
    "code": pl.String(),
    "severity": pl.String(),
    "symbol": pl.String(),
    "ts": UTC_TS,
    "message": pl.String(),
    "observed": pl.Float64(),
}
# DataSanity repair audit: one row per changed value or dropped row (warehouse table sanity_repairs).
REPAIRS: dict[str, pl.DataType] = {
    "symbol": pl.String(),
    "ts": UTC_TS,
    "action": pl.String(),
    "column_name": pl.String(),  # null when a whole row was dropped
    "before": pl.String(),
    "after": pl.String(),
}
# Rows DataSanity refused, with the codes that refused them (warehouse table quarantine).
REJECTED: dict[str, pl.DataType] = {
    **{k: v for k, v in BARS.items() if k != "ingest_id"},
    "codes": pl.String(),
}

ASSET_CLASSES = ("equity", "etf", "crypto")
INTERVALS = ("1m", "2m", "5m", "15m", "30m", "60m", "90m", "1h", "1d", "1wk", "1mo")


def empty(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """An empty frame with the given schema."""
    return pl.DataFrame(schema=schema)


def conform(df: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Select and cast `df` to `schema` (missing nullable columns become nulls), in schema order."""
    if df.schema == pl.Schema(schema):
        return df
    exprs = [
        (pl.col(name).cast(dtype) if name in df.columns else pl.lit(None, dtype=dtype)).alias(name)
        for name, dtype in schema.items()
    ]
    return df.select(exprs)
