"""Warm-up sensitivity: how much history an indicator needs before its values stop depending on the start."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from trader_cols.features.compute import compute_features
from trader_cols.features.specs import STABLE_TOL, FeatureSpec


def _drop_first(bars: pl.DataFrame, skip: int) -> pl.DataFrame:
    """Bars with the first `skip` bars of every symbol removed (history starting later)."""
    pos = pl.int_range(pl.len()).over("symbol", order_by="ts")
    return bars.filter(pos >= skip)


def warmup_sensitivity(
    bars: pl.DataFrame,
    specs: Sequence[FeatureSpec],
    *,
    skips: Sequence[int] = (50, 150, 400),
    tol: float = STABLE_TOL,
) -> pl.DataFrame:
    """Per output column, the bars of history after which values agree with a longer history to `tol`.

    For each `skip`, the features are recomputed on the bars with each symbol's first `skip` bars
    removed and compared with the full-history values on the common rows. A row disagrees when exactly
    one side is null or |a - b| > tol · max(|b|, median |b| of that symbol's column) (the median keeps
    columns that cross zero, like MACD, from counting noise as relative error). `measured_bars` is
    one more than the latest disagreeing bar position counted from the later start, the maximum over
    symbols and skips; null when the last bar still disagrees (never stable within the sample, e.g.
    OBV). Also returns each column's look-back and the analytic bound `FeatureSpec.stable_bars`.
    """
    full = compute_features(bars.lazy(), specs).collect(engine="in-memory")
    columns = [c for spec in specs for c in spec.columns]
    scales = full.group_by("symbol").agg(pl.col(c).abs().median().alias(c) for c in columns)
    worst: dict[str, int | None] = dict.fromkeys(columns, 0)
    for skip in skips:
        later = _drop_first(bars, skip)
        part = compute_features(later.lazy(), specs).collect(engine="in-memory")
        part = part.with_columns(
            pl.int_range(pl.len()).over("symbol", order_by="ts").alias("__pos")
        )
        joined = part.join(full, on=["symbol", "ts"], suffix="__full").join(
            scales, on="symbol", suffix="__scale"
        )
        last_pos = joined.group_by("symbol").agg(pl.col("__pos").max().alias("__last"))
        for col in columns:
            a, b, s = pl.col(col), pl.col(f"{col}__full"), pl.col(f"{col}__scale")
            differs = (a.is_null() ^ b.is_null()) | (
                (a - b).abs() > tol * pl.max_horizontal(b.abs(), s.fill_null(0.0))
            )
            bad = (
                joined.filter(differs)
                .group_by("symbol")
                .agg(pl.col("__pos").max().alias("__bad"))
                .join(last_pos, on="symbol")
            )
            if bad.height == 0:
                continue
            if (bad["__bad"] == bad["__last"]).any() or worst[col] is None:
                worst[col] = None
            else:
                worst[col] = max(worst[col], int(bad["__bad"].max()) + 1)
    rows = [
        {
            "column": col,
            "indicator": spec.name,
            "recursive": spec.indicator.recursive,
            "lookback": spec.lookbacks[col],
            "measured_bars": worst[col],
            "bound_bars": spec.stable_bars(tol),
        }
        for spec in specs
        for col in spec.columns
    ]
    schema = {
        "column": pl.String,
        "indicator": pl.String,
        "recursive": pl.Boolean,
        "lookback": pl.Int64,
        "measured_bars": pl.Int64,
        "bound_bars": pl.Int64,
    }
    return pl.DataFrame(rows, schema=schema)
