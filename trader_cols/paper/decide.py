"""Which parameters decide, and the target weights of the latest bar: the walkforward's own panel and composition.

A paper session trades with the chosen parameters (table chosen_params, chosen = true) of the last fold of a
finished run whose decision-making config matches this one (`decision_hash`: composer, features, regimes, asset
classes and the volatility-targeting inputs). The targets of a bar are computed exactly as the walkforward computes
its last bar: the panel is built from the run's start (less the run's warm-up) up to that bar with
`pipeline.panel.build_panel`, and the last fold's test window — extended to that bar — is composed with
`pipeline.oos.compose_fold`. Features are causal, so the values at the bar are those the run itself would compute.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime

import polars as pl

from trader_cols.config import Config, redacted
from trader_cols.errors import ConfigError, WarehouseError
from trader_cols.pipeline.oos import compose_fold
from trader_cols.pipeline.panel import build_panel, warmup_lead, window
from trader_cols.pipeline.tuning import CHOSEN
from trader_cols.strategies import Strategy, get_strategy

TARGET_COLUMNS = ("symbol", "ts", "asset_class", "regime", "signal", "target_weight")


def decision_hash(config: Mapping | Config) -> str:
    """Hash of what turns bars into target weights: composer, features, regimes, asset classes, vol targeting.

    Risk limits, costs, the broker and alerts are left out: the paper loop may run tighter guardrails than the run
    was tested with without losing its parameters.
    """
    d = config if isinstance(config, Mapping) else redacted(config)
    risk = d.get("risk", {})
    keep = {
        "composer": d.get("composer"), "features": d.get("features"), "regimes": d.get("regimes"),
        "asset_classes": d.get("asset_classes", {}),
        "vol": {"vol_target": risk.get("vol_target"), "vol_lookback_bars": risk.get("vol_lookback_bars")},
    }
    canon = json.dumps(keep, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canon.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ChosenRun:
    """A finished run whose last fold's chosen parameters decide, with its headline out-of-sample metrics."""

    run_id: str
    kind: str
    interval: str
    symbols: tuple[str, ...]
    start: date  # the run's first requested date: its panel starts warm-up bars before it
    warmup_bars: int
    last_fold: int
    test_start: datetime  # first bar of the last fold's test window
    test_end: datetime
    chosen: pl.DataFrame = field(repr=False)  # CHOSEN schema, that fold's rows
    started_at: datetime
    sharpe: float | None
    max_drawdown: float | None
    trades: float | None


def find_runs(read, cfg: Config, interval: str, symbols: Sequence[str]) -> pl.DataFrame:
    """Finished runs over `interval` that cover `symbols` and were made with this decision config, newest first.

    `read(sql, params)` runs read-only SQL on the catalog.
    """
    runs = read(
        "SELECT r.run_id, r.kind, r.started_at, r.config_json, r.symbols, r.interval, m.sharpe, m.max_drawdown, "
        "m.trades FROM runs r LEFT JOIN fold_metrics m ON m.run_id = r.run_id AND m.fold = -1 AND m.scope = 'oos' "
        "WHERE r.status = 'done' AND r.interval = $i ORDER BY r.started_at DESC, r.run_id DESC",
        {"i": interval},
    )
    if not runs.height:
        return runs
    want = decision_hash(cfg)
    keep = [
        r["run_id"] for r in runs.iter_rows(named=True)
        if set(symbols) <= set(r["symbols"]) and decision_hash(json.loads(r["config_json"])) == want
    ]
    return runs.filter(pl.col("run_id").is_in(keep))


def load_run(read, cfg: Config, run_id: str, *, symbols: Sequence[str], interval: str) -> ChosenRun:
    """The run `run_id` with its last fold's chosen parameters; errors say why it cannot decide for this session."""
    rows = read("SELECT r.*, m.sharpe, m.max_drawdown, m.trades FROM runs r LEFT JOIN fold_metrics m "
                "ON m.run_id = r.run_id AND m.fold = -1 AND m.scope = 'oos' WHERE r.run_id = $r", {"r": run_id})
    if not rows.height:
        raise WarehouseError(f"no run {run_id!r} in the warehouse (see `tcols runs`)")
    r = rows.row(0, named=True)
    if r["status"] != "done":
        raise WarehouseError(f"run {run_id} is {r['status']}, not done")
    if r["interval"] != interval:
        raise ConfigError(f"run {run_id} is over {r['interval']} bars, the session over {interval}", key="--interval")
    missing = sorted(set(symbols) - set(r["symbols"]))
    if missing:
        raise ConfigError(f"run {run_id} did not trade {', '.join(missing)}", key="--symbols")
    run_cfg = json.loads(r["config_json"])
    if decision_hash(run_cfg) != decision_hash(cfg):
        raise ConfigError(f"run {run_id} was made with other composer/features/regimes/asset-class/vol-target "
                          "settings than this config: its parameters would not mean the same here")
    folds = read("SELECT fold, test_start_ts, test_end_ts FROM folds WHERE run_id = $r ORDER BY fold DESC LIMIT 1",
                 {"r": run_id})
    if not folds.height:
        raise WarehouseError(f"run {run_id} has no folds")
    f = folds.row(0, named=True)
    chosen = read("SELECT asset_class, strategy, params_json, score, cagr, sharpe, win_rate, avg_trade, chosen "
                  "FROM chosen_params WHERE run_id = $r AND fold = $f ORDER BY asset_class, strategy, params_json",
                  {"r": run_id, "f": f["fold"]})
    if not chosen.height:
        chosen = pl.DataFrame(schema=CHOSEN)
    return ChosenRun(
        run_id=run_id, kind=r["kind"], interval=r["interval"], symbols=tuple(r["symbols"]),
        start=_utc(r["start_ts"]).date(), warmup_bars=int(run_cfg.get("walkforward", {}).get("warmup_bars", 0)),
        last_fold=int(f["fold"]), test_start=_utc(f["test_start_ts"]), test_end=_utc(f["test_end_ts"]),
        chosen=chosen.select(list(CHOSEN)).cast(CHOSEN), started_at=_utc(r["started_at"]),
        sharpe=r["sharpe"], max_drawdown=r["max_drawdown"], trades=r["trades"],
    )


def history_start(run: ChosenRun) -> datetime:
    """The first bar time the run's panel read (its start less the warm-up lead): every cycle reads from here."""
    return datetime.combine(run.start, datetime.min.time(), UTC) - warmup_lead(run.warmup_bars)


def _pinned(strategy: Strategy, chosen: pl.DataFrame) -> Strategy:
    """The strategy with its tuning grid narrowed to the chosen values (plus the defaults), so that the panel
    computes only the features the composition reads."""
    rows = chosen.filter((pl.col("strategy") == strategy.name) & pl.col("chosen"))
    picked = [strategy.resolve(json.loads(p)) for p in rows["params_json"].to_list()] + [strategy.resolve()]
    params = tuple(
        replace(p, grid=tuple(sorted({v[p.name] for v in picked})), fast_grid=tuple(sorted({v[p.name] for v in picked})))
        for p in strategy.params
    )
    return replace(strategy, params=params)


def compose_targets(
    bars: pl.DataFrame,
    run: ChosenRun,
    cfg: Config,
    decision_ts: datetime,
    *,
    strategies: Sequence[Strategy] | None = None,
) -> pl.DataFrame:
    """Target weights of every symbol with a bar at `decision_ts` (TARGET_COLUMNS), from `bars` read from
    `history_start(run)` up to `decision_ts`: the panel and the last fold's test window extended to that bar."""
    strategies = list(strategies) if strategies is not None else [get_strategy(n) for n in cfg.composer.strategies]
    bars = bars.filter(pl.col("ts") <= decision_ts)
    panel = build_panel(
        bars, run.start, strategies=[_pinned(s, run.chosen) for s in strategies], fast=False,
        regimes_cfg=cfg.regimes, class_overrides=cfg.asset_classes, risk=cfg.risk,
    )
    lo = int(panel.index.search_sorted(run.test_start))
    if lo >= panel.index.len() or panel.index[-1] != decision_ts:
        return pl.DataFrame(schema={"symbol": pl.String, "ts": bars.schema["ts"], "asset_class": pl.String,
                                    "regime": pl.String, "signal": pl.Float64, "target_weight": pl.Float64})
    test = window(panel.frame, panel.index, lo, panel.index.len())
    decided = compose_fold(test, run.chosen, strategies, composer_cfg=cfg.composer, risk=cfg.risk)
    return decided.filter(pl.col("ts") == decision_ts).select(
        "symbol", "ts", "asset_class", "regime", pl.col("signal").cast(pl.Float64),
        pl.col("target_weight").cast(pl.Float64),
    ).sort("symbol")


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
