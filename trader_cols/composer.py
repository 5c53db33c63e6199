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
    logits = []
    for s in strategies:
        bias = pl.lit(0.0)
        if s.style == "trend":
            bias = pl.when(pl.col("regime") == "trend").then(cfg.trend_bias * conf).otherwise(0.0)
        elif s.style == "chop":
            bias = pl.when(pl.col("regime") == "chop").then(cfg.chop_bias * conf).otherwise(0.0)
        z = (_score_expr(s.name, scores) + bias) / cfg.temperature
        # NOTE: unavailable signals get exp(-inf) = 0 weight; max-subtraction below keeps exp() finite.
        logits.append(pl.when(pl.col(f"{SIG}{s.name}").is_not_null()).then(z).otherwise(float("-inf")))
    zmax = pl.max_horizontal(logits)
    exps = [pl.when(zmax.is_finite()).then((lg - zmax).exp()).otherwise(0.0) for lg in logits]
    total = pl.sum_horizontal(exps)
    raw = [pl.when(total > 0).then(e / total).otherwise(0.0) for e in exps]
    kept = [pl.when(w >= cfg.min_confidence).then(w).otherwise(0.0) for w in raw]
    kept_total = pl.sum_horizontal(kept)
    weights = [pl.when(kept_total > 0).then(k / kept_total).otherwise(0.0).alias(f"{W}{s.name}")
               for k, s in zip(kept, strategies, strict=True)]
    out = frame.with_columns(weights)
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
