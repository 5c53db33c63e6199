"""Walkforward benchmark: (a) one symbol, 2020–2024 daily, train 252 / test 63 / stride 63, default grid;
(b) 500 symbols × 20 years of daily bars, same fold scheme. Each case runs in its own process (after a warm-up
run that compiles and caches the kernels) so that its peak RSS is its own.

Run: `.venv/bin/python benchmarks/walkforward.py [--case a|b|both] [--jobs N] [--symbols 500] [--years 20]`.
Targets (issue #6): (a) under 2 s once compiled; (b) under 60 s and under 1 GB on this 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def case(root: str, n_symbols: int, first_year: int, last_year: int, jobs: int, fast: bool) -> dict:
    from datetime import date

    from _util import peak_rss_mb, timer

    from trader_cols.config import load_config
    from trader_cols.pipeline.ingest import IngestRequest, ingest
    from trader_cols.pipeline.walkforward import RunRequest, run
    from trader_cols.warehouse import Warehouse

    cfg = load_config(env={}).config
    wh = Warehouse(root)
    symbols = ("SPY",) if n_symbols == 1 else tuple(f"S{i:03d}" for i in range(n_symbols))
    if not wh.bar_files("1d"):
        ingest(wh, IngestRequest(symbols=symbols, start=date(first_year - 2, 1, 1), end=date(last_year, 12, 31)),
               sanity_cfg=cfg.data_sanity, data_cfg=cfg.data)
    rss_before = peak_rss_mb()
    req = RunRequest(symbols=symbols, start=date(first_year, 1, 1), end=date(last_year, 12, 31), train_len=252,
                     test_len=63, stride=63, jobs=jobs, fast=fast, ingest_missing=False)
    with timer() as t:
        res = run(wh, req, cfg, results_dir=None)
    return {"seconds": round(t(), 3), "folds": len(res.folds), "folds_per_s": round(len(res.folds) / t(), 2),
            "peak_rss_mb": round(peak_rss_mb()), "rss_before_run_mb": round(rss_before),
            "timings": {k: round(v, 3) for k, v in res.timings.items()},
            "sharpe": round(res.summary["metrics"]["sharpe"], 4)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", choices=["a", "b", "both"], default="both")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--symbols", type=int, default=500)
    ap.add_argument("--years", type=int, default=20)
    ap.add_argument("--fast", action="store_true", help="small grid (default: the full tuning grid)")
    ap.add_argument("--worker", nargs=5, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        root, n, y0, y1, jobs = a.worker
        print(json.dumps(case(root, int(n), int(y0), int(y1), int(jobs), a.fast)))
        return
    cases = {"a": (1, 2020, 2024), "b": (a.symbols, 2024 - a.years + 1, 2024)}
    for name in (["a", "b"] if a.case == "both" else [a.case]):
        n, y0, y1 = cases[name]
        with tempfile.TemporaryDirectory() as tmp:
            for label in ("warm-up", "measured"):
                cmd = [sys.executable, __file__, "--worker", tmp, str(n), str(y0), str(y1), str(a.jobs)]
                out = subprocess.run(cmd + (["--fast"] if a.fast else []), check=True, capture_output=True,
                                     text=True, env=dict(os.environ)).stdout.strip().splitlines()[-1]
                r = json.loads(out)
                if label == "measured":
                    print(f"case {name}: symbols={n} years={y0}-{y1} jobs={a.jobs} grid={'fast' if a.fast else 'full'} "
                          f"folds={r['folds']} wall_s={r['seconds']} folds_per_s={r['folds_per_s']} "
                          f"peak_rss_mb={r['peak_rss_mb']} timings={r['timings']} oos_sharpe={r['sharpe']}")


if __name__ == "__main__":
    main()
