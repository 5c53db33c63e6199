"""The yfinance source, offline: unmodified yfinance 1.x runs against an in-memory Yahoo (see yf_shapes.py).

The contract tests pin the yfinance shapes and behaviours the adapter relies on; the adapter tests compare its
output with bars computed independently from the fake exchange's specs.
"""

from __future__ import annotations

import logging
import socket
from datetime import date, datetime
from zoneinfo import ZoneInfo

import curl_cffi
import polars as pl
import pytest
import yfinance
from polars.testing import assert_frame_equal
from yfinance.data import YfData

from trader_cols import schema
from trader_cols.config import YFinanceConfig
from trader_cols.errors import ConfigError, DataSourceError
from trader_cols.sources import yfinance as source
from trader_cols.sources.yfinance import fetch_yfinance

from .yf_shapes import SPECS, FakeYahoo, NetworkGuard, OfflineViolation, expected_bars, serve

# Every argument the adapter must pass to yf.download itself (never yfinance's defaults).
EXPLICIT = {"start", "end", "interval", "auto_adjust", "back_adjust", "actions", "repair", "keepna", "prepost",
            "rounding", "ignore_tz", "group_by", "multi_level_index", "threads", "timeout", "progress"}
MARCH = (date(2024, 3, 1), date(2024, 3, 31))


@pytest.fixture(scope="module")
def yf_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("yf_cache")


@pytest.fixture(autouse=True)
def fake(monkeypatch, yf_cache):
    """Every test in this module: yfinance talks to FakeYahoo; any real network access fails the test.

    yfinance falls back to `Ticker.info` for a missing time zone at most twice per process (a global counter);
    it starts used up here so outcomes do not depend on test order, and `info_fallbacks` re-arms it.
    """
    yahoo = FakeYahoo()
    guard = serve(yahoo, monkeypatch)
    source.point_caches(yf_cache)
    monkeypatch.setattr(yfinance.base, "_tz_info_fetch_ctr", 2)
    yield yahoo
    assert guard.attempts == [], f"network access attempted: {guard.attempts}"
    assert yahoo.unexpected == [], f"requests FakeYahoo does not serve: {yahoo.unexpected}"


@pytest.fixture
def downloads(monkeypatch):
    """Records the arguments of every yf.download call, then runs the real one."""
    calls: list[tuple[list[str], dict]] = []
    real = yfinance.download

    def spy(tickers, **kwargs):
        calls.append((list(tickers), kwargs))
        return real(tickers, **kwargs)

    monkeypatch.setattr(yfinance, "download", spy)
    return calls


def info_fallbacks(monkeypatch, left: int) -> None:
    monkeypatch.setattr(yfinance.base, "_tz_info_fetch_ctr", 2 - left)


def fetch(fake: FakeYahoo, symbols, start, end, interval="1d", *, auto_adjust=True, **cfg):
    settings = {"retries": 3, "backoff_s": 2.0, "batch_size": 50, "timeout_s": 5.0, "threads": True} | cfg
    return fetch_yfinance(symbols, start, end, interval, auto_adjust=auto_adjust, cfg=YFinanceConfig(**settings),
                          sleep=fake.sleep)


def bars_of(fetched, symbol: str) -> pl.DataFrame:
    return fetched.bars.filter(pl.col("symbol") == symbol)


def assert_matches_oracle(fetched, symbols, start, end, interval="1d", *, auto_adjust=True):
    for s in symbols:
        assert_frame_equal(bars_of(fetched, s), expected_bars(s, start, end, interval, auto_adjust=auto_adjust),
                           rel_tol=1e-12)


def raw_download(tickers, start, end, interval="1d", *, auto_adjust=True, multi_level_index=True):
    return yfinance.download(
        tickers, start=start, end=end, interval=interval, auto_adjust=auto_adjust, back_adjust=False,
        actions=False, repair=False, keepna=False, prepost=False, rounding=False, ignore_tz=None,
        group_by="column", multi_level_index=multi_level_index, threads=True, timeout=5, progress=False,
    )


# ---------------------------------------------------------------------------------------------------------------
# Contract: the yfinance 1.x behaviour the adapter depends on


def test_contract_pinned_version():
    assert yfinance.__version__.split(".")[0] == "1"


def test_contract_daily_columns_index_and_failed_block():
    df = raw_download(["SPY", "BTC-USD", "ZZZZ"], "2024-03-13", "2024-03-19", auto_adjust=True)

    assert list(df.columns.names) == ["Price", "Ticker"]
    assert list(df.columns) == sorted(df.columns)  # group_by='column' sorts both levels
    assert df.index.name == "Date" and df.index.tz is None
    assert all(t.hour == 0 and t.minute == 0 for t in df.index)
    # auto_adjust=True: no Adj Close for real tickers, but the failed ticker's all-NaN block still has one
    assert ("Adj Close", "SPY") not in df.columns
    assert ("Adj Close", "ZZZZ") in df.columns
    assert df.xs("ZZZZ", axis=1, level="Ticker").isna().all().all()
    # mixed calendars share the union index: SPY is NaN on the weekend where BTC-USD trades
    weekend = df.loc["2024-03-16"]
    assert weekend[("Close", "SPY")] != weekend[("Close", "SPY")]
    assert weekend[("Close", "BTC-USD")] > 0


def test_contract_single_ticker_is_still_multiindex_and_has_adj_close_unadjusted():
    df = raw_download(["SPY"], "2024-03-11", "2024-03-16", auto_adjust=False)

    assert list(df.columns.names) == ["Price", "Ticker"]
    assert [p for p, _ in df.columns] == ["Adj Close", "Close", "High", "Low", "Open", "Volume"]
    assert df.index[-1].date() == date(2024, 3, 15)  # end is exclusive


def test_contract_intraday_index_is_zoned_and_named_datetime():
    df = raw_download(["SPY", "BTC-USD"], "2024-03-11", "2024-03-12", interval="1h")

    assert df.index.name == "Datetime"
    assert df.index.tz is not None


def test_contract_failures_are_logged_not_raised(fake, caplog):
    fake.rate_limit("QQQ", 100)

    with caplog.at_level(logging.ERROR, logger="yfinance"):
        df = raw_download(["SPY", "QQQ", "ZZZZ"], "2024-03-11", "2024-03-16")

    lines = [r.getMessage() for r in caplog.records]
    assert any(line.startswith("['QQQ']: YFRateLimitError(") for line in lines), lines
    assert any(line.startswith("['ZZZZ']: possibly delisted") for line in lines), lines
    assert df.xs("QQQ", axis=1, level="Ticker").isna().all().all()


@pytest.mark.parametrize(("fallbacks", "tz_cached", "reported"), [
    (0, False, "['SPY']: possibly delisted; no timezone found"),
    (0, True, "['SPY']: possibly delisted; no price data found"),
    (2, False, "['SPY']: DNSError("),  # the Ticker.info fallback lets the DNS error through
], ids=["tz-lookup", "chart", "info-fallback"])
def test_contract_network_down_is_mostly_reported_as_possibly_delisted(
    fake, caplog, monkeypatch, tmp_path, fallbacks, tz_cached, reported
):
    source.point_caches(tmp_path)  # a fresh time-zone cache
    if tz_cached:
        raw_download(["SPY"], "2024-03-11", "2024-03-16")
        YfData.cache_get.cache_clear()  # else the memoised chart response would be replayed
    info_fallbacks(monkeypatch, fallbacks)
    fake.down = True

    with caplog.at_level(logging.ERROR, logger="yfinance"):
        df = raw_download(["SPY"], "2024-03-11", "2024-03-16")

    assert df.isna().all().all()
    lines = [r.getMessage() for r in caplog.records]
    assert any(line.startswith(reported) for line in lines), lines


# ---------------------------------------------------------------------------------------------------------------
# The adapter


@pytest.mark.parametrize("auto_adjust", [True, False])
def test_several_tickers_mixed_calendars_match_the_oracle(fake, auto_adjust):
    symbols = ["SPY", "QQQ", "BTC-USD", "SAP.DE"]

    got = fetch(fake, symbols, *MARCH, auto_adjust=auto_adjust)

    assert got.failures == {}
    assert dict(got.bars.schema) == schema.SOURCE_BARS
    assert_matches_oracle(got, symbols, *MARCH, auto_adjust=auto_adjust)
    # equities have no weekend rows (the union index's all-NaN rows are dropped); crypto trades every day
    weekdays = bars_of(got, "SPY")["ts"].dt.weekday().unique().sort().to_list()
    assert weekdays == [1, 2, 3, 4, 5]
    assert bars_of(got, "BTC-USD").height == 31
    assert got.bars["adj_close"].is_null().all() == auto_adjust
    assert got.bars["volume"].dtype == pl.Float64


def test_auto_adjust_and_every_argument_are_passed_explicitly(fake, downloads):
    for auto_adjust in (True, False):
        fetch(fake, ["SPY"], date(2024, 3, 11), date(2024, 3, 15), auto_adjust=auto_adjust)

    assert [kw["auto_adjust"] for _, kw in downloads] == [True, False]
    for _, kw in downloads:
        assert set(kw) == EXPLICIT, set(kw) ^ EXPLICIT
        assert kw["start"] == "2024-03-11" and kw["end"] == "2024-03-16"  # inclusive end → yfinance's exclusive end
        assert (kw["actions"], kw["group_by"], kw["multi_level_index"], kw["progress"]) == (False, "column", True, False)
        assert (kw["ignore_tz"], kw["repair"], kw["back_adjust"], kw["keepna"]) == (True, False, False, False)
        assert (kw["threads"], kw["timeout"]) == (True, 5.0)


def test_adjusted_prices_differ_from_raw_before_the_dividend(fake):
    adjusted = bars_of(fetch(fake, ["SPY"], *MARCH, auto_adjust=True), "SPY")
    raw = bars_of(fetch(fake, ["SPY"], *MARCH, auto_adjust=False), "SPY")

    before = pl.col("ts") < datetime(2024, 3, 15, tzinfo=ZoneInfo("UTC"))
    ratio = adjusted.filter(before)["close"] / raw.filter(before)["close"]
    assert ratio.round(12).unique().to_list() == [0.99]
    assert raw.filter(before)["adj_close"].equals(adjusted.filter(before)["close"])


def test_single_ticker_and_inclusive_end(fake):
    got = fetch(fake, ["SPY"], date(2024, 3, 11), date(2024, 3, 15))

    ts = bars_of(got, "SPY")["ts"]
    assert ts.dt.date().to_list() == [date(2024, 3, d) for d in range(11, 16)]
    period2 = int(fake.chart_requests("SPY", history_only=True)[0].params["period2"])
    assert period2 == int(datetime(2024, 3, 16, tzinfo=ZoneInfo("America/New_York")).timestamp())


def test_daily_bars_are_session_dates_at_utc_midnight_in_every_zone(fake):
    got = fetch(fake, ["SAP.DE", "SPY", "BTC-USD"], date(2024, 3, 4), date(2024, 3, 8))

    for s in ("SAP.DE", "SPY", "BTC-USD"):
        ts = bars_of(got, s)["ts"]
        assert ts.dt.date().to_list() == [date(2024, 3, d) for d in range(4, 9)], s
        assert (ts.dt.hour() == 0).all() and (ts.dt.minute() == 0).all()


def test_intraday_bars_are_open_times_in_utc_across_a_dst_change(fake):
    start, end = date(2024, 3, 8), date(2024, 3, 12)  # US clocks moved on Sunday 2024-03-10
    symbols = ["SPY", "BTC-USD", "SAP.DE"]

    got = fetch(fake, symbols, start, end, "1h")

    assert got.failures == {}
    assert_matches_oracle(got, symbols, start, end, "1h")
    spy_first = bars_of(got, "SPY").group_by(pl.col("ts").dt.date().alias("day")).agg(pl.col("ts").min()).sort("day")["ts"]
    assert [(t.hour, t.minute) for t in spy_first] == [(14, 30), (13, 30), (13, 30)]  # 09:30 EST, then EDT
    assert bars_of(got, "BTC-USD")["ts"].min() == datetime(2024, 3, 8, tzinfo=ZoneInfo("UTC"))


@pytest.mark.parametrize("fallbacks", [0, 2])
def test_unknown_ticker_fails_alone_with_an_honest_typed_error(fake, monkeypatch, fallbacks):
    info_fallbacks(monkeypatch, fallbacks)  # with them, yfinance also asks quoteSummary before giving up

    got = fetch(fake, ["SPY", "ZZZZ", "BTC-USD"], date(2024, 3, 11), date(2024, 3, 15), retries=2)

    assert_matches_oracle(got, ["SPY", "BTC-USD"], date(2024, 3, 11), date(2024, 3, 15))
    assert set(got.failures) == {"ZZZZ"}
    err = got.failures["ZZZZ"]
    assert isinstance(err, DataSourceError) and (err.source, err.symbol) == ("yfinance", "ZZZZ")
    assert "no data returned (unknown or delisted ticker, or no network)" in str(err)
    assert "3 attempts" in str(err)
    assert fake.sleeps == [2.0, 4.0]
    # the retries ask only for the ticker that failed
    assert len(fake.chart_requests("SPY", history_only=True)) == 1
    assert len([r for r in fake.chart_requests("ZZZZ") if r.params.get("range") == "1d"]) >= 3


def test_rate_limit_is_retried_with_backoff_then_succeeds(fake):
    fake.rate_limit("QQQ", 5.0)  # lifts once 2 + 4 seconds have been slept

    got = fetch(fake, ["SPY", "QQQ"], *MARCH, retries=3, backoff_s=2.0)

    assert got.failures == {}
    assert fake.sleeps == [2.0, 4.0]
    assert_matches_oracle(got, ["SPY", "QQQ"], *MARCH)


def test_persisting_rate_limit_fails_after_bounded_retries(fake):
    fake.rate_limit("QQQ", 1000.0)

    got = fetch(fake, ["SPY", "QQQ"], *MARCH, retries=2, backoff_s=0.5)

    assert fake.sleeps == [0.5, 1.0]
    assert set(got.failures) == {"QQQ"}
    message = str(got.failures["QQQ"])
    assert "rate-limited by Yahoo" in message and "3 attempts" in message
    assert_matches_oracle(got, ["SPY"], *MARCH)


def test_no_retries_means_one_attempt_and_no_sleep(fake):
    got = fetch(fake, ["ZZZZ"], *MARCH, retries=0)

    assert fake.sleeps == []
    assert "1 attempt)" in str(got.failures["ZZZZ"])
    assert got.bars.height == 0 and dict(got.bars.schema) == schema.SOURCE_BARS


@pytest.mark.parametrize("fallbacks", [0, 2])
def test_network_down_fails_every_symbol_without_raising(fake, monkeypatch, tmp_path, fallbacks):
    source.point_caches(tmp_path)
    info_fallbacks(monkeypatch, fallbacks)
    fake.down = True

    # threads=False: yfinance's fallback counter is not thread-safe, so with threads the count of surfaced DNS
    # errors below could vary
    got = fetch(fake, ["SPY", "BTC-USD", "QQQ"], *MARCH, retries=0, threads=False)

    assert set(got.failures) == {"SPY", "BTC-USD", "QQQ"}
    assert got.bars.height == 0
    # yfinance mostly reports the outage as "possibly delisted": the message must not pretend to know better
    messages = [str(e) for e in got.failures.values()]
    honest = [m for m in messages if "no data returned (unknown or delisted ticker, or no network)" in m]
    surfaced = [m for m in messages if m.count("request failed") and "Could not resolve host" in m]
    assert len(honest) + len(surfaced) == 3
    assert len(surfaced) == (2 if fallbacks else 0)


def test_tickers_go_in_batches(fake, downloads):
    symbols = ["SPY", "QQQ", "AAPL", "BTC-USD", "SAP.DE"]

    got = fetch(fake, symbols, date(2024, 3, 11), date(2024, 3, 15), batch_size=2, threads=False)

    assert [sorted(t) for t, _ in downloads] == [["QQQ", "SPY"], ["AAPL", "BTC-USD"], ["SAP.DE"]]
    assert got.bars["symbol"].unique().sort().to_list() == sorted(symbols)


def test_symbols_are_returned_as_asked_and_deduplicated(fake, downloads):
    got = fetch(fake, ["spy", "SPY", " btc-usd", ""], date(2024, 3, 11), date(2024, 3, 15))

    assert downloads[0][0] == ["SPY", "BTC-USD"]
    assert got.bars["symbol"].unique().sort().to_list() == ["btc-usd", "spy"]


def test_no_symbols_no_call(fake, downloads):
    got = fetch(fake, [], *MARCH)

    assert downloads == [] and got.bars.height == 0 and got.failures == {}


@pytest.mark.parametrize(("interval", "start", "end", "key"), [
    ("4h", date(2024, 3, 1), date(2024, 3, 2), "data.interval"),
    ("1d", date(2024, 3, 2), date(2024, 3, 1), "data.start"),
])
def test_bad_requests_are_config_errors(fake, interval, start, end, key):
    with pytest.raises(ConfigError) as info:
        fetch(fake, ["SPY"], start, end, interval)
    assert info.value.key == key


# Other shapes yfinance can hand over: flat columns, and a zoned daily index (Ticker.history's shape). They are
# produced by yfinance itself against the fake, then served in place of download's usual answer.


def test_flat_columns_from_a_single_ticker_download(fake, monkeypatch):
    flat = raw_download(["SPY"], "2024-03-11", "2024-03-16", auto_adjust=False, multi_level_index=False)
    assert flat.columns.nlevels == 1 and "Adj Close" in flat.columns
    monkeypatch.setattr(yfinance, "download", lambda *a, **k: flat.copy())

    got = fetch(fake, ["SPY"], date(2024, 3, 11), date(2024, 3, 15), auto_adjust=False)

    assert_matches_oracle(got, ["SPY"], date(2024, 3, 11), date(2024, 3, 15), auto_adjust=False)


@pytest.mark.parametrize("symbol", ["SAP.DE", "SPY"])
def test_zoned_daily_index_is_read_as_its_local_session_date(fake, monkeypatch, symbol):
    history = yfinance.Ticker(symbol).history(start="2024-03-04", end="2024-03-09", interval="1d",
                                              auto_adjust=True, actions=True)
    assert str(history.index.tz) == {"SAP.DE": "Europe/Berlin", "SPY": "America/New_York"}[symbol]
    assert "Dividends" in history.columns
    monkeypatch.setattr(yfinance, "download", lambda *a, **k: history.copy())

    got = fetch(fake, [symbol], date(2024, 3, 4), date(2024, 3, 8))

    assert_matches_oracle(got, [symbol], date(2024, 3, 4), date(2024, 3, 8))


def test_a_missing_field_stays_null_and_a_row_without_ohlc_is_dropped(fake, monkeypatch):
    frame = raw_download(["SPY", "QQQ"], "2024-03-11", "2024-03-16")
    frame.loc["2024-03-12", ("Open", "SPY")] = float("nan")  # a bar with a hole: kept, for the sanity checks
    for field in ("Open", "High", "Low", "Close"):
        frame.loc["2024-03-13", (field, "QQQ")] = float("nan")  # no OHLC at all: not a bar, even with volume
    monkeypatch.setattr(yfinance, "download", lambda *a, **k: frame.copy())

    got = fetch(fake, ["SPY", "QQQ"], date(2024, 3, 11), date(2024, 3, 15))

    spy = bars_of(got, "SPY").filter(pl.col("ts").dt.date() == date(2024, 3, 12))
    assert spy["open"].is_null().all() and spy["close"].is_not_null().all()
    assert date(2024, 3, 13) not in bars_of(got, "QQQ")["ts"].dt.date().to_list()
    assert bars_of(got, "QQQ").height == 4 and not got.bars["open"].is_nan().any()


def test_tz_naive_intraday_times_are_refused(fake, monkeypatch):
    frame = raw_download(["SPY"], "2024-03-11", "2024-03-12", interval="1h")
    frame.index = frame.index.tz_localize(None)  # what ignore_tz=True would hand over: local times, zone lost
    monkeypatch.setattr(yfinance, "download", lambda *a, **k: frame.copy())

    with pytest.raises(DataSourceError, match="tz-naive intraday"):
        fetch(fake, ["SPY"], date(2024, 3, 11), date(2024, 3, 11), "1h")


# ---------------------------------------------------------------------------------------------------------------
# Caches and the network lock


def test_yfinance_caches_go_to_the_folder_given_even_after_first_use(fake, tmp_path):
    first, second = tmp_path / "a" / "yfinance", tmp_path / "b" / "yfinance"
    for folder in (first, second):  # yfinance alone would keep writing to the first folder it opened
        fetch_yfinance(["SPY"], date(2024, 3, 11), date(2024, 3, 15), "1d", auto_adjust=True,
                       cfg=YFinanceConfig(), sleep=fake.sleep, cache_dir=folder)
        assert (folder / "tkr-tz.db").is_file()
    assert yfinance.cache.get_tz_cache().lookup("SPY") == "America/New_York"
    assert source.point_caches(None) == second  # None keeps the folder in use


def test_default_cache_folder_is_outside_home():
    folder = source.default_cache_dir()
    assert folder.name.startswith("trader_cols-yfinance")
    assert not folder.is_relative_to(folder.home())


def test_network_guard_refuses_sockets_dns_and_libcurl(monkeypatch):
    guard = NetworkGuard()
    guard.install(monkeypatch)

    with pytest.raises(OfflineViolation):
        socket.create_connection(("query2.finance.yahoo.com", 443), timeout=1)
    with pytest.raises(OfflineViolation):
        socket.getaddrinfo("query2.finance.yahoo.com", 443)
    with pytest.raises(OfflineViolation):
        curl_cffi.Curl().perform()
    assert len(guard.attempts) == 3


def test_retry_does_not_replay_a_memoised_failure(fake):
    # yfinance memoises past-dated chart responses in-process; a retry must reach the server again
    fake.specs.pop("AAPL")
    first = fetch(fake, ["AAPL"], *MARCH, retries=0)
    assert "AAPL" in first.failures
    fake.specs["AAPL"] = SPECS["AAPL"]
    second = fetch(fake, ["AAPL"], *MARCH, retries=0)

    assert second.failures == {}
    assert second.bars.height == expected_bars("AAPL", *MARCH, "1d", auto_adjust=True).height
