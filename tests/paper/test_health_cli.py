"""The commands: the seed invocation `python cli/paper.py --config config/enhanced_paper_trading_config.json`, a
live cycle on fresh bars, `tcols paper status`, and `tcols health` exit codes (0 OK, 1 warning, 2 critical)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from trader_cols.commands import main
from trader_cols.config import load_config, profile_paths
from trader_cols.paper.health import exit_code, health
from trader_cols.paper.journal import read_catalog
from trader_cols.pipeline.ingest import IngestRequest, ingest
from trader_cols.warehouse import Warehouse

from .conftest import BASE, SYMBOLS, backtest

pytestmark = pytest.mark.timeout(120)
ROOT = Path(__file__).resolve().parents[2]
SEED_CONFIG = ROOT / "config" / "enhanced_paper_trading_config.json"
TICKERS = ("BTC-USD", "QQQ", "SPY")  # the seed config's


def run_cli(args: list[str], capsys) -> tuple[int, str]:
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, capsys.readouterr().out


def test_the_seed_invocation_runs_preflight_and_says_no_go_without_a_walkforward(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TCOLS_", "DISCORD_", "IBKR_"))}
    env["TCOLS_WAREHOUSE"] = str(tmp_path / "wh")
    proc = subprocess.run([sys.executable, str(ROOT / "cli" / "paper.py"), "--config", str(SEED_CONFIG)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.startswith("NO-GO") and "FAIL walkforward: no finished walkforward" in proc.stdout
    assert "ok   config: valid (3 symbols, 1d bars)" in proc.stdout


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """Synthetic bars for the seed config's tickers up to today, and a backtest to trade the parameters of."""
    root = tmp_path_factory.mktemp("fresh") / "wh"
    wh = Warehouse(root)
    today = datetime.now(UTC).date()
    ingest(wh, IngestRequest(symbols=TICKERS, start=today - timedelta(days=500), end=today, seed=3),
           sanity_cfg=BASE.data_sanity, data_cfg=BASE.data).raise_for_failures()
    overlay = root.parent / "gate.json"
    overlay.write_text(json.dumps({"paper": {"gate": {"min_sharpe": -100, "min_trades": 0, "max_drawdown_pct": 0.99}}}))
    cfg = load_config(profile_paths(None, [SEED_CONFIG, overlay]), env={}).config
    run_id = backtest(wh, cfg, today - timedelta(days=150), today - timedelta(days=10), symbols=TICKERS).run_id
    return root, overlay, run_id


def test_a_live_cycle_then_status_and_health(fresh, capsys):
    root, overlay, run_id = fresh
    common = ["--warehouse", str(root), "--config", str(SEED_CONFIG), "--config", str(overlay)]

    code, out = run_cli(["health", *common], capsys)
    assert code == 1 and "WARN paper: no paper session" in out and "OK   data: fresh" in out

    code, out = run_cli(["paper", *common, "--once", "--no-ingest", "--params-run", run_id], capsys)
    assert code == 0 and out.startswith("GO") and "1 cycle(s) run" in out and "last cycle 0" in out
    cycles = read_catalog(Warehouse(root), "SELECT cycle, status, decision_ts FROM paper_cycles")
    assert cycles.height == 1 and cycles["status"].item() == "done"

    code, out = run_cli(["paper", "status", *common], capsys)
    assert code == 0 and "live on sim, stopped" in out and "halts: none" in out

    code, out = run_cli(["health", *common], capsys)
    assert code == 0, out
    assert {line.split(":")[0] for line in out.splitlines()} == {
        "OK   config", "OK   warehouse", "OK   data", "OK   broker", "OK   paper", "OK   last_cycle"}


def test_health_is_critical_on_stale_data_or_a_broken_config(wh, tmp_path, capsys):
    code, out = run_cli(["health", "--warehouse", str(wh.root), "--symbols", *SYMBOLS], capsys)
    assert code == 2 and "CRIT data: AAA's latest bar ended" in out

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"risk": {"max_position_pct": 5}}))
    code, out = run_cli(["health", "--warehouse", str(wh.root), "--config", str(bad)], capsys)
    assert code == 2 and out.startswith("CRIT config:") and "max_position_pct" in out


def test_health_judges_the_loop_by_its_heartbeat_and_last_cycle(wh):
    cfg = BASE
    now = datetime(2020, 6, 30, 22, tzinfo=UTC)
    session = {"paper_id": "p1", "mode": "live", "status": "running", "symbols": list(SYMBOLS), "interval": "1d",
               "updated_at": now - timedelta(hours=1), "message": None}
    checks = health(wh, cfg, now=now, session=session, probe_broker=lambda: "sim")
    levels = {c.name: c.level for c in checks}
    assert levels["paper"] == "ok" and levels["last_cycle"] == "warn" and exit_code(checks) == 1  # no cycle yet

    stale = health(wh, cfg, now=now, session=session | {"updated_at": now - timedelta(days=3)},
                   probe_broker=lambda: "sim")
    assert {c.name: c.level for c in stale}["paper"] == "crit" and exit_code(stale) == 2

    failed = health(wh, cfg, now=now, session=session | {"status": "failed", "message": "broker down"})
    assert "broker down" in {c.name: c.detail for c in failed}["paper"] and exit_code(failed) == 2

    def unreachable() -> str:
        from trader_cols.errors import BrokerError

        raise BrokerError("nothing listening on 127.0.0.1:4002", broker="ibkr")

    down = health(wh, cfg, now=now, session=None, symbols=SYMBOLS, probe_broker=unreachable)
    assert {c.name: c.level for c in down}["broker"] == "crit" and exit_code(down) == 2
    assert exit_code(health(None, None, now=now, config_error="bad")) == 2
    assert date(2020, 6, 30) == now.date()
