"""The public Python API returns Polars frames, the same as the CLI prints."""

from __future__ import annotations

import polars as pl

import trader_cols


def test_api_ingest_query_bars(tmp_path):
    wh = tmp_path / "wh"
    res = trader_cols.ingest(["AAA", "BTC-USD"], "2022-01-01", "2022-02-28", warehouse=wh)
    assert not res.failures and set(res.summary["status"]) == {"stored"}
    got = trader_cols.query("SELECT symbol, count(*) AS n FROM bars GROUP BY symbol ORDER BY symbol", warehouse=wh)
    assert isinstance(got, pl.DataFrame) and got["symbol"].to_list() == ["AAA", "BTC-USD"]
    b = trader_cols.bars(["AAA"], "2022-02-01", "2022-02-28", warehouse=wh)
    assert b["ts"].min().day == 1 and b["ts"].max().day == 28 and b["symbol"].unique().to_list() == ["AAA"]


def test_api_config_overrides():
    c = trader_cols.get_config("risk_low", **{"risk.max_position_pct": 0.07})
    assert c.risk.max_position_pct == 0.07 and c.risk.vol_target == 0.06
