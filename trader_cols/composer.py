"""The two-level composer as pure functions over frames.

Level 1 blends strategy signals per symbol and bar: a score per (asset class, strategy) from level 2, plus a
regime bias (trend-style strategies gain `trend_bias` in trend regimes, chop-style ones `chop_bias` in chop, both
scaled by the regime's confidence), a softmax at `temperature`, weights under `min_confidence` dropped, then the
weighted signal. Level 2 ranks parameter sets on a training window by a composite of CAGR, Sharpe, win rate and
average trade. No per-bar objects: one lazy expression per frame, no state carried between calls.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl
import polars.selectors as cs

from trader_cols.strategies import Strategy

SIG = "sig_"  # column prefix of each strategy's signal in the frame the blend reads
W = "w_"  # column prefix of each strategy's blend weight in the output


def composite_score(metrics: Mapping[str, np.ndarray], weights) -> np.ndarray:
    """Level-2 score of parameter sets: weights.cagr·CAGR + weights.sharpe·Sharpe + weights.win_rate·win rate +
    weights.avg_trade·(average trade return × 100). Each metric is an array over sets; NaN counts as worst."""
    score = (
        weights.cagr * np.asarray(metrics["cagr"], dtype=np.float64)
        + weights.sharpe * np.asarray(metrics["sharpe"], dtype=np.float64)
        + weights.win_rate * np.asarray(metrics["win_rate"], dtype=np.float64)
        + weights.avg_trade * 100.0 * np.asarray(metrics["avg_trade"], dtype=np.float64)
    )
    return np.where(np.isfinite(score), score, -np.inf)


def _score_expr(strategy: str, scores: Mapping[tuple[str, str], float]) -> pl.Expr:
    expr: pl.Expr = pl.lit(0.0)
    for (asset_class, name), value in sorted(scores.items()):
        if name == strategy and np.isfinite(value):
            expr = pl.when(pl.col("asset_class") == asset_class).then(pl.lit(float(value))).otherwise(expr)
    return expr


def blend(
    frame: pl.LazyFrame,
    strategies: Sequence[Strategy],
    scores: Mapping[tuple[str, str], float],
    cfg,
) -> pl.LazyFrame:
    """symbol, ts, signal (blended, in [-1, 1]) and one weight column per strategy, from a frame with symbol,
    ts, asset_class, regime, regime_confidence, bar_no (bars since the symbol's first) and `sig_<name>` columns.

    `cfg` is a ComposerConfig. A strategy whose signal is null on a row (warming up, or missing data) gets no
    weight there. A row where no strategy has a signal holds the previous blended signal (`hold_on_nan`) or is
    flat. Rows before `min_history_bars` are flat: nothing is decided on too little history.
    """
    conf = pl.col("regime_confidence").fill_null(0.0).clip(0.0, 1.0)
    names = [s.name for s in strategies]
    logits = []
    for s in strategies:
        bias = pl.lit(0.0)
        if s.style == "trend":
            bias = pl.when(pl.col("regime") == "trend").then(cfg.trend_bias * conf).otherwise(0.0)
        elif s.style == "chop":
            bias = pl.when(pl.col("regime") == "chop").then(cfg.chop_bias * conf).otherwise(0.0)
        z = (_score_expr(s.name, scores) + bias) / cfg.temperature
        # NOTE: unavailable signals get exp(-inf) = 0 weight; max-subtraction below keeps exp() finite.
        logits.append(pl.when(pl.col(f"{SIG}{s.name}").is_not_null()).then(z).otherwise(float("-inf")).alias(f"_z{s.name}"))
    # Each stage is materialised as named columns: nesting the expressions instead would repeat every logit
    # in every later stage and make the plan explode.
    zmax = pl.max_horizontal([f"_z{n}" for n in names])
    stage = frame.with_columns(logits).with_columns(zmax.alias("_zmax"))
    stage = stage.with_columns(
        pl.when(pl.col("_zmax").is_finite()).then((pl.col(f"_z{n}") - pl.col("_zmax")).exp()).otherwise(0.0).alias(f"_e{n}")
        for n in names
    ).with_columns(pl.sum_horizontal([f"_e{n}" for n in names]).alias("_etot"))
    stage = stage.with_columns(
        pl.when((pl.col("_etot") > 0) & (pl.col(f"_e{n}") / pl.col("_etot") >= cfg.min_confidence))
        .then(pl.col(f"_e{n}") / pl.col("_etot")).otherwise(0.0).alias(f"_k{n}")
        for n in names
    ).with_columns(pl.sum_horizontal([f"_k{n}" for n in names]).alias("_ktot"))
    weights = [pl.when(pl.col("_ktot") > 0).then(pl.col(f"_k{n}") / pl.col("_ktot")).otherwise(0.0).alias(f"{W}{n}")
               for n in names]
    frame = stage
    out = frame.with_columns(weights).drop(cs.starts_with("_"))
    mixed = pl.sum_horizontal(
        [pl.col(f"{W}{s.name}") * pl.col(f"{SIG}{s.name}").fill_null(0.0) for s in strategies]
    )
    any_signal = pl.any_horizontal([pl.col(f"{SIG}{s.name}").is_not_null() for s in strategies])
    blended = pl.when(any_signal).then(mixed)
    if cfg.hold_on_nan:
        blended = blended.forward_fill().over("symbol", order_by="ts")
    early = pl.col("bar_no") < cfg.min_history_bars
    return out.with_columns(
        pl.when(early).then(0.0).otherwise(blended.fill_null(0.0)).clip(-1.0, 1.0).alias("signal")
    ).select("symbol", "ts", "signal", *[f"{W}{s.name}" for s in strategies])
