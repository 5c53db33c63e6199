"""The prefix-truncation lookahead test: any column computed from bars must not change when the future is cut off."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import polars as pl

from trader_cols.errors import LookaheadError

Compute = Callable[[pl.LazyFrame], pl.LazyFrame]


def _cutoffs(ts: pl.Series, k: int, seed: int) -> list:
    """K cut-off timestamps drawn without replacement from all but the last, plus the first and the next-to-last."""
    uniq = ts.unique().sort()
    if uniq.len() < 2:
        return []
    candidates = uniq.head(uniq.len() - 1)
    rng = np.random.default_rng(seed)
    idx = set(rng.choice(candidates.len(), size=min(k, candidates.len()), replace=False).tolist())
    idx |= {0, candidates.len() - 1}
    return [candidates[i] for i in sorted(idx)]


def _differs(a: pl.Expr, b: pl.Expr, rtol: float, atol: float) -> pl.Expr:
    """True where two values differ: null vs non-null, NaN vs number, or beyond the tolerance."""
    both_null = a.is_null() & b.is_null()
    one_null = a.is_null() ^ b.is_null()
    try_float = a.cast(pl.Float64, strict=False), b.cast(pl.Float64, strict=False)
    fa, fb = try_float
    both_nan = fa.is_nan() & fb.is_nan()
    numeric_diff = (fa - fb).abs() > (atol + rtol * fb.abs())
    non_numeric = fa.is_null() & a.is_not_null()  # strings / labels: compare exactly
    return (
        pl.when(both_null)
        .then(False)
        .when(one_null)
        .then(True)
        .when(non_numeric)
        .then(a.cast(pl.String) != b.cast(pl.String))
        .when(both_nan)
        .then(False)
        .when(fa.is_nan() ^ fb.is_nan())
        .then(True)
        .otherwise(numeric_diff)
    )


def find_lookahead(
    bars: pl.DataFrame,
    compute: Compute,
    columns: Sequence[str] | None = None,
    *,
    cutoffs: int = 8,
    seed: int = 0,
    key: Sequence[str] = ("symbol", "ts"),
    rtol: float = 0.0,
    atol: float = 0.0,
) -> pl.DataFrame:
    """Run the prefix-truncation test and return the offending (cutoff, column, key…) rows; empty means causal.

    `compute` maps a LazyFrame of bars to a LazyFrame that carries `key` and the columns under test. For each of
    `cutoffs` sampled cut-off times c, it is run on the bars with ts <= c only and compared with the full run at
    those rows. Exact by default (rtol = atol = 0): a causal value cannot depend on where the data ends.
    """
    ts_col = key[-1]
    full = compute(bars.lazy()).collect()
    cols = list(columns) if columns is not None else [c for c in full.columns if c not in key]
    missing = [c for c in cols if c not in full.columns]
    if missing:
        raise LookaheadError(
            f"columns {missing} are not produced by the computation under test", columns=missing
        )
    bad: list[pl.DataFrame] = []
    for c in _cutoffs(bars[ts_col], cutoffs, seed):
        part = compute(bars.lazy().filter(pl.col(ts_col) <= c)).collect()
        joined = (
            full.lazy()
            .filter(pl.col(ts_col) <= c)
            .select(*key, *cols)
            .join(
                part.lazy().select(*key, *cols),
                on=list(key),
                how="left",
                suffix="__cut",
                nulls_equal=True,
            )
        )
        for col in cols:
            hits = (
                joined.filter(_differs(pl.col(col), pl.col(f"{col}__cut"), rtol, atol))
                .select(
                    pl.lit(c).alias("cutoff"),
                    pl.lit(col).alias("column"),
                    *key,
                    pl.col(col).cast(pl.String).alias("full_value"),
                    pl.col(f"{col}__cut").cast(pl.String).alias("truncated_value"),
                )
                .collect()
            )
            if hits.height:
                bad.append(hits)
    if not bad:
        return pl.DataFrame()
    return pl.concat(bad).sort("cutoff", "column", *key)


def assert_causal(
    bars: pl.DataFrame, compute: Compute, columns: Sequence[str] | None = None, **kwargs
) -> None:
    """Raise `LookaheadError` naming the columns and the first cutoff where truncation changed a value."""
    bad = find_lookahead(bars, compute, columns, **kwargs)
    if bad.height:
        first = bad["cutoff"].min()
        at_first = bad.filter(pl.col("cutoff") == first)
        cols = sorted(at_first["column"].unique().to_list())
        row = at_first.row(0, named=True)
        raise LookaheadError(
            f"lookahead: columns {cols} change when data after {first} is removed "
            f"(first at {dict((k, row[k]) for k in row if k not in ('cutoff', 'column'))})",
            columns=cols,
            cutoff=first,
        )
