"""`tcols walkforward`, `backtest`, `runs`, `strategies` and the seed's `python cli/backtest.py …` end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from trader_cols.commands import main

ROOT = Path(__file__).resolve().parents[1]


def tcols(capsys, *args):
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    out = capsys.readouterr()
    return code, out.out, out.err


def test_walkforward_runs_and_sql(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    wh = str(tmp_path / "wh")
    code, out, err = tcols(capsys, "walkforward", "--warehouse", wh, "--symbols", "AAA", "BTC-USD",
                           "--start-date", "2019-01-01", "--end-date", "2020-12-31", "--train-len", "200",
                           "--test-len", "100", "--stride", "100", "--fast")
    assert code == 0, err
    run_id = next(w for w in out.split() if w.startswith("wf-")).rstrip(":")
    summary = json.loads((tmp_path / "results" / "walkforward" / "latest_oos_summary.json").read_text())
    assert summary["run_id"] == run_id and summary["folds"] >= 4
    code, out, _ = tcols(capsys, "runs", "--warehouse", wh)
    assert code == 0 and run_id in out
    code, out, _ = tcols(capsys, "sql", "--warehouse", wh, "--format", "json",
                         f"SELECT count(*) AS n FROM fold_report WHERE run_id = '{run_id}'")
    assert json.loads(out)[0]["n"] == summary["folds"]
    code, _, err = tcols(capsys, "runs", "--warehouse", wh, "--compare", run_id, "nope")
    assert code == 6 and "no runs nope" in err


def test_strategies_lists_every_strategy_with_parameters(capsys):
    code, out, _ = tcols(capsys, "strategies")
    assert code == 0
    for name in ("trend", "mean_reversion", "breakout", "vol_momentum", "ensemble", "rsi_window", "lookback"):
        assert name in out


def test_seed_backtest_invocation_works_offline(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TCOLS_WAREHOUSE"}
    env["TCOLS_WAREHOUSE"] = str(tmp_path / "wh")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "cli" / "backtest.py"), "--start", "2024-01-01", "--end", "2024-01-10",
         "--profile", "risk_low", "--symbols", "SPY", "--fast"],
        cwd=tmp_path, env=env, capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "run bt-" in proc.stdout and "sharpe" in proc.stdout
