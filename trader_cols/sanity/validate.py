"""`validate`: run every DataSanity check over a long frame of bars, apply allowed repairs, split what may land."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from datetime import UTC, datetime

import polars as pl

from trader_cols.calendars import asset_classes_of
from trader_cols.config import DataSanityConfig
from trader_cols.errors import ConfigError
from trader_cols.sanity.checks import (
    finding,
    flag_frame,
    incomplete_findings,
    jump_frame,
    layout,
    row_findings,
    symbol_findings,
)
from trader_cols.sanity.codes import ERROR
from trader_cols.sanity.repairs import ROW, dedupe, value_repairs
from trader_cols.sanity.report import SanityReport, log_findings, sort_findings
from trader_cols.sanity.schema_checks import frame_findings, lenient
from trader_cols.schema import BARS, FINDINGS, REJECTED, REPAIRS, UTC_TS, conform, empty

MODES = ("enforce", "warn", "off")


def validate(
    bars: pl.DataFrame | pl.LazyFrame,
    cfg: DataSanityConfig,
    *,
    as_of: datetime,
    asset_classes: Mapping[str, str] | None = None,
    mode: str | None = None,
    profile: str | None = None,
    interval: str | None = None,
    ordered_input: bool = False,
) -> SanityReport:
    """Check a long frame of bars against the selected profile and split it into what lands and what not.

    `as_of` (timezone-aware) is the time the data is judged at: the ingest time. `asset_classes` maps symbols
    to equity|etf|crypto (else crypto by ticker suffix, else equity). `mode`/`profile` override `cfg`.
    `interval` is used when the frame has no interval column (default 1d). With `ordered_input` the row order
    is meaningful (a stored file) and rows out of time order are reported as ts_not_monotonic; otherwise the
    order rows arrive in never changes a finding.

    off: bars untouched, nothing checked. warn: everything that can land lands (repairs applied) and one line
    per symbol and code is logged. enforce: every row of a symbol with an error finding goes to `rejected`.
    Rows that can never land (null symbol or ts, unresolved duplicate timestamps, a frame with schema errors)
    are rejected in warn mode too.
    """
    mode = mode or cfg.mode
    if mode not in MODES:
        raise ConfigError(f"mode {mode!r} is not one of {', '.join(MODES)}", key="data_sanity.mode")
    name = profile or cfg.profile
    if name not in cfg.profiles:
        close = difflib.get_close_matches(name, list(cfg.profiles), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(
            f"profile {name!r} is not defined{hint}; defined: {', '.join(sorted(cfg.profiles))}",
            key="data_sanity.profile",
        )
    p = cfg.profiles[name]
    if not isinstance(as_of, datetime) or as_of.tzinfo is None:
        raise ConfigError(f"as_of must be a timezone-aware datetime, got {as_of!r}")
    as_of = as_of.astimezone(UTC)
    df = bars.collect() if isinstance(bars, pl.LazyFrame) else bars
    if mode == "off":
        return SanityReport(df, empty(FINDINGS), empty(REPAIRS), empty(REJECTED), name, mode)

    fatal = frame_findings(df, ordered_input=ordered_input)
    if fatal.filter(pl.col("severity") == ERROR).height or df.height == 0:
        codes = ",".join(sorted(set(fatal.filter(pl.col("severity") == ERROR)["code"].to_list())))
        rejected = lenient(df).with_columns(pl.lit(codes).alias("codes"))
        rep = SanityReport(
            empty(BARS),
            sort_findings(fatal),
            empty(REPAIRS),
            conform(rejected, REJECTED),
            name,
            mode,
        )
        if mode == "warn":
            log_findings(rep.findings)
        return rep

    iv = interval or "1d"
    if "interval" in df.columns and df["interval"].drop_nulls().len():
        iv = df["interval"].drop_nulls()[0]
    received = conform(df.with_columns(pl.col("ts").cast(UTC_TS)), BARS).with_columns(
        pl.col("interval").fill_null(iv), pl.int_range(pl.len(), dtype=pl.Int64).alias(ROW)
    )
    null_key = pl.col("symbol").is_null() | pl.col("ts").is_null()
    orphans = received.filter(null_key)
    received = _sorted(received.filter(~null_key))

    deduped = dedupe(received, p)
    crypto = _crypto_symbols(deduped.bars, asset_classes)
    flags = flag_frame(
        layout(deduped.bars.lazy()).with_columns(pl.col("symbol").is_in(crypto).alias("_crypto")),
        p,
        interval=iv,
        as_of=as_of,
    ).collect()
    jumps = jump_frame(flags, p, interval=iv).lazy()
    lazy = flags.lazy()
    incomplete, *others = pl.collect_all(
        [
            incomplete_findings(lazy, p, interval=iv, as_of=as_of),
            *row_findings(lazy, jumps, p, interval=iv, as_of=as_of),
            *symbol_findings(lazy, p, interval=iv, as_of=as_of),
        ]
    )
    findings = sort_findings(
        pl.concat([fatal, _null_key_findings(orphans), deduped.findings, incomplete, *others])
    )
    landed, repairs = value_repairs(flags, p, incomplete)
    repairs = pl.concat([deduped.repairs, repairs])

    # what cannot land, whatever the mode (small frames: ordered by every column, so copies of one
    # timestamp come out in the same order whatever their arrival order)
    everything = list(REJECTED)
    orphans = conform(orphans.with_columns(pl.lit("null_key").alias("codes")), REJECTED)
    refused = conform(
        deduped.unresolved.join(deduped.unresolved_codes, on=["symbol", "ts"], how="left"), REJECTED
    ).sort(everything, nulls_last=False)
    if mode == "enforce":
        errors = findings.filter((pl.col("severity") == ERROR) & pl.col("symbol").is_not_null())
        bad = errors.group_by("symbol").agg(
            pl.col("code").unique().sort().str.join(",").alias("codes")
        )
        if bad.height:
            is_bad = pl.col("symbol").is_in(bad["symbol"].implode())
            # every row of the refused symbols as received; sorted by (symbol, ts) already
            refused = _take(received.filter(is_bad), REJECTED, codes=bad)
            if deduped.findings.filter(
                is_bad
            ).height:  # copies of a timestamp: order them by content
                refused = refused.sort(everything, nulls_last=False)
            landed = landed.filter(~is_bad)
            repairs = repairs.filter(~is_bad)
    elif mode == "warn":
        log_findings(findings)
    rejected = pl.concat([orphans.sort(everything, nulls_last=False), refused])
    repairs = repairs.sort(["symbol", "ts", "action", "column_name", "before"], nulls_last=False)
    return SanityReport(_take(landed, BARS), findings, repairs, rejected, name, mode)


def _take(
    df: pl.DataFrame, schema: dict[str, pl.DataType], codes: pl.DataFrame | None = None
) -> pl.DataFrame:
    """`conform` for a frame that has every column (but `codes`, mapped from `codes`' symbol → codes):
    Series by Series, because an eager select over a many-chunk frame of millions of rows copies it."""
    cols = [
        df.get_column("symbol").replace_strict(codes["symbol"], codes["codes"]).alias("codes")
        if c == "codes" and codes is not None
        else df.get_column(c)
        for c in schema
    ]
    return pl.DataFrame(
        [s if s.dtype == t else s.cast(t) for s, t in zip(cols, schema.values(), strict=True)]
    )


def _sorted(df: pl.DataFrame) -> pl.DataFrame:
    """Sorted by (symbol, ts, arrival); skips the sort when the frame already is strictly ordered."""
    ordered = df.select(
        (
            (pl.col("symbol") > pl.col("symbol").shift(1))
            | (
                (pl.col("symbol") == pl.col("symbol").shift(1))
                & (pl.col("ts") > pl.col("ts").shift(1))
            )
        )
        .fill_null(True)
        .all()
    ).item()
    if ordered:
        return df
    # one Int64 key (symbol rank x span + ts) sorts far faster than (String, Datetime) in Polars 2.1
    epoch = pl.col("ts").dt.epoch("us")
    lo, hi = df.select(epoch.min().alias("lo"), epoch.max().alias("hi")).row(0)
    names = df["symbol"].unique().sort()
    span = hi - lo + 1
    if names.len() * span >= 2**62:
        return df.sort("symbol", "ts", ROW)
    rank = pl.col("symbol").replace_strict(
        names, pl.int_range(names.len(), dtype=pl.Int64, eager=True), return_dtype=pl.Int64
    )
    return df.sort(rank * span + (epoch - lo))  # ties (duplicates) are ordered later by _row


def _crypto_symbols(bars: pl.DataFrame, overrides: Mapping[str, str] | None) -> pl.Expr:
    """The crypto symbols among the frame's (calendar: every day), as a list literal for `is_in`."""
    symbols = bars["symbol"].unique(maintain_order=True)
    return symbols.filter(asset_classes_of(symbols, overrides) == "crypto").implode()


def _null_key_findings(orphans: pl.DataFrame) -> pl.DataFrame:
    return orphans.select(
        finding(
            "null_key",
            pl.when(pl.col("symbol").is_null())
            .then(pl.lit("symbol is null"))
            .otherwise(pl.lit("ts is null")),
            ts=pl.lit(None, dtype=UTC_TS),
        )
    )
