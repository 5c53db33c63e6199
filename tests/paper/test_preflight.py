"""Preflight: GO when everything holds; NO-GO with the reason for each failing check; NO-GO stops `tcols paper`."""

from __future__ import annotations

import dataclasses
import json
import math
import socket
from datetime import UTC, date, datetime

import polars as pl
import pytest

from trader_cols.brokers.ibkr import IbkrBroker
from trader_cols.commands import main
from trader_cols.config import IBKRConfig
from trader_cols.errors import BrokerError
from trader_cols.paper.journal import read_catalog
from trader_cols.paper.preflight import preflight
from trader_cols.warehouse import Warehouse

from .conftest import SYMBOLS, backtest, paper_config

pytestmark = pytest.mark.timeout(120)
NOW = datetime(2020, 6, 30, 22, 0, tzinfo=UTC)  # a Tuesday evening: the stored history's last bars are complete


@pytest.fixture
def ready(wh):
    """A warehouse with a finished run to take parameters from, and a config whose gate it passes."""
    cfg = paper_config()
    return wh, cfg, backtest(wh, cfg, date(2020, 1, 1), date(2020, 6, 30)).run_id


def check(wh, cfg, run_id, **kw):
    args = dict(symbols=SYMBOLS, interval="1d", now=NOW, params_run=run_id, connect_broker=lambda: "sim")
    return preflight(wh, cfg, **(args | kw))


def failed(report) -> dict[str, str]:
    return {c.name: c.detail for c in report.checks if c.blocking and not c.ok}


def test_go_when_every_check_passes(ready):
    wh, cfg, run_id = ready
    report = check(wh, cfg, run_id)
    assert report.go and report.reasons == [] and report.run.run_id == run_id
    assert [c.name for c in report.checks][:7] == ["config", "warehouse", "walkforward", "gate", "data",
                                                   "data_sanity", "broker"]
    assert report.text().startswith("GO\n")


def test_a_config_that_does_not_load_is_no_go():
    report = preflight(None, None, symbols=SYMBOLS, interval="1d", now=NOW, config_error="file x.yaml, key risk: bad")
    assert not report.go and report.reasons == ["config: file x.yaml, key risk: bad"]


def test_optimistic_close_fills_are_no_go(ready):
    wh, cfg, run_id = ready
    report = check(wh, dataclasses.replace(cfg, engine=dataclasses.replace(cfg.engine, fill_on="close")), run_id)
    assert "fill_on" in failed(report)["config"]


def test_an_unreadable_warehouse_is_no_go(tmp_path):
    root = tmp_path / "broken"
    root.mkdir()
    (root / "tcols.duckdb").write_bytes(b"not a database" * 100)
    report = check(Warehouse(root, lock_timeout_s=1.0), paper_config(), None)
    assert "not readable" in failed(report)["warehouse"]


def test_no_walkforward_for_this_config_is_no_go(wh):
    report = check(wh, paper_config(), None)
    assert "no finished walkforward" in failed(report)["walkforward"]
    # a run exists but was made with other composer settings: its parameters would not mean the same
    other = paper_config()
    backtest(wh, other, date(2020, 3, 1), date(2020, 6, 30))
    changed = dataclasses.replace(other, composer=dataclasses.replace(other.composer, temperature=2.0))
    run_id = read_catalog(wh, "SELECT run_id FROM runs ORDER BY started_at DESC LIMIT 1")["run_id"].item()
    assert "other composer" in failed(check(wh, changed, run_id))["walkforward"]


def test_the_gate_names_each_threshold_missed(ready):
    wh, cfg, run_id = ready
    strict = paper_config(gate={"min_sharpe": 50.0, "max_drawdown_pct": 0.0001, "min_trades": 10_000})
    why = failed(check(wh, strict, run_id))["gate"]
    assert "Sharpe" in why and "max drawdown" in why and "trades < 10000" in why


def test_stale_data_is_no_go(ready):
    wh, cfg, run_id = ready
    why = failed(check(wh, cfg, run_id, now=datetime(2020, 7, 20, tzinfo=UTC)))["data"]
    assert "AAA's latest bar ended" in why and "BTC-USD" in why and "stale after" in why


def test_a_replay_beyond_the_stored_bars_is_no_go(ready):
    wh, cfg, run_id = ready
    why = failed(check(wh, cfg, run_id, replay=(date(2020, 6, 1), date(2020, 9, 30))))["data"]
    assert "before the replay end 2020-09-30" in why


def test_dirty_data_is_no_go(ready):
    wh, cfg, run_id = ready
    bars = wh.read_bars(["AAA"], "1d")
    bad = bars.with_columns(pl.when(pl.col("ts") == pl.col("ts").max()).then(pl.col("low") / 2)
                            .otherwise(pl.col("high")).alias("high"))
    with wh.writer():
        wh.write_bar_file("1d", "AAA", bad)
    assert "high_below_low" in failed(check(wh, cfg, run_id))["data_sanity"]


def test_an_unreachable_or_live_broker_is_no_go(ready):
    wh, cfg, run_id = ready
    with socket.socket() as s:  # a free loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    broker = IbkrBroker(IBKRConfig(port=port, timeout_s=1.0), allowed_ports={port})

    def connect() -> str:
        broker.connect()
        return "connected"

    assert "is IB Gateway/TWS running" in failed(check(wh, cfg, run_id, connect_broker=connect))["broker"]

    def live() -> str:
        raise BrokerError("account U1234 is not a paper account", broker="ibkr")

    assert "not a paper account" in failed(check(wh, cfg, run_id, connect_broker=live))["broker"]


def test_unset_risk_limits_are_no_go(ready):
    wh, cfg, run_id = ready
    loose = dataclasses.replace(cfg, risk=dataclasses.replace(cfg.risk, daily_loss_cut_pct=math.inf,
                                                              max_drawdown_pct=math.nan))
    why = failed(check(wh, loose, run_id))["risk_limits"]
    assert why == "not set: daily_loss_cut_pct, max_drawdown_pct"


def test_no_go_exits_non_zero_alerts_and_the_loop_never_starts(ready, tmp_path, capsys, webhook, monkeypatch):
    wh, _cfg, run_id = ready
    monkeypatch.setenv("DISCORD_ENABLED", "true")
    monkeypatch.setenv("DISCORD_WEBHOOK_URL", webhook.url)
    config = tmp_path / "paper.json"
    config.write_text(json.dumps({"risk": {"stop_loss_pct": None}, "paper": {"gate": {"min_sharpe": 50.0}}}))
    common = ["--warehouse", str(wh.root), "--config", str(config), "--symbols", *SYMBOLS]

    with pytest.raises(SystemExit) as exc:
        main(["preflight", *common, "--params-run", run_id])
    out = capsys.readouterr().out
    assert exc.value.code == 1 and out.startswith("NO-GO") and "FAIL gate: out-of-sample Sharpe" in out
    assert "FAIL data:" in out  # the stored history ends in 2020: stale against today's clock

    with pytest.raises(SystemExit) as exc:
        main(["paper", *common, "--params-run", run_id, "--once", "--no-ingest"])
    assert exc.value.code == 1 and capsys.readouterr().out.startswith("NO-GO")
    assert webhook.titles() == ["NO-GO: paper trading will not start"] * 2
    assert "gate: out-of-sample Sharpe" in webhook.payloads[0]["embeds"][0]["description"]
    for table in ("paper_sessions", "paper_cycles", "paper_orders"):
        assert read_catalog(wh, f"SELECT count(*) AS n FROM {table}")["n"].item() == 0
