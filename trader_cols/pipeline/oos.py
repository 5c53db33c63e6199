"""Out of sample: each fold's test window composed with the parameters its training chose, all windows simulated
as one continuous book, and the results split back into folds (metrics, trades, weights, attribution).

Everything per bar stays in dense time-major `[T, N]` arrays (T = the out-of-sample period's bars, N = symbols):
each fold's decision rows are reduced to its target weights, regimes and strategy contributions as soon as they
are composed, the book is simulated on arrays, and attribution and fold metrics are grouped with NumPy. No long
frame of every (symbol, bar) is built; the panel is let go once the windows are composed."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import polars as pl

from trader_cols import metrics
from trader_cols.composer import SIG, W, blend
from trader_cols.folds import Fold
from trader_cols.pipeline.panel import LABEL_COLUMNS, Panel, sized_targets, window
from trader_cols.schema import UTC_TS
from trader_cols.sim import (
    EQUITY_SCHEMA,
    grid_cells,
    market_on_grid,
    position_weights,
    positions_frame,
    simulate_arrays,
)
from trader_cols.strategies import Strategy
from trader_cols.trades import round_trips

UNKNOWN = "unknown"  # the regime of a bar the labeller left unlabelled
TRADE_BATCH = 64  # symbols whose fills are turned into trades together
ATTRIBUTION_ROWS = 256  # bars of the grid attributed together
TAIL_FOLDS = 20  # folds composed from copies of their windows once the panel is let go


@dataclass(frozen=True)
class OOSBook:
    """The stitched book: equity and fills as frames (as `simulate` returns them), positions as time-major
    [T, N] quantities and weights; `positions` makes them long (symbol, ts, qty, weight) on demand."""

    equity: pl.DataFrame  # ts, equity, cash, gross_exposure
    fills: pl.DataFrame  # ts, symbol, side, qty, price, fees, reason, optimistic
    stats: pl.DataFrame
    symbols: tuple[str, ...]
    ts: np.ndarray  # int64 microseconds, [T]
    quantities: np.ndarray  # [T, N]
    weights: np.ndarray  # [T, N]
    params: Any  # the kernel's SimParams
    optimistic: bool

    @property
    def positions(self) -> pl.DataFrame:
        return positions_frame(self.quantities, self.weights, self.symbols, self.ts)


@dataclass(frozen=True)
class OOSResult:
    """The stitched out-of-sample run and its breakdowns, as frames ready for the warehouse."""

    sim: OOSBook
    targets: np.ndarray  # [T, N] target weight decided at each bar (NaN: none or hold)
    decided: np.ndarray  # [T, N] bool: a decision row exists (the symbol has a bar in a test window)
    fold_of_bar: np.ndarray  # [T] fold whose test window holds the bar (-1: none)
    equity: pl.DataFrame  # fold, ts, equity, cash, gross_exposure
    fold_metrics: pl.DataFrame  # fold (-1 = whole), metrics, start/end equity
    trades: pl.DataFrame
    fills: pl.DataFrame
    weights: pl.DataFrame
    attribution: pl.DataFrame
    summary: dict

    @property
    def decisions(self) -> pl.DataFrame:
        """symbol, ts, fold, target_weight of every decision row (a bar in a test window), by (symbol, ts)."""
        i, t = np.nonzero(self.decided.T)
        return pl.DataFrame({
            "symbol": pl.Series(list(self.sim.symbols), dtype=pl.String).gather(i),
            "ts": pl.Series(self.sim.ts[t]).cast(UTC_TS),
            "fold": self.fold_of_bar[t],
            "target_weight": self.targets[t, i],
        })


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
        "regime_confidence", "bar_no", "close", "vol").with_columns(*narrow, pl.col(*LABEL_COLUMNS).cast(pl.String))


@dataclass
class _Decided:
    """The decision rows of every fold reduced to dense arrays over the out-of-sample grid."""

    symbols: tuple[str, ...]
    ts: np.ndarray  # [T] int64 microseconds
    target: np.ndarray  # [T, N] float64, NaN where nothing was decided
    decided: np.ndarray  # [T, N] bool: a decision row exists
    regime: np.ndarray  # [T, N] int8 code into `regimes`
    contrib: np.ndarray  # [S, T, N] float32: w_s · sig_s of each strategy
    fold_of_bar: np.ndarray  # [T] int32, -1 outside every test window
    regimes: list[str]
    weights: pl.DataFrame


def run_oos(
    panel: Panel | Callable[[], Panel],
    folds: Sequence[Fold],
    chosen_by_fold: Mapping[int, pl.DataFrame],
    strategies: Sequence[Strategy],
    *,
    composer_cfg,
    risk,
    sim_params,
) -> OOSResult:
    """Compose every fold's test window, simulate them as one book, and break the result down by fold.

    `panel` may be a callable that hands the panel over: the panel is then let go as soon as the test windows
    are composed and the out-of-sample bars copied out (the caller keeps no reference)."""
    p = panel() if callable(panel) else panel
    del panel
    symbols, grid = _oos_grid(p, folds)
    lo, hi = pl.Series([grid[0], grid[-1]]).cast(UTC_TS).to_list()
    market = market_on_grid(p.frame.lazy().filter(pl.col("ts").is_between(lo, hi)), symbols, grid)
    # the bars are in the market now: the panel keeps only what composing reads (the rest is freed meanwhile)
    handover = [replace(p, frame=p.frame.select(_compose_columns(p.frame.columns, chosen_by_fold.values(),
                                                                   strategies)))]
    del p
    dec = _decide(handover.pop, folds, chosen_by_fold, strategies, symbols, grid, composer_cfg=composer_cfg,
                  risk=risk)
    dec.target.flags.writeable = False  # the kernels are compiled for read-only inputs
    book = simulate_arrays(market, dec.target, sim_params)
    weights = position_weights(book.positions, book.equity, market)
    close = market.close
    del market
    fold_eq = _forward_filled(dec.fold_of_bar)
    ts_series = pl.Series("ts", dec.ts, dtype=pl.Int64).cast(UTC_TS)
    sim_equity = pl.DataFrame({"ts": ts_series, "equity": book.equity, "cash": book.cash,
                               "gross_exposure": book.gross_exposure}, schema=EQUITY_SCHEMA)
    equity = sim_equity.select(pl.Series("fold", fold_eq, dtype=pl.Int32), pl.all())
    fill_rows = np.searchsorted(dec.ts, book.fills["ts"].dt.epoch("us").to_numpy())
    fill_fold = np.maximum(dec.fold_of_bar[fill_rows], 0)
    fills = book.fills.with_columns(pl.Series("fold", fill_fold, dtype=pl.Int32))
    marks = _forward_filled_rows(close)
    del close
    fold_of_ts = pl.DataFrame({"ts": ts_series, "fold": dec.fold_of_bar}).filter(pl.col("fold") >= 0)
    trades = _trades(book.fills, dec.symbols, marks[-1], fold_of_ts)
    attribution = _attribution(book.positions, marks, fill_rows, book.fills, dec, strategies)
    del marks
    ppy = _periods_per_year(equity)
    fm = _fold_metrics(equity, trades, weights, ppy)
    sim = OOSBook(equity=sim_equity, fills=book.fills, stats=book.stats, symbols=dec.symbols, ts=dec.ts,
                  quantities=book.positions, weights=weights, params=sim_params,
                  optimistic=bool(sim_params.fill_on_close))
    return OOSResult(
        sim=sim,
        targets=dec.target,
        decided=dec.decided,
        fold_of_bar=dec.fold_of_bar,
        equity=equity,
        fold_metrics=fm,
        trades=trades,
        fills=fills,
        weights=dec.weights,
        attribution=attribution,
        summary=fm.filter(pl.col("fold") == -1).drop("fold").row(0, named=True) | {"periods_per_year": ppy},
    )


def _compose_columns(columns: Sequence[str], chosen: Iterable[pl.DataFrame], strategies) -> list[str]:
    """The panel columns `compose_fold` reads with these tuning tables: labels, sizing inputs and the features
    of every chosen (and default) parameter set."""
    read = {"symbol", "ts", "asset_class", "regime", "regime_confidence", "bar_no", "close", "vol"}
    by_name = {s.name: s for s in strategies}
    for s in strategies:
        read |= set(s.signal_expr(s.resolve()).meta.root_names())
    for table in chosen:
        for name, params in table.filter(pl.col("chosen")).select("strategy", "params_json").unique().iter_rows():
            if name in by_name:
                read |= set(by_name[name].signal_expr(json.loads(params)).meta.root_names())
    return [c for c in columns if c in read]


def _oos_grid(panel: Panel, folds: Sequence[Fold]) -> tuple[tuple[str, ...], np.ndarray]:
    """The symbols with bars in the out-of-sample period (in name order) and its timestamps (int64 µs)."""
    g0, g1 = folds[0].test_start, folds[-1].test_end
    ts_index = panel.index.slice(g0, g1 - g0)
    names = panel.frame.lazy().filter(pl.col("ts").is_between(ts_index[0], ts_index[-1])).select(
        pl.col("symbol").unique(maintain_order=True).cast(pl.String)).collect()["symbol"].to_list()
    return tuple(names), ts_index.dt.epoch("us").to_numpy()


def _decide(take: Callable[[], Panel], folds, chosen_by_fold, strategies, names: tuple[str, ...],
            grid: np.ndarray, *, composer_cfg, risk) -> _Decided:
    """Compose each fold's test window and scatter its decision rows into the dense arrays at once. The panel
    (handed over by `take`) is let go before the last `TAIL_FOLDS` windows are composed, from copies: its memory
    is returned while they are, not while the book is simulated."""
    panel = take()
    frame, index = panel.frame, panel.index
    del panel
    cut = max(len(folds) - TAIL_FOLDS, 0)
    tail: list[pl.DataFrame | None] = []
    g0 = folds[0].test_start
    n_bars, n = len(grid), len(names)
    target = np.full(n_bars * n, np.nan)
    decided = np.zeros(n_bars * n, dtype=np.bool_)
    regime = np.zeros(n_bars * n, dtype=np.int8)
    contrib = np.zeros((len(strategies), n_bars * n), dtype=np.float32)
    fold_of_bar = np.full(n_bars, -1, dtype=np.int32)
    regimes: dict[str, int] = {}
    weight_parts = []
    contrib_exprs = [(pl.col(f"{W}{s.name}") * pl.col(f"{SIG}{s.name}").fill_null(0.0)).alias(s.name)
                     for s in strategies]
    for k, f in enumerate(folds):
        if k == cut:
            tail = [window(frame, index, g.test_start, g.test_end) for g in folds[cut:]]
            del frame
        test = tail[k - cut] if k >= cut else window(frame, index, f.test_start, f.test_end)
        if k >= cut:
            tail[k - cut] = None
        d = compose_fold(test, chosen_by_fold[f.index], strategies, composer_cfg=composer_cfg, risk=risk)
        del test
        d = d.with_columns(pl.lit(f.index, pl.Int32).alias("fold"), pl.col("regime").fill_null(UNKNOWN))
        weight_parts.append(_weights(d, strategies))
        cells = grid_cells(d["symbol"], d["ts"], names, grid, "decisions")
        target[cells] = d["target_weight"].cast(pl.Float64).fill_null(np.nan).to_numpy()
        decided[cells] = True
        for r in d["regime"].unique(maintain_order=True).to_list():
            regimes.setdefault(r, len(regimes))
        regime[cells] = d["regime"].replace_strict(regimes, return_dtype=pl.Int8).to_numpy()
        for k, c in enumerate(d.select(contrib_exprs).iter_columns()):
            contrib[k, cells] = c.cast(pl.Float32).to_numpy()
        fold_of_bar[f.test_start - g0:f.test_end - g0] = f.index
    weights = pl.concat(weight_parts).sort("fold", "asset_class", "regime", "strategy")
    shape = (n_bars, n)
    return _Decided(names, grid, target.reshape(shape), decided.reshape(shape), regime.reshape(shape),
                    contrib.reshape(len(strategies), *shape), fold_of_bar, list(regimes), weights)


def _forward_filled(fold_of_bar: np.ndarray) -> np.ndarray:
    """Each bar's fold, bars outside every test window taking the previous window's (0 before the first)."""
    idx = np.where(fold_of_bar >= 0, np.arange(len(fold_of_bar)), -1)
    np.maximum.accumulate(idx, out=idx)
    return np.where(idx >= 0, fold_of_bar[np.maximum(idx, 0)], 0).astype(np.int32)


def _forward_filled_rows(a: np.ndarray) -> np.ndarray:
    """[T, N] → the latest non-NaN value at or before each row of each column (NaN before the first)."""
    idx = np.where(np.isnan(a), -1, np.arange(a.shape[0])[:, None])
    np.maximum.accumulate(idx, axis=0, out=idx)
    out = a[np.maximum(idx, 0), np.arange(a.shape[1])[None, :]]
    out[idx < 0] = np.nan
    return out


def _periods_per_year(equity: pl.DataFrame) -> float:
    ts = equity["ts"].dt.epoch("s").to_numpy().astype(np.float64)
    return metrics.periods_per_year(ts)


def _trades(fills: pl.DataFrame, symbols: tuple[str, ...], last_close: np.ndarray,
            fold_of_ts: pl.DataFrame) -> pl.DataFrame:
    """Round trips of the fills, `TRADE_BATCH` symbols at a time (trades are per symbol, so the batches are the
    whole in symbol order), each with the fold its entry falls in."""
    enum = pl.Enum(list(symbols))
    codes = fills["symbol"].cast(enum).to_physical().to_numpy()
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(0, len(symbols) + TRADE_BATCH, TRADE_BATCH))
    marks = pl.DataFrame({"symbol": list(symbols), "close": last_close}).filter(pl.col("close").is_not_nan())
    entry_fold = fold_of_ts.rename({"ts": "entry_ts"})
    parts = []
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        if b > a:
            t = round_trips(fills[order[a:b]], marks)
            parts.append(t.join(entry_fold, on="entry_ts", how="left", maintain_order="left")
                         .with_columns(pl.col("fold").fill_null(0)))
    if parts:
        return pl.concat(parts)
    return round_trips(fills, marks).with_columns(pl.lit(0, pl.Int32).alias("fold"))


def _fold_metrics(equity: pl.DataFrame, trades: pl.DataFrame, w_all: np.ndarray, ppy: float) -> pl.DataFrame:
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
        decisions.with_columns(pl.col("regime").fill_null(UNKNOWN))
        .group_by("fold", "asset_class", "regime")
        .agg(*[pl.col(f"{W}{s.name}").cast(pl.Float64).mean() for s in strategies], pl.len().cast(pl.Int64).alias("bars"))
        .unpivot(index=["fold", "asset_class", "regime", "bars"], on=[f"{W}{s.name}" for s in strategies],
                 variable_name="strategy", value_name="mean_weight")
        .with_columns(pl.col("strategy").str.strip_prefix(W))
        .select("fold", "asset_class", "regime", "strategy", "mean_weight", "bars")
    )


def _attribution(positions: np.ndarray, marks: np.ndarray, fill_rows: np.ndarray, fills: pl.DataFrame,
                 dec: _Decided, strategies) -> pl.DataFrame:
    """P&L per (fold, symbol, regime, strategy). The P&L of bar t comes from the position decided at the
    symbol's previous decision, so it is split by that decision: strategy s gets w_s·sig_s / Σ w·sig of it
    ('(none)' when that is 0). Rows with strategy '(all)' carry the whole P&L (by regime). Only bars with a
    decision of their own and a previous one count.

    A bar's P&L is q_t·m_t − q_{t−1}·m_{t−1} + Σ its fills' cash flow − Σ their fees (`trades.bar_pnl` on long
    frames), with m the last close (0 before a symbol's first). Positions are on the book's whole time grid (a
    weekend row for an equity next to crypto): they are marked at the last close, like the kernel values them.
    The grid is walked `ATTRIBUTION_ROWS` bars at a time, each group's sums accumulated in bar order."""
    n_bars, n = positions.shape
    names = [s.name for s in strategies]
    order = np.argsort(fill_rows, kind="stable")  # (the kernel logs fills in bar order: this keeps it)
    rows = fill_rows[order]
    codes = fills["symbol"].cast(pl.Enum(list(dec.symbols))).to_physical().to_numpy()[order].astype(np.int64)
    side = fills["side"].to_numpy()[order]
    flow = np.where(side == "buy", -1.0, 1.0) * fills["qty"].to_numpy()[order] * fills["price"].to_numpy()[order]
    fees = fills["fees"].to_numpy()[order]
    del order, side
    # the row of each symbol's previous decision, for the bars that have one
    prev = np.where(dec.decided, np.arange(n_bars, dtype=np.int32)[:, None], np.int32(-1))
    prev[1:] = prev[:-1].copy()
    prev[0] = -1
    np.maximum.accumulate(prev, axis=0, out=prev)
    fold_ids = np.unique(dec.fold_of_bar[dec.fold_of_bar >= 0])
    fold_pos = np.searchsorted(fold_ids, dec.fold_of_bar).astype(np.int64)
    n_reg = max(len(dec.regimes), 1)
    size = len(fold_ids) * n * n_reg
    sums = {k: np.zeros(size) for k in [*names, "(none)", "(all)"]}
    bars = np.zeros(size, dtype=np.int64)
    for a in range(0, n_bars, ATTRIBUTION_ROWS):
        b = min(a + ATTRIBUTION_ROWS, n_bars)
        lo = max(a - 1, 0)
        value = positions[lo:b] * np.nan_to_num(marks[lo:b], nan=0.0)
        pnl = value[a - lo:].copy()  # value[t] − value[t − 1], with value[−1] = 0
        if a > 0:
            pnl -= value[:-1]
        else:
            pnl[1:] -= value[:-1]
        del value
        f0, f1 = np.searchsorted(rows, [a, b])
        cells = (rows[f0:f1] - a) * n + codes[f0:f1]
        pnl += np.bincount(cells, weights=flow[f0:f1], minlength=pnl.size).reshape(pnl.shape)
        pnl -= np.bincount(cells, weights=fees[f0:f1], minlength=pnl.size).reshape(pnl.shape)
        t, i = np.nonzero(dec.decided[a:b] & (prev[a:b] >= 0))
        p = prev[a:b][t, i]
        key = (fold_pos[p] * n + i) * n_reg + dec.regime[p, i]
        pnl_k = pnl[t, i]
        c = {k: dec.contrib[j][p, i] for j, k in enumerate(names)}
        # float32 like the contributions, and summed by Polars: its horizontal sum is a pairwise one
        total = pl.DataFrame(c).select(pl.sum_horizontal(names)).to_series().to_numpy()
        has = np.abs(total) > np.float32(1e-12)
        with np.errstate(invalid="ignore", divide="ignore"):
            for k, ck in c.items():
                sums[k] += np.bincount(key, weights=np.where(has, (ck / total).astype(np.float64) * pnl_k, 0.0),
                                       minlength=size)
        sums["(none)"] += np.bincount(key, weights=np.where(has, 0.0, pnl_k), minlength=size)
        sums["(all)"] += np.bincount(key, weights=pnl_k, minlength=size)
        bars += np.bincount(key, minlength=size)
    keep = np.flatnonzero(bars)
    reg_of = keep % n_reg
    sym_of = (keep // n_reg) % n
    fold_of = fold_ids[keep // n_reg // n]
    frame = pl.DataFrame({
        "fold": pl.Series(fold_of, dtype=pl.Int32),
        "symbol": pl.Series(list(dec.symbols), dtype=pl.String).gather(sym_of),
        "regime": pl.Series(dec.regimes or [UNKNOWN], dtype=pl.String).gather(reg_of),
        "bars": bars[keep],
        **{k: v[keep] for k, v in sums.items()},
    })
    return (
        frame.unpivot(index=["fold", "symbol", "regime", "bars"], on=[*names, "(none)", "(all)"],
                      variable_name="strategy", value_name="pnl")
        .select("fold", "symbol", "regime", "strategy", "pnl", "bars")
        .sort("fold", "symbol", "regime", "strategy")
    )
