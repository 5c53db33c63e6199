"""Shared fixtures: a writable Numba cache, a seeded RNG, a temporary warehouse, small synthetic bars."""

from __future__ import annotations

import os
from pathlib import Path

# NOTE: must be set before numba is imported anywhere: cache=True needs a writable folder shared by workers.
os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(__file__).resolve().parents[1] / ".numba_cache"))
for _var in ("TCOLS_WAREHOUSE", "MAX_POSITION_PCT", "MAX_GROSS_LEVERAGE", "DAILY_LOSS_CUT_PCT", "LOG_LEVEL",
             "LOG_FILE_ROTATION", "IBKR_PAPER_TRADING", "IBKR_HOST", "IBKR_PORT", "IBKR_CLIENT_ID",
             "DISCORD_ENABLED", "DISCORD_WEBHOOK_URL"):
    os.environ.pop(_var, None)  # the developer's shell must not change test outcomes

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture
def warehouse(tmp_path):
    from trader_cols.warehouse import Warehouse

    return Warehouse(tmp_path / "wh", lock_timeout_s=5.0)


@pytest.fixture(scope="session")
def synthetic_bars():
    """Three symbols (two equities, one crypto), 2018–2020 daily, seed 7."""
    from trader_cols.sources.synthetic import generate

    return generate(["AAA", "BBB", "BTC-USD"], "2018-01-01", "2020-12-31", seed=7)
