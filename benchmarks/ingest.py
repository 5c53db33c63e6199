"""Ingest benchmark: synthetic 500 symbols × 20 years of daily bars into a fresh warehouse, then the same again.

Run: `.venv/bin/python benchmarks/ingest.py [--symbols 500] [--years 20]`. Each phase runs in its own process so
peak RSS is that phase's own. Targets (issue #2): first ingest < 10 s and < 1 GB; the re-ingest rewrites nothing.
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


def phase(root: str, n_symbols: int, years: int) -> dict:
    from datetime import date

    from _util import peak_rss_mb, timer

    from trader_cols.config import load_config
    from trader_cols.pipeline.ingest import IngestRequest, ingest
    from trader_cols.warehouse import Warehouse

    cfg = load_config(env={}).config
    symbols = tuple(f"S{i:03d}" for i in range(n_symbols))
    req = IngestRequest(symbols=symbols, start=date(2024 - years + 1, 1, 1), end=date(2024, 12, 31))
    wh = Warehouse(root)
    files_before = {p: p.stat().st_mtime_ns for p in wh.bar_files()}
    with timer() as t:
        res = ingest(wh, req, sanity_cfg=cfg.data_sanity, data_cfg=cfg.data)
    rewritten = sum(1 for p in wh.bar_files() if files_before.get(p) != p.stat().st_mtime_ns)
    rows = int(res.summary["rows_in"].sum())
    return {"seconds": round(t(), 3), "rows": rows, "rows_per_s": round(rows / t()), "peak_rss_mb": round(peak_rss_mb()),
            "files_rewritten": rewritten, "rows_new": int(res.summary["rows_new"].sum())}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--symbols", type=int, default=500)
    ap.add_argument("--years", type=int, default=20)
    ap.add_argument("--phase", help=argparse.SUPPRESS)
    ap.add_argument("--root", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.phase:
        print(json.dumps(phase(a.root, a.symbols, a.years)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("first_ingest", "re_ingest"):
            out = subprocess.run(
                [sys.executable, __file__, "--phase", name, "--root", tmp, "--symbols", str(a.symbols),
                 "--years", str(a.years)],
                check=True, capture_output=True, text=True, env=dict(os.environ),
            ).stdout.strip().splitlines()[-1]
            r = json.loads(out)
            print(f"{name}: symbols={a.symbols} years={a.years} rows={r['rows']} wall_s={r['seconds']} "
                  f"rows_per_s={r['rows_per_s']} peak_rss_mb={r['peak_rss_mb']} "
                  f"files_rewritten={r['files_rewritten']} rows_new={r['rows_new']}")


if __name__ == "__main__":
    main()
