"""Regime labels per symbol and bar (trend, chop, volatile) with a confidence in [0, 1], computed in SQL
(sql/features/regimes.sql) from trend strength (ADX, efficiency ratio) and the trailing volatility percentile."""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from trader_cols.features import FeatureSpec, compute_features
from trader_cols.schema import REGIMES

SQL = "features.regimes"
RunSQL = Callable[..., pl.DataFrame]

LABELS: dict[str, pl.DataType] = {
    "symbol": pl.String(),
    "ts": pl.Datetime("us", "UTC"),
    "regime": pl.String(),
    "regime_confidence": pl.Float64(),
}


def regime_specs(cfg=None) -> tuple[FeatureSpec, ...]:
    """The features the labeller reads (ADX, efficiency ratio, realised volatility) at the config's windows."""
    adx, er, vol = (cfg.adx_window, cfg.er_window, cfg.vol_window) if cfg else (14, 20, 20)
    return (
        FeatureSpec.of("adx", window=adx),
        FeatureSpec.of("er", window=er),
        FeatureSpec.of("rvol", window=vol),
    )


def sql_params(cfg) -> dict:
    """The SQL file's `$` parameters from a RegimesConfig.

    A percentile needs some history to mean anything: it is trusted once the trailing window holds a
    quarter of its length (at least 20 bars), e.g. 63 of 252.
    """
    return {
        "adx_trend": float(cfg.adx_trend),
        "er_trend": float(cfg.er_trend),
        "vol_window_bars": int(cfg.vol_lookback_bars),
        "vol_min_bars": max(20, int(cfg.vol_lookback_bars) // 4),
        "vol_pct_threshold": float(cfg.vol_pct_threshold),
        "min_dwell_bars": int(cfg.min_dwell_bars),
    }


def regime_inputs(features: pl.DataFrame, cfg) -> pl.DataFrame:
    """symbol, ts, adx, er, rvol from a frame holding the labeller's feature columns."""
    adx, er, vol = regime_specs(cfg)
    return features.select(
        "symbol",
        "ts",
        pl.col(adx.columns[0]).cast(pl.Float64).alias("adx"),
        pl.col(er.columns[0]).cast(pl.Float64).alias("er"),
        pl.col(vol.columns[0]).cast(pl.Float64).alias("rvol"),
    )


def label_regimes(
    features: pl.DataFrame, cfg, run_sql: RunSQL, *, details: bool = False
) -> pl.DataFrame:
    """Regime and confidence per (symbol, ts) of a frame with the labeller's feature columns (`regime_specs`).

    `run_sql(dotted_name, params, **frames)` executes a SQL file over frames; callers pass
    `trader_cols.warehouse.query_frames` (the one DuckDB runner, which sits above this layer). Rows before
    a symbol's features and volatility percentile are defined (and before its first label has lasted
    `min_dwell_bars`) have a null regime. `details=True` adds the deciding statistics `vol_pct` (trailing
    realized-volatility percentile) and `trend_score` (1 = on the trend threshold).
    """
    out = run_sql(SQL, sql_params(cfg), features=regime_inputs(features, cfg)).cast(LABELS)
    return out if details else out.select(*LABELS)


def label_bars(bars: pl.DataFrame, cfg, run_sql: RunSQL) -> pl.DataFrame:
    """Regimes straight from long bars: computes the features, then labels them."""
    feats = compute_features(bars.lazy(), regime_specs(cfg)).collect(engine="in-memory")
    return label_regimes(feats, cfg, run_sql)


def regime_stats(labels: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Share of time per regime, mean run length per regime, and the transition matrix (rows: from, cols: to),
    over labelled rows of one or more symbols."""
    lab = labels.drop_nulls("regime").sort("symbol", "ts")
    share = (
        lab.group_by("regime")
        .agg(pl.len().alias("bars"))
        .with_columns((pl.col("bars") / pl.col("bars").sum()).alias("share"))
        .sort("regime")
    )
    runs = (
        lab.with_columns(
            (pl.col("regime") != pl.col("regime").shift(1))
            .fill_null(True)
            .cum_sum()
            .over("symbol")
            .alias("run")
        )
        .group_by("symbol", "run")
        .agg(pl.col("regime").first(), pl.len().alias("length"))
    )
    run_len = (
        runs.group_by("regime")
        .agg(pl.col("length").mean().alias("mean_run_bars"), pl.len().alias("runs"))
        .sort("regime")
    )
    pairs = lab.with_columns(pl.col("regime").shift(-1).over("symbol").alias("to")).drop_nulls("to")
    counts = pairs.group_by("regime", "to").agg(pl.len().alias("n"))
    matrix = pl.DataFrame({"regime": list(REGIMES)}).join(
        counts.pivot(on="to", index="regime", values="n"), on="regime", how="left"
    )
    for r in REGIMES:
        if r not in matrix.columns:
            matrix = matrix.with_columns(pl.lit(None, pl.UInt32).alias(r))
    matrix = matrix.select("regime", *REGIMES).fill_null(0)
    total = pl.sum_horizontal(list(REGIMES))
    matrix = matrix.with_columns([(pl.col(r) / total).fill_nan(0.0).alias(r) for r in REGIMES])
    return {"share": share, "run_length": run_len, "transitions": matrix}
