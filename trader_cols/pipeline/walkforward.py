"""The walkforward and backtest use cases: panel → folds → tune each training window → compose and simulate out
of sample → every result in the warehouse and a JSON summary."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from multiprocessing import get_context
from pathlib import Path

import polars as pl

from trader_cols import schema
from trader_cols.config import Config, config_hash, redacted
from trader_cols.errors import ConfigError, DataSanityError, WarehouseError
from trader_cols.folds import Fold, make_folds
from trader_cols.logs import get_logger, progress
from trader_cols.pipeline.ingest import IngestRequest, ingest
from trader_cols.pipeline.oos import OOSResult, run_oos
from trader_cols.pipeline.panel import Panel, load_panel, warmup_lead, window
from trader_cols.pipeline.tuning import CHOSEN, grid_points, sized_grid_targets, tune_fold
from trader_cols.sanity import raise_on_errors, validate
from trader_cols.sanity.lookahead import assert_causal
from trader_cols.sim import sim_params
from trader_cols.strategies import REGISTRY, Strategy, compute_signal, get_strategy
from trader_cols.warehouse import Warehouse

log = get_logger(__name__)
PERF_MODES = ("RELAXED", "STRICT")
TASKS_PER_WORKER = 16  # folds a worker process tunes before it is replaced (bounds memory growth)
# Grid targets are sized once over the whole panel when rows × grid points stays under this (else per fold).
PRECOMPUTE_CELLS = 25_000_000
STORE_EVERY_S = 2.0  # tuned folds are committed at least this often (what a resume can lose)


@dataclass(frozen=True)
class RunRequest:
    """What to run. Fold lengths default to the config's walkforward section; `kind='backtest'` runs one
    in-sample window (tuned and simulated on the same bars) through the same code."""

    symbols: tuple[str, ...]
    start: date
    end: date
    kind: str = "walkforward"
    interval: str = "1d"
    train_len: int | None = None
    test_len: int | None = None
    stride: int | None = None
    fast: bool = False
    jobs: int = 1
    perf_mode: str | None = None
    validate_data: bool = False
    resume: str | None = None
    initial_capital: float | None = None
    ingest_missing: bool = True  # bars not stored for [start - warm-up, end] are ingested from config data.source


@dataclass
class RunResult:
    """A finished run: its id, folds, tuning table, out-of-sample result and where the JSON summary went."""

    run_id: str
    folds: list[Fold]
    chosen: pl.DataFrame
    oos: OOSResult
    summary: dict
    json_path: Path | None = None
    timings: dict = field(default_factory=dict)


def new_run_id(kind: str, cfg_hash: str, now: datetime) -> str:
    """`wf-20240102T030405-1a2b3c4d-9f8e`: kind, start time, config hash, random suffix."""
    prefix = "wf" if kind == "walkforward" else "bt"
    return f"{prefix}-{now.strftime('%Y%m%dT%H%M%S')}-{cfg_hash[:8]}-{secrets.token_hex(2)}"


def code_version() -> str:
    """Package version plus a hash of the package's Python and SQL sources: identifies the code that ran."""
    from trader_cols._version import __version__
    from trader_cols.sqlfiles import resource_dir

    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for p in sorted([*root.rglob("*.py"), *resource_dir("sql").rglob("*.sql")]):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return f"{__version__}+{h.hexdigest()[:12]}"


def data_version(wh: Warehouse, interval: str, symbols: Sequence[str]) -> str:
    """Hash of (symbol, version, content hash) of the bar files a run reads."""
    rows = wh.query(
        "SELECT symbol, version, content_hash FROM bar_files WHERE interval = $i AND list_contains($s, symbol) "
        "ORDER BY symbol",
        {"i": interval, "s": list(symbols)},
    )
    return hashlib.sha256(rows.write_csv().encode()).hexdigest()[:16]


def resolve_strategies(names: Sequence[str]) -> list[Strategy]:
    return [get_strategy(n) for n in names]


def refuse_lookahead(panel: Panel, strategies: Sequence[Strategy], *, cutoffs: int = 4) -> None:
    """Put every strategy through the prefix-truncation test on a slice of the run's own data; a strategy that
    reads the future is refused with LookaheadError before anything runs."""
    syms = list(panel.symbols[:2])
    sample = panel.frame.filter(pl.col("symbol").is_in(syms)).group_by("symbol", maintain_order=True).head(400)
    bars = sample.select("symbol", "ts", "open", "high", "low", "close", "volume")
    for s in strategies:
        assert_causal(bars, lambda lf, s=s: compute_signal(lf, s), ["signal"], cutoffs=cutoffs, seed=0)


def run(
    wh: Warehouse,
    req: RunRequest,
    cfg: Config,
    *,
    strategies: Sequence[Strategy] | None = None,
    now: datetime | None = None,
    on_fold: Callable[[int], None] | None = None,
    results_dir: Path | None = Path("results/walkforward"),
) -> RunResult:
    """Run a walkforward (or backtest) and store everything. See RunRequest."""
    t_start = time.perf_counter()
    now = now or datetime.now(UTC)
    timings: dict[str, float] = {}
    strategies = list(strategies) if strategies is not None else resolve_strategies(cfg.composer.strategies)
    if req.perf_mode is not None and req.perf_mode not in PERF_MODES:
        raise ConfigError(f"perf mode {req.perf_mode!r} is not RELAXED or STRICT", key="--perf-mode")
    wf = cfg.walkforward
    train_len, test_len, stride = req.train_len or wf.train_len, req.test_len or wf.test_len, req.stride or wf.stride
    engine = cfg.engine if req.initial_capital is None else replace(cfg.engine, initial_capital=req.initial_capital)
    params = sim_params(cfg.risk, engine)

    t = time.perf_counter()
    if req.ingest_missing:
        _ingest_missing(wh, req, cfg, now)
    panel = load_panel(
        wh, req.symbols, req.start, req.end, interval=req.interval, strategies=strategies, fast=req.fast,
        warmup_bars=wf.warmup_bars, regimes_cfg=cfg.regimes, class_overrides=cfg.asset_classes, risk=cfg.risk,
    )
    timings["panel_s"] = time.perf_counter() - t
    if req.validate_data or req.perf_mode is not None:
        _validate(wh, panel, req, cfg, now)
    refuse_lookahead(panel, strategies)
    panel = replace(panel, frame=panel.frame.drop("volume"))  # read by the checks above only

    n = panel.index.len()
    if req.kind == "backtest":
        folds = [Fold(0, 0, 0, n, 0, n)]
    else:
        folds = make_folds(
            n, train_len=train_len, test_len=test_len, stride=stride, window=wf.window,
            embargo_bars=wf.embargo_bars, warmup_bars=wf.warmup_bars,
            allow_truncated_final_fold=wf.allow_truncated_final_fold,
        )
    cfg_hash = config_hash(cfg)
    run_id = req.resume or new_run_id(req.kind, cfg_hash, now)
    done = _stored_folds(wh, run_id) if req.resume else {}
    if req.resume and not done and not _run_exists(wh, run_id):
        raise WarehouseError(f"no run {run_id!r} to resume (see `tcols runs`)")
    if not req.resume:
        _start_run(wh, run_id, req, cfg, cfg_hash, now, params)

    t = time.perf_counter()
    todo = [f for f in folds if f.index not in done]
    chosen = dict(done)
    pending: list[tuple[Fold, pl.DataFrame, float]] = []
    last_store = time.monotonic()
    for f, table, secs in _tune_all(panel, todo, strategies, req, cfg, params):
        chosen[f.index] = table
        pending.append((f, table, secs))
        if time.monotonic() - last_store >= STORE_EVERY_S or f is todo[-1]:
            _store_folds(wh, run_id, panel, pending)
            pending, last_store = [], time.monotonic()
        best = table.filter(pl.col("chosen")).sort("score", descending=True).row(0, named=True) if table.height else {}
        log.info(
            "fold %d/%d: train %s..%s, test %s..%s, tuned in %.2f s; best %s %s (score %.3f)",
            f.index + 1, len(folds), _d(panel.index[f.train_start]), _d(panel.index[f.train_end - 1]),
            _d(panel.index[f.test_start]), _d(panel.index[f.test_end - 1]), secs,
            best.get("strategy"), best.get("params_json"), best.get("score", float("nan")),
        )
        if on_fold:
            on_fold(f.index)
    timings["tune_s"] = time.perf_counter() - t

    t = time.perf_counter()
    index = panel.index
    # NOTE: the panel is handed over (no reference left here), so the OOS stage frees it once it is composed
    handover = [panel]
    del panel
    oos = run_oos(handover.pop, folds, chosen, strategies, composer_cfg=cfg.composer, risk=cfg.risk,
                  sim_params=params)
    timings["oos_s"] = time.perf_counter() - t
    timings["total_s"] = time.perf_counter() - t_start
    summary = _summary(run_id, req, index, folds, oos, timings)
    _finish_run(wh, run_id, oos, summary, timings)
    json_path = _write_json(results_dir, run_id, summary) if results_dir else None
    table = pl.concat([chosen[f.index].with_columns(pl.lit(f.index, pl.Int32).alias("fold")) for f in folds])
    return RunResult(run_id, folds, table, oos, summary, json_path, timings)


# ----------------------------------------------------------------------------- tuning, serial or in a pool


def _tune_all(panel: Panel, folds: Sequence[Fold], strategies, req: RunRequest, cfg: Config, params):
    points = grid_points(strategies, req.fast)
    by_name = {s.name: s for s in strategies}
    kwargs = dict(sim_params=params, risk=cfg.risk, score_weights=cfg.composer.score_weights,
                  periods_per_year=panel.periods_per_year)
    if panel.frame.height * len(points) <= PRECOMPUTE_CELLS:
        panel = replace(panel, frame=panel.frame.hstack(sized_grid_targets(panel.frame, by_name, points, cfg.risk)))
    if req.jobs <= 1 or len(folds) <= 1:
        for f in progress(folds, label="folds", total=len(folds)):
            t = time.perf_counter()
            table = tune_fold(window(panel.frame, panel.index, f.train_start, f.train_end), by_name, points, **kwargs)
            yield f, table, time.perf_counter() - t
        return
    unknown = [s.name for s in strategies if REGISTRY.get(s.name) is not s]
    if unknown:
        raise ConfigError(f"strategies {unknown} are not registered: parallel runs (--jobs > 1) need registered ones",
                          key="--jobs")
    _warm_numba(panel, by_name, points, kwargs)
    with tempfile.TemporaryDirectory(prefix="tcols-panel-") as tmp:
        path = Path(tmp) / "panel.arrow"
        panel.frame.write_ipc(path)
        initargs = (str(path), panel.index.to_list(), [s.name for s in strategies], req.fast, kwargs)
        # NOTE: workers are recycled by giving each pool a bounded share of the folds, then a fresh pool.
        # (ProcessPoolExecutor's own max_tasks_per_child can hang on 3.11 when workers retire after the last
        # submit: CPython gh-115634.)
        per_pool = req.jobs * TASKS_PER_WORKER
        bar = iter(progress(folds, label="folds", total=len(folds)))
        for lo in range(0, len(folds), per_pool):
            chunk = folds[lo:lo + per_pool]
            with ProcessPoolExecutor(max_workers=req.jobs, mp_context=get_context("spawn"),
                                     initializer=_worker_init, initargs=initargs) as pool:
                futures = [pool.submit(_worker_tune, f) for f in chunk]
                for f, fut in zip(chunk, futures, strict=True):
                    table_ipc, secs = fut.result()
                    next(bar, None)
                    yield f, pl.read_ipc(table_ipc), secs


def _warm_numba(panel, by_name, points, kwargs) -> None:
    """Compile the batch kernel once in this process before workers start (they would race on the cache)."""
    tiny = panel.frame.filter(pl.col("ts").is_in(panel.index.head(3).implode()))
    tune_fold(tiny, by_name, points[:1], **kwargs)


_W: dict = {}


def _worker_init(path: str, index: list, names: list[str], fast: bool, kwargs: dict) -> None:
    os.environ.setdefault("POLARS_MAX_THREADS", "1")
    _W["frame"] = pl.scan_ipc(path)  # each task reads only its window's rows
    _W["index"] = pl.Series("ts", index, dtype=schema.UTC_TS)
    strategies = resolve_strategies(names)
    _W["by_name"] = {s.name: s for s in strategies}
    _W["points"] = grid_points(strategies, fast)
    _W["kwargs"] = kwargs


def _worker_tune(f: Fold) -> tuple[bytes, float]:
    t = time.perf_counter()
    train = window(_W["frame"], _W["index"], f.train_start, f.train_end).collect()
    table = tune_fold(train, _W["by_name"], _W["points"], **_W["kwargs"])
    import io

    buf = io.BytesIO()
    table.write_ipc(buf)
    return buf.getvalue(), time.perf_counter() - t


# ----------------------------------------------------------------------------- data


def _ingest_missing(wh: Warehouse, req: RunRequest, cfg: Config, now: datetime) -> None:
    """Ingest, from the configured source, the symbols whose stored bars do not cover the run (warm-up included)."""
    first = req.start - warmup_lead(cfg.walkforward.warmup_bars)
    have = wh.query(
        "SELECT symbol, min(first_ts) AS f, max(last_ts) AS l FROM bar_files WHERE interval = $i GROUP BY symbol "
        "ORDER BY symbol", {"i": req.interval},
    )
    covered = {r["symbol"] for r in have.iter_rows(named=True)
               if r["f"].date() <= first + timedelta(days=7) and r["l"].date() >= req.end - timedelta(days=7)}
    missing = tuple(s for s in req.symbols if s not in covered)
    if not missing:
        return
    log.info("ingesting %d symbols missing from the warehouse (%s) from %s", len(missing), ", ".join(missing),
             cfg.data.source)
    result = ingest(
        wh,
        IngestRequest(symbols=missing, start=first, end=req.end, interval=req.interval, source=cfg.data.source,
                      path=cfg.data.path, auto_adjust=cfg.data.auto_adjust, seed=cfg.engine.seed),
        sanity_cfg=cfg.data_sanity, data_cfg=cfg.data, asset_classes=cfg.asset_classes, now=now,
    )
    result.raise_for_failures()


# ----------------------------------------------------------------------------- validation


def _validate(wh: Warehouse, panel: Panel, req: RunRequest, cfg: Config, now: datetime) -> None:
    """DataSanity over the run's bars: STRICT = strict profile, enforce, any finding fails; RELAXED = relaxed
    profile, warn; --validate-data alone = the configured profile and mode."""
    ds = cfg.data_sanity
    profile, mode = ds.profile, ds.mode
    if req.perf_mode == "STRICT":
        profile, mode = "strict", "enforce"
    elif req.perf_mode == "RELAXED":
        profile, mode = "relaxed", "warn"
    bars = panel.frame.select("symbol", "ts", "open", "high", "low", "close", "volume").with_columns(
        pl.lit(req.interval).alias("interval"), pl.lit(None, pl.Float64).alias("adj_close"))
    # NOTE: the data is judged as of the run's end, not the clock: a 2020 backtest's bars are not "stale".
    as_of = min(now, datetime.combine(req.end + timedelta(days=1), datetime.min.time(), UTC))
    report = validate(schema.conform(bars, schema.BARS), ds, as_of=as_of, asset_classes=panel.classes, mode=mode,
                      profile=profile, interval=req.interval, ordered_input=True)
    if req.perf_mode == "STRICT" and report.findings.height:
        raise DataSanityError(
            f"STRICT perf mode: {report.findings.height} DataSanity findings in the run's data; first: "
            f"{report.findings.row(0, named=True)['code']} {report.findings.row(0, named=True)['symbol']}",
            findings=report.findings,
        )
    if mode == "enforce":
        raise_on_errors(report)


# ----------------------------------------------------------------------------- warehouse rows


def _run_exists(wh: Warehouse, run_id: str) -> bool:
    return wh.query("SELECT count(*) AS n FROM runs WHERE run_id = $r", {"r": run_id})["n"].item() > 0


def _stored_folds(wh: Warehouse, run_id: str) -> dict[int, pl.DataFrame]:
    rows = wh.query("SELECT * FROM chosen_params WHERE run_id = $r ORDER BY fold, asset_class, strategy, params_json",
                    {"r": run_id})
    return {int(k): g.drop("run_id", "fold").select(list(CHOSEN)).cast(CHOSEN)
            for (k,), g in rows.partition_by("fold", as_dict=True).items()} if rows.height else {}


def _start_run(wh, run_id, req: RunRequest, cfg: Config, cfg_hash, now, params) -> None:
    row = pl.DataFrame([{
        "run_id": run_id, "kind": req.kind, "status": "running", "started_at": now, "finished_at": None,
        "config_hash": cfg_hash, "config_json": json.dumps(redacted(cfg), sort_keys=True, default=str),
        "data_version": data_version(wh, req.interval, req.symbols), "code_version": code_version(),
        "seed": cfg.engine.seed, "symbols": list(req.symbols), "interval": req.interval,
        "start_ts": datetime.combine(req.start, datetime.min.time(), UTC),
        "end_ts": datetime.combine(req.end, datetime.min.time(), UTC),
        "optimistic": bool(params.fill_on_close), "perf_mode": req.perf_mode, "timings_json": None,
        "summary_json": None,
    }])
    with wh.writer(), wh.connect(write=True, views=False) as con:
        Warehouse.insert(con, "runs", row)


def _store_folds(wh: Warehouse, run_id: str, panel: Panel, tuned: Sequence[tuple[Fold, pl.DataFrame, float]]) -> None:
    """Tuned folds' windows and tuning tables, in one transaction (a resumed run skips folds stored here)."""
    ix = panel.index
    fold_rows = pl.DataFrame([{
        "run_id": run_id, "fold": f.index, "warmup_start_ts": ix[f.warmup_start], "train_start_ts": ix[f.train_start],
        "train_end_ts": ix[f.train_end - 1], "test_start_ts": ix[f.test_start], "test_end_ts": ix[f.test_end - 1],
        "train_bars": f.train_end - f.train_start, "test_bars": f.test_end - f.test_start, "tune_seconds": secs,
    } for f, _, secs in tuned])
    rows = pl.concat([t.with_columns(pl.lit(run_id).alias("run_id"), pl.lit(f.index, pl.Int32).alias("fold"))
                      for f, t, _ in tuned])
    ids = [f.index for f, _, _ in tuned]
    with wh.writer(), wh.connect(write=True, views=False) as con:
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute("DELETE FROM folds WHERE run_id = $r AND list_contains($f, fold)", {"r": run_id, "f": ids})
            con.execute("DELETE FROM chosen_params WHERE run_id = $r AND list_contains($f, fold)",
                        {"r": run_id, "f": ids})
            Warehouse.insert(con, "folds", fold_rows)
            Warehouse.insert(con, "chosen_params", rows)
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise


def _finish_run(wh: Warehouse, run_id: str, oos: OOSResult, summary: dict, timings: dict) -> None:
    tagged = {
        "fold_metrics": oos.fold_metrics.with_columns(pl.lit("oos").alias("scope")),
        "equity": oos.equity, "trades": oos.trades, "fills": oos.fills, "weights": oos.weights,
        "attribution": oos.attribution,
    }
    with wh.writer(), wh.connect(write=True, views=False) as con:
        con.execute("BEGIN TRANSACTION")
        try:
            for table, frame in tagged.items():
                con.execute(f"DELETE FROM {table} WHERE run_id = $r", {"r": run_id})
                Warehouse.insert(con, table, frame.with_columns(pl.lit(run_id).alias("run_id")))
            con.execute(
                "UPDATE runs SET status = 'done', finished_at = now(), summary_json = $s, timings_json = $t "
                "WHERE run_id = $r",
                {"s": json.dumps(summary, sort_keys=True, default=str), "t": json.dumps(timings), "r": run_id},
            )
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise


def _summary(run_id: str, req: RunRequest, index: pl.Series, folds, oos: OOSResult, timings: Mapping) -> dict:
    s = {k: (round(v, 10) if isinstance(v, float) else v) for k, v in oos.summary.items()}
    return {
        "run_id": run_id, "kind": req.kind, "symbols": list(req.symbols), "interval": req.interval,
        "oos_start": str(index[folds[0].test_start]), "oos_end": str(index[folds[-1].test_end - 1]),
        "folds": len(folds), "optimistic_fills": bool(oos.sim.optimistic), "metrics": s,
        "seconds": round(float(timings.get("total_s", 0.0)), 3),
    }


def _write_json(folder: Path, run_id: str, summary: dict) -> Path:
    """results/walkforward/<run_id>.json and latest_oos_summary.json, each written atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps(summary, indent=2, sort_keys=True, default=str)
    for name in (f"{run_id}.json", "latest_oos_summary.json"):
        tmp = folder / f".{name}.tmp"
        tmp.write_text(text)
        os.replace(tmp, folder / name)
    return folder / f"{run_id}.json"


def _d(ts) -> str:
    return ts.date().isoformat()
