"""compute_features: every requested indicator per symbol inside one lazy Polars plan."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from trader_cols.features._indicator import SEG, STRUCT_PREFIX, kernel_struct
from trader_cols.features.specs import FeatureSpec, check_unique


def compute_features(
    bars: pl.LazyFrame, specs: Sequence[FeatureSpec], *, threads: int | None = None
) -> pl.LazyFrame:
    """Indicator columns per (symbol, ts): symbol, ts, then each spec's columns in spec order.

    `bars` is the long bar table of one interval (symbol, ts, open, high, low, close, volume; extra
    columns are ignored). The plan sorts by (symbol, ts), numbers the symbol runs, computes the
    shift-based indicators as native expressions and all the others in one fused UDF node that runs
    the Numba kernels over the whole sorted columns with per-symbol resets (on `threads` threads,
    default: Polars' thread-pool size). No Python loop over symbols; nothing is collected here.
    Leading warm-up rows of each symbol are null.

    The in-memory engine runs this plan several times faster than the streaming one (the sort), so
    collect it with `engine="in-memory"`.
    """
    check_unique(specs)
    inputs = sorted({c for spec in specs for c in spec.indicator.inputs})
    prepared = (
        bars.select("symbol", "ts", *[pl.col(c).cast(pl.Float64) for c in inputs])
        .sort("symbol", "ts")
        .with_columns(pl.col("symbol").rle_id().alias(SEG))
    )
    calls = [call for spec in specs if (call := spec.kernel_call()) is not None]
    exprs = [e for spec in specs for e in spec.native_exprs()]
    if calls:
        n_threads = threads if threads is not None else pl.thread_pool_size()
        exprs.append(kernel_struct(calls, n_threads))
    order = [c for spec in specs for c in spec.columns]
    kernel_cols = [n for call in calls for n in call.names]
    return (
        prepared.select("symbol", "ts", *exprs)
        .unnest(*([STRUCT_PREFIX + "kernels"] if calls else []))
        .select("symbol", "ts", *order)
        .with_columns(pl.col(kernel_cols).fill_nan(None))  # NaN (warm-up, undefined) → null
    )
