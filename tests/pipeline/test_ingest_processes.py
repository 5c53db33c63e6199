"""Ingest across processes: kill -9 mid-write leaves stored data intact; concurrent writers do not corrupt."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import polars as pl

from trader_cols.warehouse import Warehouse

SYMBOLS = [f"S{i:02d}" for i in range(60)]


def tcols(root, *args, seed=1, symbols=SYMBOLS, start="2015-01-01", end="2019-12-31"):
    env = dict(os.environ, TCOLS_WAREHOUSE=str(root))
    cmd = [sys.executable, "-m", "trader_cols", "ingest", "--source", "synthetic", "--seed", str(seed),
           "--start", start, "--end", end, "--symbols", ",".join(symbols), *args]
    return cmd, env


def snapshot(root) -> dict[str, pl.DataFrame]:
    wh = Warehouse(root)
    return {p.parent.name.split("=", 1)[1]: pl.read_parquet(p).drop("ingest_id") for p in wh.bar_files()}


def test_kill_9_mid_write_leaves_old_or_new_data_never_torn(tmp_path):
    # Arrange: the warehouse holds seed-1 history; seed 2 is a complete rewrite of every symbol.
    old_root, new_root = tmp_path / "wh", tmp_path / "reference"
    for root, seed in ((old_root, 1), (new_root, 2)):
        cmd, env = tcols(root, seed=seed)
        subprocess.run(cmd, env=env, check=True, capture_output=True)
    old, new = snapshot(old_root), snapshot(new_root)
    assert set(old) == set(SYMBOLS)

    for delay in (0.0, 0.15, 0.4):
        # Act: start the rewriting ingest and kill it without warning once it has begun writing files.
        cmd, env = tcols(old_root, seed=2)
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        lock = old_root / ".writer.lock"
        t0 = time.monotonic()
        while time.monotonic() - t0 < 60 and proc.poll() is None:
            if lock.exists() and lock.read_text().strip() == str(proc.pid):
                break
            time.sleep(0.005)
        time.sleep(delay)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()

        # Assert: every file is entirely the old or entirely the new version, and the catalog still opens.
        got = snapshot(old_root)
        assert set(got) == set(SYMBOLS)
        for sym, frame in got.items():
            assert frame.equals(old[sym]) or frame.equals(new[sym]), sym
        assert Warehouse(old_root).query("SELECT count(DISTINCT symbol) AS n FROM bars")["n"].item() == len(SYMBOLS)
        old = got  # what is stored now is the "old" state for the next kill

    # A rerun completes the job and sweeps what the killed writers left behind.
    cmd, env = tcols(old_root, seed=2)
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    final = snapshot(old_root)
    assert all(final[s].equals(new[s]) for s in SYMBOLS)
    assert not list((old_root / "bars").rglob("*.tmp"))


def test_two_concurrent_writers_both_land(tmp_path):
    root = tmp_path / "wh"
    procs = []
    for half in (SYMBOLS[:30], SYMBOLS[30:]):
        cmd, env = tcols(root, symbols=half)
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1].decode()[-500:] for o in outs]
    wh = Warehouse(root)
    assert wh.query("SELECT count(DISTINCT symbol) AS n FROM bars")["n"].item() == 60
    assert wh.query("SELECT count(DISTINCT ingest_id) AS n FROM ingest_log")["n"].item() == 2
    assert wh.query("SELECT count(*) AS n FROM bar_files")["n"].item() == 60
