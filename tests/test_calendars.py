"""Asset classes: overrides, then ticker patterns, then the data."""

from __future__ import annotations

import pytest

from trader_cols.calendars import asset_classes, calendar_of, classify_symbol, periods_per_year
from trader_cols.errors import ConfigError
from trader_cols.sources.synthetic import generate


def test_patterns_and_known_etfs():
    assert classify_symbol("BTC-USD") == "crypto" and classify_symbol("eth-usdt") == "crypto"
    assert classify_symbol("SPY") == "etf" and classify_symbol("AAPL") is None


def test_overrides_win():
    assert classify_symbol("SPY", {"SPY": "equity"}) == "equity"
    assert asset_classes(None, {"ODD-USD": "equity"}, ["ODD-USD"]) == {"ODD-USD": "equity"}


def test_weekend_trading_in_the_data_means_crypto():
    b = generate(["AAA", "ZZZ"], "2021-01-01", "2021-02-01", asset_classes={"ZZZ": "crypto"}).bars
    assert asset_classes(b) == {"AAA": "equity", "ZZZ": "crypto"}


def test_annualisation_and_calendars():
    assert periods_per_year("crypto") == 365 and periods_per_year("equity") == periods_per_year("etf") == 252
    assert calendar_of("crypto") == "every_day" and calendar_of("etf") == "business_days"


def test_bad_override_is_a_config_error():
    with pytest.raises(ConfigError, match="asset_classes.SPY"):
        asset_classes(None, {"SPY": "bond"})


def test_one_weekend_day_is_not_enough_for_crypto():
    """Sunday-to-Thursday exchanges and Asian sessions opening Sunday evening UTC stay equities."""
    from datetime import UTC, datetime, timedelta

    import polars as pl

    days = [datetime(2024, 1, 7, 23, tzinfo=UTC) + timedelta(days=i) for i in range(14)]  # starts on a Sunday
    sun_thu = [d for d in days if d.weekday() in (6, 0, 1, 2, 3)]
    every = days
    bars = pl.DataFrame(
        {"symbol": ["TASI"] * len(sun_thu) + ["COIN7"] * len(every), "ts": sun_thu + every}
    ).with_columns(pl.col("ts").cast(pl.Datetime("us", "UTC")))
    assert asset_classes(bars) == {"COIN7": "crypto", "TASI": "equity"}
