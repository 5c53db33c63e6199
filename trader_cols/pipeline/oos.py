"""Out of sample: each fold's test window composed with the parameters its training chose, all windows simulated
as one continuous book, and the results split back into folds (metrics, trades, weights, attribution)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from trader_cols import metrics
from trader_cols.composer import SIG, W, blend
from trader_cols.folds import Fold
from trader_cols.pipeline.panel import Panel, sized_targets, window
from trader_cols.sim import SimResult, simulate
from trader_cols.strategies import Strategy
from trader_cols.trades import bar_pnl, round_trips


@dataclass(frozen=True)
class OOSResult:
    """The stitched out-of-sample run and its breakdowns, as frames ready for the warehouse."""

    sim: SimResult
    decisions: pl.DataFrame  # symbol, ts, fold, asset_class, regime, signal, target_weight, w_*, sig_*
    equity: pl.DataFrame  # fold, ts, equity, cash, gross_exposure
    fold_metrics: pl.DataFrame  # fold (-1 = whole), metrics, start/end equity
    trades: pl.DataFrame
    fills: pl.DataFrame
    weights: pl.DataFrame
    attribution: pl.DataFrame
    summary: dict


def compose_fold(
    test: pl.DataFrame,
    chosen: pl.DataFrame,
    strategies: Sequence[Strategy],
    *,
    composer_cfg,
    risk,
) -> pl.DataFrame:
    """Blend the strategies on a test window with the chosen parameters per asset class (defaults where a class
    had no training data) and their training scores; returns the decision rows with target weights."""
    scores: dict[tuple[str, str], float] = {}
    sig_cols = []
    for s in strategies:
        picked = chosen.filter((pl.col("strategy") == s.name) & pl.col("chosen"))
        expr = s.signal_expr(s.resolve())
        for row in picked.sort("asset_class").iter_rows(named=True):
            scores[(row["asset_class"], s.name)] = row["score"]
            expr = pl.when(pl.col("asset_class") == row["asset_class"]).then(
                s.signal_expr(json.loads(row["params_json"]))).otherwise(expr)
        sig_cols.append(expr.alias(f"{SIG}{s.name}"))
    base = test.select("symbol", "ts", "asset_class", "regime", "regime_confidence", "bar_no", "close", "vol",
                       *sig_cols)
    blended = blend(base.lazy(), strategies, scores, composer_cfg).collect()
    out = base.join(blended, on=["symbol", "ts"], how="left", maintain_order="left")
    # The decision rows are kept for the whole out-of-sample period: diagnostics go narrow once sized.
    narrow = [pl.col(f"{p}{s.name}").cast(pl.Float32) for s in strategies for p in (SIG, W)]
    return out.with_columns(sized_targets(pl.col("signal"), risk)).drop(
        "regime_confidence", "bar_no", "close", "vol").with_columns(narrow)


def run_oos(
    panel: Panel,
    folds: Sequence[Fold],
    chosen_by_fold: Mapping[int, pl.DataFrame],
    strategies: Sequence[Strategy],
    *,
    composer_cfg,
    risk,
    sim_params,
) -> OOSResult:
    """Compose every fold's test window, simulate them as one book, and break the result down by fold."""
    parts = []
    for f in folds:
        test = window(panel.frame, panel.index, f.test_start, f.test_end)
        parts.append(
            compose_fold(test, chosen_by_fold[f.index], strategies, composer_cfg=composer_cfg, risk=risk)
            .with_columns(pl.lit(f.index, pl.Int32).alias("fold"))
        )
    decisions = pl.concat(parts).sort("symbol", "ts")
    lo, hi = panel.index[folds[0].test_start], panel.index[folds[-1].test_end - 1]
    bars = panel.frame.select("symbol", "ts", "open", "high", "low", "close").filter(pl.col("ts").is_between(lo, hi))
    sim = simulate(bars, decisions.select("symbol", "ts", "target_weight"), sim_params)
    fold_of_ts = decisions.select("ts", "fold").unique("ts").sort("ts")
    equity = sim.equity.join(fold_of_ts, on="ts", how="left").with_columns(pl.col("fold").forward_fill().fill_null(0))
    fills = sim.fills.join(fold_of_ts, on="ts", how="left").with_columns(pl.col("fold").fill_null(0))
    trades = _trades(sim, bars, fold_of_ts)
    ppy = _periods_per_year(equity)
    fm = _fold_metrics(equity, trades, sim, ppy)
    return OOSResult(
        sim=sim,
        decisions=decisions,
        equity=equity.select("fold", "ts", "equity", "cash", "gross_exposure"),
        fold_metrics=fm,
        trades=trades,
        fills=fills,
        weights=_weights(decisions, strategies),
        attribution=_attribution(sim, bars, decisions, strategies),
        summary=fm.filter(pl.col("fold") == -1).drop("fold").row(0, named=True) | {"periods_per_year": ppy},
    )


def _periods_per_year(equity: pl.DataFrame) -> float:
    ts = equity["ts"].dt.epoch("s").to_numpy().astype(np.float64)
    return metrics.periods_per_year(ts)


def _trades(sim: SimResult, bars: pl.DataFrame, fold_of_ts: pl.DataFrame) -> pl.DataFrame:
    last_close = bars.drop_nulls("close").group_by("symbol").agg(pl.col("close").sort_by("ts").last())
    t = round_trips(sim.fills, last_close)
    return t.join(fold_of_ts.rename({"ts": "entry_ts"}), on="entry_ts", how="left").with_columns(
        pl.col("fold").fill_null(0)
    )


def _fold_metrics(equity: pl.DataFrame, trades: pl.DataFrame, sim: SimResult, ppy: float) -> pl.DataFrame:
    weights = sim.positions.pivot(on="symbol", index="ts", values="weight").sort("ts")
    w_all = weights.drop("ts").fill_null(0.0).to_numpy()
    rows = []
    scopes = [(-1, np.ones(equity.height, dtype=bool))] + [
        (int(k), (equity["fold"] == k).to_numpy()) for k in equity["fold"].unique().sort().to_list()
    ]
    eq_all = equity["equity"].to_numpy()
    gross_all = equity["gross_exposure"].to_numpy()
    for fold, mask in scopes:
        idx = np.flatnonzero(mask)
        # a fold's curve starts from the previous fold's last equity, so its first bar's return counts
        start = max(idx[0] - 1, 0)
        eq = eq_all[start: idx[-1] + 1]
        tr = trades if fold == -1 else trades.filter(pl.col("fold") == fold)
        closed = tr.filter(pl.col("exit_ts").is_not_null())["ret"].to_numpy()
        m = metrics.summarize(eq, periods_per_year=ppy, trade_returns=closed,
                              weights=w_all[start: idx[-1] + 1], gross=gross_all[idx])
        rows.append({"fold": fold, **m, "start_equity": float(eq[0]), "end_equity": float(eq[-1])})
    return pl.DataFrame(rows).with_columns(pl.col("fold").cast(pl.Int32))


def _weights(decisions: pl.DataFrame, strategies: Sequence[Strategy]) -> pl.DataFrame:
    """Mean composer weight per (fold, asset class, regime, strategy): averaged first, then made long."""
    return (
        decisions.with_columns(pl.col("regime").fill_null("unknown"))
        .group_by("fold", "asset_class", "regime")
        .agg(*[pl.col(f"{W}{s.name}").cast(pl.Float64).mean() for s in strategies], pl.len().cast(pl.Int64).alias("bars"))
        .unpivot(index=["fold", "asset_class", "regime", "bars"], on=[f"{W}{s.name}" for s in strategies],
                 variable_name="strategy", value_name="mean_weight")
        .with_columns(pl.col("strategy").str.strip_prefix(W))
        .select("fold", "asset_class", "regime", "strategy", "mean_weight", "bars")
        .sort("fold", "asset_class", "regime", "strategy")
    )


def _attribution(sim: SimResult, bars: pl.DataFrame, decisions: pl.DataFrame, strategies) -> pl.DataFrame:
    """P&L per (fold, symbol, regime, strategy). The P&L of bar t comes from the position decided at t-1, so it
    is split by the decision at t-1: strategy s gets w_s·sig_s / Σ w·sig of it ('(none)' when that is 0).
    Rows with strategy '(all)' carry the whole P&L (by regime)."""
    # Positions are on the book's whole time grid (a weekend row for an equity next to crypto): they are marked at
    # the last close, like the kernel values them.
    grid = sim.positions.select("symbol", "ts", "qty")
    marks = (
        grid.select("symbol", "ts").join(bars.select("symbol", "ts", "close"), on=["symbol", "ts"], how="left")
        .sort("symbol", "ts").select("symbol", "ts", pl.col("close").forward_fill().over("symbol").alias("mark"))
    )
    pnl = bar_pnl(grid, marks, sim.fills)
    contrib = [(pl.col(f"{W}{s.name}") * pl.col(f"{SIG}{s.name}").fill_null(0.0)).alias(s.name) for s in strategies]
    prev = decisions.sort("symbol", "ts").select(
        "symbol", "ts", "fold", pl.col("regime").fill_null("unknown"), *contrib
    ).with_columns(pl.exclude("symbol", "ts").shift(1).over("symbol"))
    names = [s.name for s in strategies]
    total = pl.sum_horizontal(names)
    j = pnl.join(prev, on=["symbol", "ts"], how="left").drop_nulls("fold")
    # Summed per (fold, symbol, regime) first, then turned long: the long form of every bar would be
    # (strategies + 2) times the bars.
    sums = j.group_by("fold", "symbol", "regime").agg(
        *[pl.when(total.abs() > 1e-12).then(pl.col(n) / total * pl.col("pnl")).otherwise(0.0).sum().alias(n)
          for n in names],
        pl.when(total.abs() > 1e-12).then(0.0).otherwise(pl.col("pnl")).sum().alias("(none)"),
        pl.col("pnl").sum().alias("(all)"),
        pl.len().cast(pl.Int64).alias("bars"),
    )
    return (
        sums.unpivot(index=["fold", "symbol", "regime", "bars"], on=[*names, "(none)", "(all)"],
                     variable_name="strategy", value_name="pnl")
        .select("fold", "symbol", "regime", "strategy", "pnl", "bars")
        .sort("fold", "symbol", "regime", "strategy")
    )
