"""The synthetic source: deterministic, prefix-stable, valid OHLC, regime-switching, right calendars."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from trader_cols.errors import DataSourceError
from trader_cols.sources.synthetic import generate


def test_same_seed_same_bars_other_seed_other_bars():
    a = generate(["AAA", "BTC-USD"], "2020-01-01", "2020-06-30", seed=3).bars
    b = generate(["BTC-USD", "AAA"], "2020-01-01", "2020-06-30", seed=3).bars
    c = generate(["AAA", "BTC-USD"], "2020-01-01", "2020-06-30", seed=4).bars
    assert a.equals(b)
    assert not a.equals(c)


def test_overlapping_ranges_agree_exactly():
    long = generate(["AAA"], "2019-01-01", "2020-12-31", seed=1).bars
    short = generate(["AAA"], "2020-03-01", "2020-04-30", seed=1).bars
    joined = short.join(long, on=["symbol", "ts"], how="left", suffix="_l")
    assert joined.height == short.height
    for c in ("open", "high", "low", "close", "volume"):
        assert (joined[c] == joined[f"{c}_l"]).all()


def test_symbols_do_not_depend_on_each_other():
    alone = generate(["AAA"], "2020-01-01", "2020-03-31", seed=1).bars
    together = generate(["AAA", "ZZZ"], "2020-01-01", "2020-03-31", seed=1).bars.filter(pl.col("symbol") == "AAA")
    assert alone.equals(together)


def test_ohlc_is_valid(synthetic_bars):
    b = synthetic_bars.bars
    assert (b["low"] > 0).all()
    assert b.select((pl.col("high") >= pl.max_horizontal("open", "close")).all()).item()
    assert b.select((pl.col("low") <= pl.min_horizontal("open", "close")).all()).item()
    assert (b["volume"] >= 0).all()
    assert not b.select(pl.col("open", "high", "low", "close").is_nan().any()).row(0).count(True)


def test_calendars_business_days_for_equities_every_day_for_crypto(synthetic_bars):
    b = synthetic_bars.bars.with_columns(pl.col("ts").dt.weekday().alias("wd"))
    assert b.filter((pl.col("symbol") == "AAA") & (pl.col("wd") >= 6)).height == 0
    crypto = b.filter(pl.col("symbol") == "BTC-USD")
    assert crypto.filter(pl.col("wd") >= 6).height > 0
    assert crypto.height == (date(2020, 12, 31) - date(2018, 1, 1)).days + 1


def test_daily_bars_are_labelled_at_utc_midnight(synthetic_bars):
    ts = synthetic_bars.bars["ts"]
    assert ts.dtype == pl.Datetime("us", "UTC")
    assert (ts.dt.hour() == 0).all() and (ts.dt.minute() == 0).all()


def test_regime_path_switches_and_has_every_regime(synthetic_bars):
    r = synthetic_bars.regimes.filter(pl.col("symbol") == "AAA")["regime"]
    assert set(r.unique()) == {"trend", "chop", "volatile"}
    switches = int((r != r.shift(1)).sum()) - 1
    assert 3 <= switches <= r.len() / 20  # regimes persist (mean dwell 60 bars)


def test_volatile_regime_is_more_volatile(synthetic_bars):
    b = synthetic_bars.bars.join(synthetic_bars.regimes, on=["symbol", "ts"])
    b = b.filter(pl.col("symbol") != "BTC-USD").with_columns(
        (pl.col("close").log() - pl.col("close").log().shift(1)).over("symbol").alias("r")
    )
    sd = dict(b.group_by("regime").agg(pl.col("r").std()).iter_rows())
    assert sd["volatile"] > 2 * sd["trend"]
    assert sd["volatile"] > 2 * sd["chop"]


def test_intraday_equity_bars_follow_new_york_session_across_dst():
    b = generate(["AAA"], "2024-03-08", "2024-03-11", interval="1h").bars
    opens = b.group_by(pl.col("ts").dt.date().alias("d")).agg(pl.col("ts").min().alias("o")).sort("d")["o"]
    # 09:30 New York is 14:30 UTC in winter time (Mar 8) and 13:30 UTC after the switch (Mar 11)
    assert [t.hour * 60 + t.minute for t in opens] == [14 * 60 + 30, 13 * 60 + 30]
    assert b.height == 2 * 7  # 09:30 … 15:30: seven hourly bars a session


def test_errors_are_typed():
    with pytest.raises(DataSourceError, match="interval"):
        generate(["AAA"], "2020-01-01", "2020-02-01", interval="1wk")
    with pytest.raises(DataSourceError, match="before start"):
        generate(["AAA"], "2020-02-01", "2020-01-01")
    with pytest.raises(DataSourceError, match="starts 1990"):
        generate(["AAA"], "1980-01-01", "1981-01-01")
