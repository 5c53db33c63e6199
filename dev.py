#!/usr/bin/env python3
"""Set up and run trader_cols with nothing but Python 3.11+: `python3 dev.py demo` or `python3 dev.py test`.

Creates ./.venv on first use (and again whenever pyproject.toml changes), installs the package with its dev extras,
then runs the offline demo (synthetic data into the embedded warehouse) or the test suite.
Standard library only: it must run before anything is installed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
STAMP = VENV / ".tcols-install-stamp"

DEMO_SYMBOLS = ["SPY", "QQQ", "IWM", "TLT", "BTC-USD", "ETH-USD"]


def run(cmd: list[str], **kw) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    rc = subprocess.call([str(c) for c in cmd], cwd=kw.pop("cwd", ROOT), **kw)
    if rc != 0:
        sys.exit(rc)


def setup() -> None:
    """Create the virtual environment and install the project (editable, with dev extras) when needed."""
    if sys.version_info < (3, 11):  # noqa: UP036 — dev.py runs before anything is installed, on any python3
        sys.exit(f"trader_cols needs Python 3.11+, this is {sys.version.split()[0]}")
    if not PY.exists():
        print(f"creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == want:
        return
    run([PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    run([PY, "-m", "pip", "install", "--quiet", "-e", ".[dev]"])
    STAMP.write_text(want)


def env() -> dict[str, str]:
    e = dict(os.environ)
    e.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".numba_cache"))
    return e


def demo() -> None:
    """The main job, offline: synthetic bars into ./warehouse, a walkforward over them, its out-of-sample
    summary, then SQL over the stored results."""
    tcols = [BIN / "tcols"]
    symbols = ",".join(DEMO_SYMBOLS)
    run([*tcols, "ingest", "--source", "synthetic", "--symbols", symbols, "--start", "2014-01-01",
         "--end", "2024-12-31"], env=env())
    run([*tcols, "walkforward", "--symbols", symbols, "--start-date", "2016-01-01", "--end-date", "2024-12-31",
         "--train-len", "504", "--test-len", "126", "--stride", "126"], env=env())
    run([*tcols, "sql",
         "SELECT fold, test_start_ts::DATE AS test_start, test_end_ts::DATE AS test_end, round(cagr, 3) AS cagr, "
         "round(sharpe, 2) AS sharpe, round(max_drawdown, 3) AS max_dd, trades FROM fold_report "
         "WHERE run_id = (SELECT run_id FROM latest_run) ORDER BY fold"], env=env())
    run([*tcols, "sql",
         "SELECT regime, round(pnl, 2) AS pnl, symbol_bars FROM attribution_by_regime "
         "WHERE run_id = (SELECT run_id FROM latest_run) ORDER BY pnl DESC"], env=env())


def test(extra: list[str]) -> None:
    """Lint the layers, then run the whole test suite (oracle tests included)."""
    run([BIN / "lint-imports"], env=env())
    run([PY, "-m", "pytest", *extra], env=env())


def main(argv: list[str]) -> None:
    if not argv or argv[0] not in ("setup", "demo", "test"):
        sys.exit("usage: python3 dev.py setup | demo | test [pytest args]")
    setup()
    if argv[0] == "demo":
        demo()
    elif argv[0] == "test":
        test(argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
