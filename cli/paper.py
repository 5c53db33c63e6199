#!/usr/bin/env python3
"""`python cli/paper.py ARGS` is `tcols paper ARGS` (the seed system's documented invocation)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # a source checkout works without installing

from trader_cols.commands import main  # noqa: E402

if __name__ == "__main__":
    main(["paper", *sys.argv[1:]])
