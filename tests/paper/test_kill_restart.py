"""kill -9 at many points of a replay: every restart reconciles with the (journalled) simulated broker, sends no
order twice, and the session ends exactly where an uninterrupted run ends."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from trader_cols.config import load_config, profile_paths
from trader_cols.paper import PaperRequest, run_paper
from trader_cols.paper.journal import Journal
from trader_cols.warehouse import Warehouse

from .conftest import SYMBOLS, backtest

pytestmark = pytest.mark.timeout(240)
CHILD = Path(__file__).with_name("replay_child.py")
START, END = date(2020, 1, 1), date(2020, 1, 12)
# Where the child is stopped and killed: (step, occurrence in that process). Between a broker change saved and the
# journal entry about it, between a journal entry and the next broker call, mid-cycle and between cycles.
PAUSES = [
    ("broker_saved", 1),  # the new broker's first state, nothing else
    ("broker_saved", 3),  # a bar fed to the broker (fills made), before the journal recorded them
    ("synced", 3),
    ("recorded", 2),  # fills and book journalled, the cycle not decided
    ("planned", 2),  # orders journalled, none sent
    ("placed", 1),  # the broker holds an order whose ack the journal lacks
    ("acked", 1),  # one ack journalled; the cycle's other orders unsent
    ("event:reconciled", 1),  # right after a restart's reconciliation
    ("cycle_done", 2),
]
FREE_KILLS = [(12, 0.0), (31, 0.007)]  # SIGKILL after n progress lines (+ delay), wherever it lands
CONFIG = {"risk": {"stop_loss_pct": None}, "paper": {"gate": {"min_sharpe": -100, "min_trades": 0,
                                                              "max_drawdown_pct": 0.99}}}


def spawn(args: list[str], pause: str | None) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "PAPER_PAUSE_AT"}
    if pause:
        env["PAPER_PAUSE_AT"] = pause
    return subprocess.Popen([sys.executable, str(CHILD), *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, env=env)


def kill_when(proc: subprocess.Popen, *, paused: bool, lines: int = 0, delay: float = 0.0) -> str:
    """SIGKILL the child when it says `paused` (or after `lines` step lines + `delay`); returns its last line."""
    n, last = 0, ""
    for line in proc.stdout:
        last = line.strip()
        if last.startswith("done"):
            break
        n += last.startswith("step")
        if (paused and last == "paused") or (not paused and n >= lines):
            time.sleep(delay)
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.stdout.close()
    proc.wait(60)
    return last


def test_kill_at_many_points_then_restart_ends_like_an_uninterrupted_run(wh, tmp_path):
    # Arrange: one backtest, then two copies of the warehouse with it: a reference and a victim
    cfg_path = tmp_path / "paper.json"
    cfg_path.write_text(json.dumps(CONFIG))
    cfg = load_config(profile_paths(None, [cfg_path]), env={}).config
    run_id = backtest(wh, cfg, START, END).run_id
    ref_root, victim_root = tmp_path / "reference", tmp_path / "victim"
    shutil.copytree(wh.root, ref_root)
    shutil.copytree(wh.root, victim_root)
    ref = run_paper(Warehouse(ref_root), PaperRequest(symbols=SYMBOLS, replay=(START, END), params_run=run_id), cfg)
    assert ref.status == "finished"
    args = [str(victim_root), str(cfg_path), run_id, START.isoformat(), END.isoformat(), *SYMBOLS]

    # Act: kill at every pause point and at free-running moments, restarting each time, then finish
    killed, spawned = 0, 0
    for step, nth in PAUSES:
        proc = spawn(args, f"{step}:{nth}")
        spawned += 1
        last = kill_when(proc, paused=True)
        assert last == "paused" and proc.returncode == -signal.SIGKILL, (step, nth, last)
        killed += 1
    for lines, delay in FREE_KILLS:
        proc = spawn(args, None)
        spawned += 1
        last = kill_when(proc, paused=False, lines=lines, delay=delay)
        if proc.returncode == -signal.SIGKILL:
            killed += 1
    proc = spawn(args, None)
    last = kill_when(proc, paused=False, lines=10**9)
    assert proc.returncode == 0 and last == f"done finished {ref.paper_id}", last

    # Assert: the same broker and the same journal as the uninterrupted run; no order twice at the broker
    assert killed >= len(PAUSES)
    a, b = Journal(Warehouse(ref_root), ref.paper_id), Journal(Warehouse(victim_root), ref.paper_id)
    state_a, state_b = a.broker_state(), b.broker_state()
    ids = [o["order"]["client_order_id"] for o in state_b["orders"]]
    assert len(ids) == len(set(ids)) and len(state_b["orders"]) == len(state_a["orders"]) > 5
    assert state_a == state_b
    for table, drop in [("paper_orders", ["created_at"]), ("paper_fills", ["recorded_at"]), ("paper_cash", []),
                        ("paper_positions", []), ("paper_targets", []), ("paper_risk_decisions", []),
                        ("paper_cycles", ["created_at", "finished_at"])]:
        q = f"SELECT * EXCLUDE ({', '.join(['paper_id', *drop])}) FROM {table} WHERE paper_id = $p ORDER BY ALL"
        assert_frame_equal(b.read(q), a.read(q)), table
    # the restarts did reconcile: re-sent orders came back as duplicates, fills were picked up from the broker
    acks = b.read("SELECT client_order_id, duplicate FROM paper_acks WHERE paper_id = $p ORDER BY ALL")
    assert acks.filter(pl.col("duplicate")).height >= 1
    assert acks["client_order_id"].n_unique() == len(ids)  # every order acknowledged (first or duplicate ack)
    events = b.read("SELECT kind, detail_json FROM paper_events WHERE paper_id = $p ORDER BY event_at")
    assert events.filter(pl.col("kind") == "start").height == 1
    assert events.filter(pl.col("kind") == "restart").height == spawned  # every process after the first
    recovered = [json.loads(d) for k, d in events.iter_rows() if k == "reconciled"]
    assert any(r["fills_not_journalled"] for r in recovered) and any(r.get("unacknowledged") for r in recovered)
