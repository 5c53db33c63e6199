"""The out-of-sample stage works on dense [T, N] arrays; here it is held against the long-frame reference on a
book that mixes calendars (an equity's weekend rows next to crypto): the P&L attributed per (fold, symbol) is
`trades.bar_pnl` over the long positions, last-close marks and fills, split by the symbol's previous decision."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from trader_cols.config import load_config
from trader_cols.pipeline.ingest import IngestRequest, ingest
from trader_cols.pipeline.walkforward import RunRequest, run
from trader_cols.trades import bar_pnl
from trader_cols.warehouse import Warehouse

SYMBOLS = ("AAA", "BTC-USD", "CCC")
CFG = load_config(env={}).config


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    wh = Warehouse(tmp_path_factory.mktemp("oos") / "wh")
    ingest(wh, IngestRequest(symbols=SYMBOLS, start=date(2016, 1, 1), end=date(2019, 12, 31), seed=3),
           sanity_cfg=CFG.data_sanity, data_cfg=CFG.data)
    req = RunRequest(symbols=SYMBOLS, start=date(2017, 1, 1), end=date(2019, 12, 31), train_len=252, test_len=63,
                     stride=63, fast=True, ingest_missing=False)
    return wh, run(wh, req, CFG, results_dir=None)


def test_attributed_pnl_is_the_long_frame_bar_pnl_by_previous_decision(result):
    wh, res = result
    positions = res.oos.sim.positions.select("symbol", "ts", "qty")
    closes = wh.read_bars(list(SYMBOLS), "1d").select("symbol", "ts", "close")
    marks = (positions.select("symbol", "ts").join(closes, on=["symbol", "ts"], how="left").sort("symbol", "ts")
             .select("symbol", "ts", pl.col("close").forward_fill().over("symbol").alias("mark")))
    pnl = bar_pnl(positions, marks, res.oos.sim.fills)
    previous = res.oos.decisions.sort("symbol", "ts").select("symbol", "ts", pl.col("fold").shift(1).over("symbol"))
    want = (pnl.join(previous, on=["symbol", "ts"], how="left").drop_nulls("fold")
            .group_by("fold", "symbol").agg(pl.col("pnl").sum(), pl.len().alias("bars")).sort("fold", "symbol"))
    got = (res.oos.attribution.filter(pl.col("strategy") == "(all)")
           .group_by("fold", "symbol").agg(pl.col("pnl").sum(), pl.col("bars").sum()).sort("fold", "symbol"))
    assert positions.filter(pl.col("symbol") == "AAA").height > res.oos.decisions.filter(pl.col("symbol") == "AAA").height
    assert want.height > 20
    assert_frame_equal(got, want, check_dtypes=False, rel_tol=1e-9, abs_tol=1e-6)

