"""Fixtures for the paper tests: a stored synthetic history, configs, a backtest run to take parameters from."""

from __future__ import annotations

import dataclasses
import shutil
from datetime import date

import pytest

from trader_cols.config import Config, load_config
from trader_cols.pipeline.ingest import IngestRequest, ingest
from trader_cols.pipeline.walkforward import RunRequest, run
from trader_cols.warehouse import Warehouse

SYMBOLS = ("AAA", "BTC-USD")  # an equity (weekdays) and crypto (every day): mixed calendars
HISTORY = (date(2019, 1, 1), date(2020, 6, 30))
BASE = load_config(env={}).config


def paper_config(risk: dict | None = None, engine: dict | None = None, gate: dict | None = None,
                 base: Config = BASE) -> Config:
    """The base config with stop losses off (not reproducible order by order, see docs/paper.md), a permissive
    gate, and the given overrides."""
    g = {"min_sharpe": -100.0, "min_trades": 0, "max_drawdown_pct": 0.99} | (gate or {})
    return dataclasses.replace(
        base,
        risk=dataclasses.replace(base.risk, **({"stop_loss_pct": None} | (risk or {}))),
        engine=dataclasses.replace(base.engine, **(engine or {})),
        paper=dataclasses.replace(base.paper, gate=dataclasses.replace(base.paper.gate, **g)),
    )


@pytest.fixture(scope="session")
def stored_history(tmp_path_factory):
    """A warehouse holding AAA and BTC-USD daily bars for 2019-01-01 .. 2020-06-30 (synthetic, seed 11)."""
    root = tmp_path_factory.mktemp("paper") / "base"
    wh = Warehouse(root)
    req = IngestRequest(symbols=SYMBOLS, start=HISTORY[0], end=HISTORY[1], seed=11)
    ingest(wh, req, sanity_cfg=BASE.data_sanity, data_cfg=BASE.data).raise_for_failures()
    return root


@pytest.fixture
def wh(stored_history, tmp_path) -> Warehouse:
    """A private copy of the stored history."""
    root = tmp_path / "wh"
    shutil.copytree(stored_history, root)
    return Warehouse(root, lock_timeout_s=10.0)


def backtest(wh: Warehouse, cfg: Config, start: date, end: date, symbols=SYMBOLS):
    """`tcols backtest` over [start, end] (fast grid): the run whose parameters the paper session trades."""
    return run(wh, RunRequest(symbols=symbols, start=start, end=end, kind="backtest", fast=True,
                              ingest_missing=False), cfg, results_dir=None)
