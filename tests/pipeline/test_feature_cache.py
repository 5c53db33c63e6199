"""Feature and regime caches: reuse when nothing changed, recompute exactly what a change touches."""

from __future__ import annotations

import dataclasses
from datetime import date

import polars as pl
import pytest

from trader_cols.config import load_config
from trader_cols.errors import DataSourceError
from trader_cols.features import FeatureSpec, compute_features
from trader_cols.pipeline.features import cached_features, cached_regimes, regime_report
from trader_cols.pipeline.ingest import IngestRequest, ingest
from trader_cols.sources.base import Fetched
from trader_cols.sources.synthetic import fetch_synthetic

CFG = load_config(env={}).config
SYMBOLS = ("AAA", "BBB", "BTC-USD")
SPECS = (FeatureSpec.of("rsi"), FeatureSpec.of("macd"), FeatureSpec.of("sma", window=5))


def _ingest(wh, fetchers=None):
    req = IngestRequest(symbols=SYMBOLS, start=date(2019, 1, 1), end=date(2020, 6, 30))
    ingest(wh, req, sanity_cfg=CFG.data_sanity, data_cfg=CFG.data, fetchers=fetchers)


def _scaled(factor: float, only: str):
    def fetch(req, syms, s, e):
        got = fetch_synthetic(syms, s, e, seed=req.seed)
        b = got.bars.with_columns(
            pl.when(pl.col("symbol") == only).then(pl.col(c) * factor).otherwise(pl.col(c)).alias(c)
            for c in ("open", "high", "low", "close")
        )
        return Fetched(b, got.failures)

    return fetch


@pytest.fixture
def stocked(warehouse):
    _ingest(warehouse)
    return warehouse


def test_first_call_computes_everything_and_equals_a_direct_computation(stocked):
    frame, report = cached_features(stocked, SYMBOLS, SPECS)
    assert len(report.computed) == len(SYMBOLS) * len(SPECS) and report.reused == 0
    direct = compute_features(stocked.scan_bars(SYMBOLS), SPECS).collect(engine="in-memory")
    assert frame.sort("symbol", "ts").equals(direct)


def test_second_call_reuses_everything(stocked):
    first, _ = cached_features(stocked, SYMBOLS, SPECS)
    again, report = cached_features(stocked, SYMBOLS, SPECS)
    assert report.computed == [] and report.reused == len(SYMBOLS) * len(SPECS)
    assert again.equals(first)


def test_a_changed_window_recomputes_that_spec_only(stocked):
    cached_features(stocked, SYMBOLS, SPECS)
    changed = (*SPECS[:2], FeatureSpec.of("sma", window=8))
    frame, report = cached_features(stocked, SYMBOLS, changed)
    assert sorted(report.computed) == sorted((s, changed[2].spec_hash) for s in SYMBOLS)
    assert "sma_8" in frame.columns and "sma_5" not in frame.columns
    # the old spec's columns stay cached next to the new ones
    _, back = cached_features(stocked, SYMBOLS, SPECS)
    assert back.computed == []


def test_changed_bars_of_one_symbol_recompute_that_symbol_only(stocked):
    before, _ = cached_features(stocked, SYMBOLS, SPECS)
    _ingest(stocked, fetchers={"synthetic": _scaled(2.0, "BBB")})
    after, report = cached_features(stocked, SYMBOLS, SPECS)
    assert {sym for sym, _ in report.computed} == {"BBB"}
    assert report.reused == 2 * len(SPECS)
    bbb = lambda f: f.filter(pl.col("symbol") == "BBB")["sma_5"].drop_nulls()  # noqa: E731
    assert bbb(after).to_list() == pytest.approx([2.0 * x for x in bbb(before).to_list()])


def test_regimes_are_stored_and_recomputed_when_params_change(stocked):
    labels, first = cached_regimes(stocked, SYMBOLS, CFG.regimes)
    assert len(first.computed) == 3 and set(labels["regime"].drop_nulls()) <= {
        "trend",
        "chop",
        "volatile",
    }
    _, again = cached_regimes(stocked, SYMBOLS, CFG.regimes)
    assert again.computed == [] and again.reused == 3
    _, changed = cached_regimes(
        stocked, SYMBOLS, dataclasses.replace(CFG.regimes, min_dwell_bars=9)
    )
    assert len(changed.computed) == 3


def test_regime_report_over_a_range(stocked):
    rep = regime_report(stocked, "AAA", CFG.regimes, start=date(2020, 1, 1), end=date(2020, 6, 30))
    assert rep.labels["ts"].min().year == 2020
    assert rep.share["share"].sum() == pytest.approx(1.0)
    assert rep.transitions.columns == ["regime", "trend", "chop", "volatile"]


def test_unknown_symbol_names_what_to_do(stocked):
    with pytest.raises(DataSourceError, match="no stored 1d bars for ZZZ.*tcols ingest"):
        cached_features(stocked, ["AAA", "ZZZ"], SPECS)


def test_tcols_regimes_prints_share_runs_and_transitions(stocked):
    from click.testing import CliRunner

    from trader_cols.commands.regimes import regimes_cmd

    args = [
        "BTC-USD",
        "--warehouse",
        str(stocked.root),
        "--start",
        "2020-01-01",
        "--end",
        "2020-06-30",
    ]
    res = CliRunner().invoke(regimes_cmd, args)
    assert res.exit_code == 0, res.output
    for fragment in (
        "BTC-USD 1d:",
        "2020-01-01 .. 2020-06-30",
        "share of time",
        "mean run length",
        "transition matrix",
        "volatile",
    ):
        assert fragment in res.output
    bad = CliRunner().invoke(
        regimes_cmd, ["AAA", "--warehouse", str(stocked.root), "--start", "2020-13-01"]
    )
    assert bad.exit_code != 0 and "not a date" in bad.output


def test_tcols_features_writes_the_configured_indicators(stocked, tmp_path):
    from click.testing import CliRunner

    from trader_cols.commands.regimes import features_cmd
    from trader_cols.features import DEFAULT_SPECS

    out = tmp_path / "f.parquet"
    args = [
        "AAA",
        "BTC-USD",
        "--warehouse",
        str(stocked.root),
        "--start",
        "2020-03-01",
        "-o",
        str(out),
    ]
    res = CliRunner().invoke(features_cmd, args)
    assert res.exit_code == 0, res.output
    frame = pl.read_parquet(out)
    assert frame.columns == ["symbol", "ts", *[c for s in DEFAULT_SPECS for c in s.columns]]
    assert set(frame["symbol"]) == {"AAA", "BTC-USD"} and frame["ts"].min().month == 3
    again = CliRunner().invoke(
        features_cmd, ["AAA", "--warehouse", str(stocked.root), "--rows", "2"]
    )
    assert again.exit_code == 0 and "0 computed" in again.output
