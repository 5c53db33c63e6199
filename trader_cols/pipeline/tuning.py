"""Level-2 tuning of one fold: every grid point of every strategy simulated on the training window in one batched
kernel call per asset class, scored by the composite, and the best set per (asset class, strategy) chosen."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from trader_cols import metrics
from trader_cols.composer import composite_score
from trader_cols.pipeline.panel import sized_targets
from trader_cols.sim import market_arrays, simulate_batch_arrays, target_arrays
from trader_cols.strategies import Strategy

CHOSEN: dict[str, pl.DataType] = {
    "asset_class": pl.String(), "strategy": pl.String(), "params_json": pl.String(), "score": pl.Float64(),
    "cagr": pl.Float64(), "sharpe": pl.Float64(), "win_rate": pl.Float64(), "avg_trade": pl.Float64(),
    "chosen": pl.Boolean(),
}
POINTS_PER_CALL = 8  # grid points whose targets are sized and laid out together


@dataclass(frozen=True)
class GridPoint:
    """One parameter set of one strategy; `key` is its canonical JSON (sorted keys)."""

    strategy: str
    params: dict
    key: str


def grid_points(strategies: Sequence[Strategy], fast: bool) -> list[GridPoint]:
    """All grid points of all strategies in a fixed order (strategy order, then grid order)."""
    return [
        GridPoint(s.name, p, json.dumps(p, sort_keys=True))
        for s in strategies
        for p in (s.resolve(g) for g in s.grid(fast))
    ]


def closed_trade_stats(batch_metrics: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Win rate and mean return of each set's closed trades (the batch kernel counts them from each set's fills:
    round trips as trades.py defines them). A set that closed no trade scores 0 on both."""
    n = batch_metrics["trades"].to_numpy().astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        win = np.where(n > 0, batch_metrics["winning_trades"].to_numpy() / n, 0.0)
        avg = np.where(n > 0, batch_metrics["trade_return_sum"].to_numpy() / n, 0.0)
    return win, avg


def target_columns(points: Sequence[GridPoint]) -> list[str]:
    """Names of the per-grid-point target weight columns."""
    return [f"t{k}" for k in range(len(points))]


def sized_grid_targets(frame: pl.DataFrame, strategies: Mapping[str, Strategy], points: Sequence[GridPoint],
                       risk) -> pl.DataFrame:
    """The vol-targeted weight of every grid point on every row of `frame` (columns `target_columns(points)`).

    Causal row by row, so it can be computed once over the whole panel and sliced per fold."""
    return frame.select(
        *[sized_targets(strategies[p.strategy].signal_expr(p.params), risk).alias(name)
          for p, name in zip(points, target_columns(points), strict=True)]
    )


def tune_fold(
    train: pl.DataFrame,
    strategies: Mapping[str, Strategy],
    points: Sequence[GridPoint],
    *,
    sim_params,
    risk,
    score_weights,
    periods_per_year: Mapping[str, float],
) -> pl.DataFrame:
    """Score every grid point on the training rows of each asset class; rows in `CHOSEN` schema, one per
    (asset class, grid point), `chosen` marking the best per (asset class, strategy) (first in grid order on ties).
    `train` may already carry the grid's target columns (`sized_grid_targets` over the whole panel).
    """
    cols = target_columns(points)
    precomputed = set(cols) <= set(train.columns)  # else each chunk of points is sized on this window's rows
    classes = sorted(train["asset_class"].unique().to_list())
    out = []
    for asset_class in classes:
        # (one class: no filter, which would copy every column)
        sub = train if len(classes) == 1 else train.filter(pl.col("asset_class") == asset_class)
        market = market_arrays(sub.select("symbol", "ts", "open", "high", "low", "close"))
        # NOTE: the targets are sized and laid out POINTS_PER_CALL sets at a time into one [sets, T, N] stack, so
        # that no frame of every set's targets sits next to it; the kernel still runs all sets in one call
        stack = np.empty((len(points), *market.close.shape))
        for lo in range(0, len(points), POINTS_PER_CALL):
            pts = points[lo:lo + POINTS_PER_CALL]
            chunk = cols[lo:lo + len(pts)]
            if precomputed:
                targets = sub.select("symbol", "ts", *chunk)
            else:
                sized = sized_grid_targets(sub, strategies, pts, risk)
                targets = sub.select("symbol", "ts").hstack(sized.rename(dict(zip(sized.columns, chunk, strict=True))))
            stack[lo:lo + len(pts)] = target_arrays(targets, market, chunk)
            del targets
        stack.flags.writeable = False
        res = simulate_batch_arrays(market, stack, tuple(cols), sim_params)
        del stack, market
        ppy = periods_per_year[asset_class]
        win, avg = closed_trade_stats(res.metrics)
        m = {
            "cagr": metrics.cagr(res.equity, ppy),
            "sharpe": metrics.sharpe(metrics.bar_returns(res.equity), ppy),
            "win_rate": win,
            "avg_trade": avg,
        }
        score = composite_score(m, score_weights)
        rows = pl.DataFrame({
            "asset_class": asset_class,
            "strategy": [p.strategy for p in points],
            "params_json": [p.key for p in points],
            "score": score, **{k: np.asarray(v, dtype=np.float64) for k, v in m.items()},
        }).with_row_index("_k")
        best = rows.sort(["strategy", "score", "_k"], descending=[False, True, False]).group_by(
            "strategy", maintain_order=True).first()["_k"]
        out.append(rows.with_columns(pl.col("_k").is_in(best.implode()).alias("chosen")).drop("_k"))
    return pl.concat(out).cast(CHOSEN) if out else pl.DataFrame(schema=CHOSEN)
