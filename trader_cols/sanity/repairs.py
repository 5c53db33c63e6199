"""DataSanity repairs, each allowed by a profile switch and written to an audit table: what, where, before, after."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from trader_cols.config import SanityProfile
from trader_cols.sanity.checks import IDX, _missing, _next, _prev, finding, fmt
from trader_cols.sanity.codes import ERROR, WARN
from trader_cols.schema import FINDINGS, PRICE_COLUMNS, REPAIRS, VALUE_COLUMNS, empty

ROW = "_row"  # arrival order of a row: what "keep the last" means


def row_text(prefix: str = "") -> pl.Expr:
    """A bar's values as exact text for the audit (`open=… high=… … volume=…`)."""
    return pl.concat_str(
        [
            fmt(f"{c}={{}}", pl.col(f"{prefix}{c}").cast(pl.String).fill_null("null"))
            for c in VALUE_COLUMNS
        ],
        separator=" ",
    )


def audit(
    action: str, column: str | None, before: pl.Expr, after: pl.Expr | None = None
) -> list[pl.Expr]:
    """The select list of one audit row (REPAIRS schema)."""
    return [
        pl.col("symbol"),
        pl.col("ts"),
        pl.lit(action).alias("action"),
        pl.lit(column, dtype=pl.String).alias("column_name"),
        before.cast(pl.String).alias("before"),
        (after if after is not None else pl.lit(None)).cast(pl.String).alias("after"),
    ]


@dataclass(frozen=True)
class Deduped:
    """Result of resolving duplicated (symbol, ts) keys."""

    bars: pl.DataFrame  # one row per key, still sorted
    findings: pl.DataFrame  # row_duplicate / ts_duplicate
    repairs: pl.DataFrame
    unresolved: pl.DataFrame  # every row of a key that stays duplicated (cannot land)
    unresolved_codes: pl.DataFrame  # symbol, ts, codes of those keys


def dedupe(df: pl.DataFrame, p: SanityProfile) -> Deduped:
    """Drop exact copies (`allow_drop_duplicates`), then keep the last received row of a duplicated
    timestamp (`allow_resolve_duplicate_ts`). `df` is sorted by (symbol, ts, _row)."""
    same_prev = (pl.col("symbol") == pl.col("symbol").shift(1)) & (
        pl.col("ts") == pl.col("ts").shift(1)
    )
    same_next = (pl.col("symbol") == pl.col("symbol").shift(-1)) & (
        pl.col("ts") == pl.col("ts").shift(-1)
    )
    in_dup = (same_prev.fill_null(False) | same_next.fill_null(False)).alias("_dup")
    marked = df.with_columns(in_dup)
    nothing = Deduped(
        df,
        empty(FINDINGS),
        empty(REPAIRS),
        df.clear(),
        pl.DataFrame(schema={"symbol": pl.String, "ts": FINDINGS["ts"], "codes": pl.String}),
    )
    if not marked["_dup"].any():
        return nothing
    dup = marked.filter("_dup").drop("_dup")
    content = [c for c in dup.columns if c != ROW]
    copies = dup.group_by(content).agg(
        pl.len().alias("_n"), pl.col(ROW).max().alias("_keep"), pl.col(ROW).alias("_rows")
    )
    per_key = copies.group_by("symbol", "ts").agg(
        pl.len().alias("_distinct"), (pl.col("_n") > 1).any().alias("_has_copies")
    )
    copies = copies.join(per_key, on=["symbol", "ts"])
    findings = [
        copies.filter(pl.col("_n") > 1).select(
            finding(
                "row_duplicate",
                fmt(
                    "{} identical rows"
                    + ("; extra copies dropped" if p.allow_drop_duplicates else ""),
                    pl.col("_n"),
                ),
                pl.col("_n"),
                severity=pl.lit(WARN if p.allow_drop_duplicates else ERROR),
            )
        ),
        per_key.filter(pl.col("_distinct") > 1).select(
            finding(
                "ts_duplicate",
                fmt(
                    "{} different rows for one timestamp"
                    + ("; kept the last received" if p.allow_resolve_duplicate_ts else ""),
                    pl.col("_distinct"),
                ),
                pl.col("_distinct"),
                severity=pl.lit(WARN if p.allow_resolve_duplicate_ts else ERROR),
            )
        ),
    ]
    unresolved_key = pl.lit(False)
    if not p.allow_drop_duplicates:
        unresolved_key = unresolved_key | pl.col("_has_copies")
    if not p.allow_resolve_duplicate_ts:
        unresolved_key = unresolved_key | (pl.col("_distinct") > 1)
    copies = copies.with_columns(unresolved_key.alias("_unresolved"))
    resolved = copies.filter(~pl.col("_unresolved"))
    winner = resolved.group_by("symbol", "ts").agg(pl.col("_keep").max().alias("_winner"))
    resolved = resolved.join(winner, on=["symbol", "ts"])
    kept_text = resolved.filter(pl.col("_keep") == pl.col("_winner")).select(
        "symbol", "ts", row_text().alias("_kept_text")
    )
    repairs = [
        resolved.filter(pl.col("_n") > 1)
        .with_columns(pl.int_ranges(1, pl.col("_n")).alias("_copy"))
        .explode("_copy")
        .select(audit("drop_duplicate_row", None, row_text(), pl.lit("identical row kept"))),
        resolved.filter(pl.col("_keep") != pl.col("_winner"))
        .join(kept_text, on=["symbol", "ts"])
        .select(audit("resolve_duplicate_ts", None, row_text(), pl.col("_kept_text"))),
    ]
    keep_rows = resolved.filter(pl.col("_keep") == pl.col("_winner"))["_keep"]
    bad_rows = copies.filter("_unresolved").explode("_rows")["_rows"]
    codes = (
        copies.filter("_unresolved")
        .group_by("symbol", "ts")
        .agg(
            pl.when(pl.col("_n").max() > 1)
            .then(
                pl.when(pl.len() > 1)
                .then(pl.lit("row_duplicate,ts_duplicate"))
                .otherwise(pl.lit("row_duplicate"))
            )
            .otherwise(pl.lit("ts_duplicate"))
            .alias("codes")
        )
    )
    bars = marked.filter(~pl.col("_dup") | pl.col(ROW).is_in(keep_rows.implode())).drop("_dup")
    return Deduped(
        bars=bars,
        findings=pl.concat(findings),
        repairs=pl.concat(repairs),
        unresolved=df.filter(pl.col(ROW).is_in(bad_rows.implode())),
        unresolved_codes=codes,
    )


def _runs_fillable(c: str, limit: int) -> pl.Expr:
    """True on missing values of `c` whose whole run of missing values is at most `limit` bars long and
    follows a valid value of the same symbol."""
    m = _missing(c)
    starts = m & ~_prev(m).fill_null(False)
    ends = m & ~_next(m).fill_null(False)
    start_idx = pl.when(starts).then(pl.col(IDX)).forward_fill()
    end_idx = pl.when(ends).then(pl.col(IDX)).backward_fill()
    symbol_start = pl.when("_first").then(pl.col(IDX)).forward_fill()
    return m & ((end_idx - start_idx + 1) <= limit) & (start_idx > symbol_start)


def value_repairs(
    flags: pl.DataFrame, p: SanityProfile, incomplete: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Forward-fill short runs of missing prices, clip open/close into [low, high], drop rows without a close
    and incomplete bars, as the profile allows. Returns (bars, audit)."""
    lf = flags.lazy()
    audits: list[pl.LazyFrame] = []
    if p.ffill_max_bars > 0:
        fill = {c: _runs_fillable(c, p.ffill_max_bars) for c in PRICE_COLUMNS}
        lf = lf.with_columns(
            *[fill[c].alias(f"_fill_{c}") for c in PRICE_COLUMNS],
            *[
                pl.when(~_missing(c)).then(pl.col(c)).forward_fill().alias(f"_ff_{c}")
                for c in PRICE_COLUMNS
            ],
        )
        audits += [
            lf.filter(f"_fill_{c}").select(
                audit("ffill", c, pl.col(c).cast(pl.String).fill_null("null"), pl.col(f"_ff_{c}"))
            )
            for c in PRICE_COLUMNS
        ]
        lf = lf.with_columns(
            [
                pl.when(f"_fill_{c}").then(pl.col(f"_ff_{c}")).otherwise(pl.col(c)).alias(c)
                for c in PRICE_COLUMNS
            ]
        )
    if p.allow_clip_prices:
        lo, hi = pl.col("low"), pl.col("high")
        range_ok = lo.is_finite() & hi.is_finite() & (lo <= hi)
        for c in ("open", "close"):
            out = (range_ok & pl.col(c).is_finite() & ~pl.col(c).is_between(lo, hi)).fill_null(
                False
            )
            lf = lf.with_columns(out.alias(f"_clip_{c}"))
            audits.append(
                lf.filter(f"_clip_{c}").select(
                    audit("clip_price", c, pl.col(c), pl.col(c).clip(lo, hi))
                )
            )
            lf = lf.with_columns(
                pl.when(f"_clip_{c}").then(pl.col(c).clip(lo, hi)).otherwise(pl.col(c)).alias(c)
            )
    if p.allow_drop_missing_close:
        gone = _missing("close")
        audits.append(lf.filter(gone).select(audit("drop_missing_close", None, row_text())))
        lf = lf.filter(~gone)
    if p.allow_drop_incomplete_bars and incomplete.height:
        late = incomplete.select("symbol", "ts")
        audits.append(
            lf.join(late.lazy(), on=["symbol", "ts"], how="semi").select(
                audit("drop_incomplete_bar", None, row_text())
            )
        )
        lf = lf.join(late.lazy(), on=["symbol", "ts"], how="anti", maintain_order="left")
    frames = pl.collect_all([lf, *audits])
    repairs = pl.concat(frames[1:]) if len(frames) > 1 else empty(REPAIRS)
    return frames[0], repairs
