"""A replay in its own process, for the kill-and-restart test: prints each committed step; with PAPER_PAUSE_AT=
"<step>:<n>" it stops (sleeps) right after the n-th occurrence of that step so that the parent can SIGKILL it there.

Usage: python replay_child.py WAREHOUSE CONFIG_JSON RUN_ID START END SYMBOL...
"""

from __future__ import annotations

import os
import sys
import time
from datetime import date

from trader_cols.config import load_config, profile_paths
from trader_cols.paper import PaperRequest, run_paper
from trader_cols.warehouse import Warehouse


def main(argv: list[str]) -> None:
    root, config, run_id, start, end, *symbols = argv
    pause = os.environ.get("PAPER_PAUSE_AT")
    name, _, nth = pause.rpartition(":") if pause else ("", "", "0")
    seen: dict[str, int] = {}

    def on_step(step: str) -> None:
        seen[step] = seen.get(step, 0) + 1
        print(f"step {step}", flush=True)
        if step == name and seen[step] == int(nth):
            print("paused", flush=True)
            time.sleep(600)

    cfg = load_config(profile_paths(None, [config]), env={}).config
    req = PaperRequest(symbols=tuple(symbols), replay=(date.fromisoformat(start), date.fromisoformat(end)),
                       params_run=run_id)
    out = run_paper(Warehouse(root, lock_timeout_s=10.0), req, cfg, on_step=on_step)
    print(f"done {out.status} {out.paper_id}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
