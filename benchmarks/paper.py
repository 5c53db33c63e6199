"""Paper-loop benchmark: a replay through the simulated broker on synthetic bars — cycles per second, how a cycle's
time splits (compose, plan, journal, broker), how it grows with the session, and the journalled broker state's size.

Run: `NUMBA_CACHE_DIR=.numba_cache .venv/bin/python benchmarks/paper.py [--symbols 3] [--days 365]`. Prints figures.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import logging
import pstats
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(Path(__file__).resolve().parent), str(ROOT)]

NAMES = ["SPY", "QQQ", "BTC-USD", "ETH-USD", "IWM", "DIA", "AAPL", "MSFT", "SOL-USD", "GLD"]
PARTS = {
    "compose (panel + compose_fold)": "paper/decide.py:",
    "plan (kernel rules)": "paper/orders.py:",
    "journal writes": "paper/journal.py:",
    "simulated broker": "brokers/simulated.py:",
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--symbols", type=int, default=3)
    ap.add_argument("--days", type=int, default=365, help="calendar days replayed")
    ap.add_argument("--profile", action="store_true", help="also split the time by part (cProfile: slower)")
    args = ap.parse_args()
    logging.disable(logging.WARNING)

    import dataclasses

    from _util import peak_rss_mb, timer

    from trader_cols.config import load_config
    from trader_cols.paper import PaperRequest, run_paper
    from trader_cols.paper.journal import Journal
    from trader_cols.pipeline.ingest import IngestRequest, ingest
    from trader_cols.pipeline.walkforward import RunRequest, run
    from trader_cols.warehouse import Warehouse

    base = load_config(env={}).config
    cfg = dataclasses.replace(  # the base config's risk limits, its 10 % stop loss included
        base, paper=dataclasses.replace(base.paper, gate=dataclasses.replace(base.paper.gate, min_sharpe=-100.0,
                                                                       min_trades=0, max_drawdown_pct=0.99)))
    symbols = tuple(NAMES[: args.symbols])
    start = date(2021, 1, 1)
    end = start + timedelta(days=args.days - 1)
    with tempfile.TemporaryDirectory() as tmp:
        wh = Warehouse(Path(tmp) / "wh")
        ingest(wh, IngestRequest(symbols=symbols, start=start - timedelta(days=500), end=end, seed=3),
               sanity_cfg=cfg.data_sanity, data_cfg=cfg.data)
        with timer() as t_bt:
            bt = run(wh, RunRequest(symbols=symbols, start=start, end=end, kind="backtest", fast=True,
                                    ingest_missing=False), cfg, results_dir=None)
        stamps: list[float] = []
        writes = [0]

        def on_step(name: str) -> None:
            writes[0] += name != "synced"
            if name == "cycle_done":
                stamps.append(time.perf_counter())

        prof = cProfile.Profile()
        t0 = time.perf_counter()
        if args.profile:
            prof.enable()
        out = run_paper(wh, PaperRequest(symbols=symbols, replay=(start, end), params_run=bt.run_id), cfg,
                        on_step=on_step)
        prof.disable()
        total = time.perf_counter() - t0
        per = [b - a for a, b in zip([t0, *stamps[:-1]], stamps, strict=True)]
        j = Journal(wh, out.paper_id)
        state = json.dumps(j.broker_state())
        saved = j.read("SELECT state_json FROM paper_broker_state WHERE paper_id = $p")["state_json"].item()
        fills = j.read("SELECT count(*) AS n FROM paper_fills WHERE paper_id = $p")["n"].item()
        tot = {k: 0.0 for k in PARTS}
        for (file, _line, func), (_cc, _nc, _tt, ct, _callers) in (pstats.Stats(prof).stats.items()
                                                                     if args.profile else ()):
            for label, needle in PARTS.items() if args.profile else ():
                if f"{file}:".endswith(needle) and func in ("compose_targets", "plan_execution", "_write",
                                                            "on_bar", "place"):
                    tot[label] += ct
    n = len(per)
    decile = max(1, n // 10)
    print(f"replay of {n} bars x {len(symbols)} symbols ({start} .. {end}), {fills} fills, "
          f"backtest of the same window {t_bt():.2f} s")
    print(f"  total {total:.2f} s = {n / total:.1f} cycles/s; per cycle: first tenth "
          f"{1000 * sum(per[:decile]) / decile:.0f} ms, last tenth {1000 * sum(per[-decile:]) / decile:.0f} ms")
    print(f"  journal transactions: {writes[0]} ({writes[0] / n:.1f} per cycle); broker state at the end "
          f"{len(state) / 1024:.0f} KB, of which the row rewritten at each save {len(saved) / 1024:.1f} KB (the "
          f"rest appended once to paper_broker_log)")
    for label, secs in tot.items() if args.profile else ():
        print(f"  {label:34s} {secs:6.2f} s  ({100 * secs / total:4.1f} %, profiled)")
    print(f"  peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
