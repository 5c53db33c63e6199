"""The walkforward end to end on synthetic data: stored results, determinism across --jobs, the whole-run
prefix-truncation test, a refused canary, resume, flat memory, and the fold error."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date

import polars as pl
import pytest

from trader_cols.config import load_config
from trader_cols.errors import ConfigError, LookaheadError
from trader_cols.pipeline.ingest import IngestRequest, ingest
from trader_cols.pipeline.walkforward import RunRequest, run
from trader_cols.strategies import get_strategy
from trader_cols.warehouse import Warehouse

SYMBOLS = ("AAA", "BBB", "BTC-USD")
CFG = load_config(env={}).config


@pytest.fixture(scope="module")
def wh(tmp_path_factory):
    w = Warehouse(tmp_path_factory.mktemp("wf") / "wh")
    req = IngestRequest(symbols=SYMBOLS, start=date(2015, 1, 1), end=date(2020, 12, 31), seed=11)
    ingest(w, req, sanity_cfg=CFG.data_sanity, data_cfg=CFG.data)
    return w


def request(**kw):
    base = dict(symbols=SYMBOLS, start=date(2017, 1, 1), end=date(2020, 12, 31), train_len=252, test_len=63,
                stride=63, fast=True, ingest_missing=False)
    return RunRequest(**(base | kw))


def test_walkforward_lands_every_result(wh, tmp_path):
    res = run(wh, request(), CFG, results_dir=tmp_path / "results")
    n_folds = len(res.folds)
    assert n_folds >= 10 and res.oos.sim.equity.height == n_folds * 63  # test windows tile the OOS period
    q = lambda sql: wh.query(sql, {"r": res.run_id})  # noqa: E731
    assert q("SELECT status FROM runs WHERE run_id = $r")["status"].item() == "done"
    assert q("SELECT count(*) AS n FROM folds WHERE run_id = $r")["n"].item() == n_folds
    assert q("SELECT count(*) AS n FROM fold_report WHERE run_id = $r")["n"].item() == n_folds
    assert q("SELECT count(*) AS n FROM chosen_params WHERE run_id = $r AND chosen")["n"].item() == n_folds * 2 * len(CFG.composer.strategies)
    eq = q("SELECT ts, equity FROM equity WHERE run_id = $r ORDER BY ts")
    assert eq.height == res.oos.sim.equity.height and (eq["equity"] > 0).all()
    # out-of-sample only: the equity curve starts at the first test bar, after the first training window
    first_test = q("SELECT min(test_start_ts) AS t FROM folds WHERE run_id = $r")["t"].item()
    assert eq["ts"].min() == first_test
    head = q("SELECT * FROM run_summary WHERE run_id = $r").row(0, named=True)
    assert head["n_folds"] == n_folds and head["end_equity"] == pytest.approx(eq["equity"][-1])
    assert q("SELECT count(*) AS n FROM attribution_by_strategy WHERE run_id = $r")["n"].item() >= 5
    by_regime = q("SELECT sum(pnl) AS p FROM attribution_by_regime WHERE run_id = $r")["p"].item()
    assert by_regime == pytest.approx(eq["equity"][-1] - CFG.engine.initial_capital, rel=1e-6, abs=1e-6)
    summary = json.loads((tmp_path / "results" / "latest_oos_summary.json").read_text())
    assert summary["run_id"] == res.run_id and summary["folds"] == n_folds
    assert (tmp_path / "results" / f"{res.run_id}.json").exists()


def test_results_do_not_depend_on_jobs(wh):
    a = run(wh, request(jobs=1), CFG, results_dir=None)
    b = run(wh, request(jobs=2), CFG, results_dir=None)
    assert a.chosen.equals(b.chosen)
    assert a.oos.equity.equals(b.oos.equity)
    assert a.oos.fills.equals(b.oos.fills)


def test_whole_walkforward_passes_the_prefix_truncation_test(wh):
    full = run(wh, request(), CFG, results_dir=None)
    cut = date(2019, 7, 15)
    part = run(wh, request(end=cut), CFG, results_dir=None)
    common = part.oos.equity.join(full.oos.equity, on="ts", suffix="_full")
    assert common.height == part.oos.equity.height > 0
    assert (common["equity"] == common["equity_full"]).all()
    fills_part = part.oos.fills.drop("fold")
    fills_full = full.oos.fills.drop("fold").filter(pl.col("ts") <= fills_part["ts"].max())
    assert fills_part.equals(fills_full)
    n = len(part.folds)
    assert part.chosen.filter(pl.col("fold") < n).equals(full.chosen.filter(pl.col("fold") < n))


def test_a_peeking_strategy_is_refused(wh):
    canary = replace(get_strategy("trend"), name="canary",
                     signal=lambda p: (pl.col("close").shift(-1).over("symbol") / pl.col("close") - 1).sign())
    with pytest.raises(LookaheadError):
        run(wh, request(), CFG, strategies=[get_strategy("trend"), canary], results_dir=None)


def test_resume_recomputes_only_missing_folds(wh):
    first = run(wh, request(), CFG, results_dir=None)
    n = len(first.folds)
    wh.query("DELETE FROM chosen_params WHERE run_id = $r AND fold >= $k", {"r": first.run_id, "k": n - 2}, write=True)
    tuned = []
    again = run(wh, request(resume=first.run_id), CFG, results_dir=None, on_fold=tuned.append)
    assert tuned == [n - 2, n - 1]
    assert again.run_id == first.run_id
    assert again.oos.equity.equals(first.oos.equity)
    assert wh.query("SELECT count(*) AS n FROM runs WHERE run_id = $r", {"r": first.run_id})["n"].item() == 1


def test_too_little_data_for_one_fold(wh):
    with pytest.raises(ConfigError, match="needs train_len"):
        run(wh, request(start=date(2020, 6, 1), train_len=252), CFG, results_dir=None)


def test_memory_stays_flat_over_100_folds(wh):
    import resource

    def rss_mb():
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * resource.getpagesize() / 2**20

    seen: dict[int, float] = {}
    res = run(wh, request(start=date(2018, 1, 1), train_len=40, test_len=5, stride=5), CFG, results_dir=None,
              on_fold=lambda k: seen.__setitem__(k, rss_mb()))
    assert len(res.folds) >= 100
    assert seen[len(res.folds) - 1] - seen[20] < 40, seen


def test_backtest_runs_one_in_sample_window(wh):
    res = run(wh, request(kind="backtest", start=date(2019, 1, 1)), CFG, results_dir=None)
    assert len(res.folds) == 1 and res.oos.equity["ts"].min().year == 2019


def test_perf_mode_strict_refuses_bad_data_relaxed_warns(tmp_path):
    from trader_cols.errors import DataSanityError

    w = Warehouse(tmp_path / "wh")
    ingest(w, IngestRequest(symbols=("AAA",), start=date(2016, 1, 1), end=date(2020, 12, 31), seed=3),
           sanity_cfg=CFG.data_sanity, data_cfg=CFG.data)
    req = request(symbols=("AAA",), start=date(2018, 1, 1), train_len=200, test_len=100, stride=100)
    assert len(run(w, replace(req, perf_mode="STRICT"), CFG, results_dir=None).folds) >= 5  # clean data passes
    # a bar whose high is below its low slips into storage (bypassing ingest's checks)
    bars = w.read_bars(["AAA"])
    bad = bars.with_columns(
        pl.when(pl.col("ts") == pl.col("ts").gather(900)).then(pl.col("low") * 0.9).otherwise(pl.col("high")).alias("high"))
    with w.writer():
        w.write_bar_file("1d", "AAA", bad)
    with pytest.raises(DataSanityError, match="STRICT"):
        run(w, replace(req, perf_mode="STRICT"), CFG, results_dir=None)
    assert len(run(w, replace(req, perf_mode="RELAXED"), CFG, results_dir=None).folds) >= 5
