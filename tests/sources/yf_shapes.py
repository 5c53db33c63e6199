"""An offline Yahoo Finance for tests: unmodified yfinance 1.x talks HTTP to an in-memory fake, never the network.

The boundary is `curl_cffi.requests.Session.request`, the last Python call before libcurl: every yfinance layer
above it runs for real (download's threads, concat, MultiIndex and tz handling; Ticker.history's chart parsing,
auto-adjust and cleaning; the tz lookup and its SQLite cache; the cookie/crumb dance; `_make_request`'s 429
handling that raises `YFRateLimitError`). The fake serves `/v8/finance/chart/{symbol}` JSON in Yahoo's layout
(meta, timestamp[], indicators.quote[0], indicators.adjclose[0] for daily bars, events.dividends, tradingPeriods for
intraday), 404 + `chart.error` for unknown symbols, and 429 "Too Many Requests" while a symbol is rate-limited on a
virtual clock that only the injected `sleep` advances.

`expected_bars` computes the bars the adapter must return straight from the same specs, independently of
yfinance (the oracle). `NetworkGuard` makes any socket, DNS lookup or libcurl transfer fail loudly.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import curl_cffi
import polars as pl
import pytest
from curl_cffi.requests import Response, Session
from curl_cffi.requests.exceptions import DNSError
from curl_cffi.requests.headers import Headers

from trader_cols import schema

CHART_PATH = "/v8/finance/chart/"
_INTRADAY_MINUTES = {"1m": 1, "2m": 2, "5m": 5, "15m": 15, "30m": 30, "60m": 60, "90m": 90, "1h": 60}


@dataclass(frozen=True)
class Spec:
    """One listed symbol of the fake exchange: its zone, calendar, session hours, price level and dividend."""

    symbol: str
    tz: str
    instrument_type: str  # EQUITY | ETF | CRYPTOCURRENCY
    open_local: time
    session_minutes: int
    every_day: bool  # crypto trades 7 days a week; the others Monday to Friday (no holidays)
    base: float
    ex_dividend: date | None = None  # adjclose = 0.99 * close before this date, = close from it on
    dividend: float = 0.0

    def trades_on(self, d: date) -> bool:
        return self.every_day or d.weekday() < 5

    def open_at(self, d: date) -> datetime:
        return datetime.combine(d, self.open_local, tzinfo=ZoneInfo(self.tz))

    def close_at(self, d: date) -> datetime:
        return self.open_at(d) + timedelta(minutes=self.session_minutes)


SPECS: dict[str, Spec] = {
    s.symbol: s
    for s in (
        Spec("SPY", "America/New_York", "ETF", time(9, 30), 390, False, 400.0, date(2024, 3, 15), 1.6),
        Spec("QQQ", "America/New_York", "ETF", time(9, 30), 390, False, 350.0, date(2024, 3, 18), 0.6),
        Spec("AAPL", "America/New_York", "EQUITY", time(9, 30), 390, False, 180.0, date(2024, 2, 9), 0.24),
        Spec("SAP.DE", "Europe/Berlin", "EQUITY", time(9, 0), 510, False, 150.0),
        Spec("BTC-USD", "UTC", "CRYPTOCURRENCY", time(0, 0), 1440, True, 40000.0),
    )
}


def day_values(spec: Spec, d: date) -> dict[str, float]:
    """Unadjusted daily OHLCV and Yahoo's adjclose of `spec` on session date `d` (a pure function of both)."""
    n = d.toordinal()
    close = spec.base + ((n * 37) % 101) * 0.5
    open_ = close - 0.25
    factor = 0.99 if spec.ex_dividend is not None and d < spec.ex_dividend else 1.0
    return {
        "open": open_,
        "high": close + 1.25,
        "low": open_ - 0.75,
        "close": close,
        "adjclose": close * factor,
        "volume": float((10**10 if spec.every_day else 10**6) + n % 1000),
    }


def bar_values(spec: Spec, d: date, k: int) -> dict[str, float]:
    """Unadjusted OHLCV of the k-th intraday bar of session `d`."""
    close = day_values(spec, d)["close"] + 0.125 * k
    return {"open": close - 0.125, "high": close + 0.25, "low": close - 0.375, "close": close, "volume": 1000.0 + k}


def _sessions(spec: Spec, first: date, last: date) -> Iterator[date]:
    d = first
    while d <= last:
        if spec.trades_on(d):
            yield d
        d += timedelta(days=1)


def _intraday_opens(spec: Spec, d: date, minutes: int) -> list[datetime]:
    start = spec.open_at(d)
    return [start + timedelta(minutes=minutes * k) for k in range(-(-spec.session_minutes // minutes))]


def expected_bars(symbol: str, start: date, end: date, interval: str, *, auto_adjust: bool) -> pl.DataFrame:
    """The bars (`schema.SOURCE_BARS`) a correct adapter returns for `symbol` over [start, end] (end inclusive)."""
    spec = SPECS[symbol]
    rows = []
    for d in _sessions(spec, start - timedelta(days=1), end + timedelta(days=1)):
        if interval == "1d":
            if not start <= d <= end:
                continue
            v = day_values(spec, d)
            ratio = v["adjclose"] / v["close"] if auto_adjust else 1.0
            rows.append({
                "ts": datetime.combine(d, time(0), tzinfo=UTC),
                "open": v["open"] * ratio, "high": v["high"] * ratio, "low": v["low"] * ratio,
                "close": v["adjclose"] if auto_adjust else v["close"],
                "adj_close": None if auto_adjust else v["adjclose"],
                "volume": v["volume"],
            })
        else:
            lo = datetime.combine(start, time(0), tzinfo=ZoneInfo(spec.tz))
            hi = datetime.combine(end + timedelta(days=1), time(0), tzinfo=ZoneInfo(spec.tz))
            for k, t in enumerate(_intraday_opens(spec, d, _INTRADAY_MINUTES[interval])):
                if lo <= t < hi:
                    v = bar_values(spec, d, k)
                    rows.append({"ts": t.astimezone(UTC), **v, "adj_close": None if auto_adjust else v["close"]})
    frame = pl.DataFrame(rows, schema={k: v for k, v in schema.SOURCE_BARS.items() if k != "symbol"})
    return frame.with_columns(symbol=pl.lit(symbol)).select(list(schema.SOURCE_BARS))


# ---------------------------------------------------------------------------------------------------------------
# The fake server


@dataclass
class Request:
    method: str
    url: str
    params: dict
    thread: str


@dataclass
class FakeYahoo:
    """In-memory Yahoo Finance: chart JSON for `SPECS`, 404 for unknown symbols, 429 while rate-limited.

    `rate_limit(symbol, for_s)` refuses that symbol's chart requests until the virtual clock reaches `for_s`;
    only `sleep` (pass it as the adapter's `sleep`) advances the clock, and it records every pause. `down = True`
    makes every request fail as curl_cffi does when DNS cannot resolve (the machine is offline).
    """

    specs: dict[str, Spec] = field(default_factory=lambda: dict(SPECS))
    clock_s: float = 0.0
    down: bool = False
    sleeps: list[float] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    _limits: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def rate_limit(self, symbol: str, for_s: float) -> None:
        self._limits[symbol.upper()] = self.clock_s + for_s

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.clock_s += seconds

    def chart_requests(self, symbol: str, *, history_only: bool = False) -> list[Request]:
        """Chart requests for `symbol`; `history_only` drops the tz look-ups (range=1d)."""
        return [
            r for r in self.requests
            if r.url.endswith(CHART_PATH + symbol) and not (history_only and r.params.get("range") == "1d")
        ]

    # -- HTTP ---------------------------------------------------------------------------------------------------
    def handle(self, method: str, url: str, params: dict | None) -> Response:
        params = dict(params or {})
        with self._lock:
            self.requests.append(Request(method, url, params, threading.current_thread().name))
        if self.down:
            raise DNSError(f"Failed to perform, curl: (6) Could not resolve host: {urlsplit(url).hostname}", 6)
        parts = urlsplit(url)
        host, path = parts.hostname or "", parts.path
        if host == "fc.yahoo.com":
            return _response(url, 404, "<html>cookie set</html>", "text/html")
        if path == "/v1/test/getcrumb":
            return _response(url, 200, "fAkeCrumb0", "text/plain")
        if host == "guce.yahoo.com":
            return _response(url, 200, "<html><body>no consent form here</body></html>", "text/html")
        if path.startswith(CHART_PATH):
            return self._chart(url, path[len(CHART_PATH):], params)
        if path.startswith("/v10/finance/quoteSummary/"):
            symbol = path.rsplit("/", 1)[1]
            body = {"quoteSummary": {"result": None, "error": {
                "code": "Not Found", "description": f"Quote not found for symbol: {symbol}"}}}
            return _response(url, 404, json.dumps(body))
        if path == "/v7/finance/quote":
            return _response(url, 200, json.dumps({"quoteResponse": {"result": [], "error": None}}))
        if "/fundamentals-timeseries/" in path:
            return _response(url, 200, json.dumps({"timeseries": {"result": [], "error": None}}))
        with self._lock:
            self.unexpected.append(f"{method} {url} {params}")
        return _response(url, 404, "not served by FakeYahoo")

    def _chart(self, url: str, symbol: str, params: dict) -> Response:
        limit = self._limits.get(symbol)
        if limit is not None and self.clock_s < limit:
            return _response(url, 429, "Too Many Requests\r\n", "text/html")
        spec = self.specs.get(symbol)
        if spec is None:
            body = {"chart": {"result": None, "error": {
                "code": "Not Found", "description": "No data found, symbol may be delisted"}}}
            return _response(url, 404, json.dumps(body))
        if params.get("range") == "1d":  # yfinance's time-zone look-up
            d = date(2024, 12, 31)
            return _response(url, 200, json.dumps(_chart_body(spec, "1d", [d], None)))
        interval = params["interval"]
        p1, p2 = int(params["period1"]), int(params["period2"])
        first = datetime.fromtimestamp(p1, UTC).date() - timedelta(days=1)
        last = datetime.fromtimestamp(p2, UTC).date() + timedelta(days=1)
        days = list(_sessions(spec, first, last))
        return _response(url, 200, json.dumps(_chart_body(spec, interval, days, (p1, p2))))


def _chart_body(spec: Spec, interval: str, days: list[date], window: tuple[int, int] | None) -> dict:
    """Yahoo's v8 chart JSON for `spec` over `days` (bars whose open lies in `window` = [period1, period2))."""
    intraday = interval in _INTRADAY_MINUTES
    inside = (lambda t: window[0] <= t < window[1]) if window else (lambda t: True)
    ts, quote, adj, periods = [], {k: [] for k in ("open", "high", "low", "close", "volume")}, [], []
    for d in days:
        if intraday:
            bars = [(int(t.timestamp()), bar_values(spec, d, k))
                    for k, t in enumerate(_intraday_opens(spec, d, _INTRADAY_MINUTES[interval]))]
        else:
            bars = [(int(spec.open_at(d).timestamp()), day_values(spec, d))]
        bars = [(t, v) for t, v in bars if inside(t)]
        if not bars:
            continue
        offset = int(spec.open_at(d).utcoffset().total_seconds())
        periods.append([{"timezone": spec.open_at(d).tzname(), "start": int(spec.open_at(d).timestamp()),
                         "end": int(spec.close_at(d).timestamp()), "gmtoffset": offset}])
        for t, v in bars:
            ts.append(t)
            for k in quote:
                quote[k].append(int(v[k]) if k == "volume" else v[k])
            adj.append(v.get("adjclose", v["close"]))
    meta = {
        "currency": "USD" if spec.tz != "Europe/Berlin" else "EUR",
        "symbol": spec.symbol,
        "exchangeName": "PCX" if spec.instrument_type == "ETF" else "NMS",
        "instrumentType": spec.instrument_type,
        "firstTradeDate": 725_000_000,
        "regularMarketTime": ts[-1] if ts else 1_735_678_800,
        "hasPrePostMarketData": spec.instrument_type != "CRYPTOCURRENCY",
        "gmtoffset": int(spec.open_at(days[-1] if days else date(2024, 12, 31)).utcoffset().total_seconds()),
        "timezone": spec.open_at(date(2024, 12, 31)).tzname(),
        "exchangeTimezoneName": spec.tz,
        "priceHint": 2,
        "dataGranularity": interval,
        "range": "",
        "validRanges": ["1d", "5d", "1mo", "3mo", "6mo", "1y", "2y", "5y", "10y", "ytd", "max"],
    }
    if intraday:
        meta["tradingPeriods"] = periods
    indicators: dict = {"quote": [quote if ts else {}]}
    if not intraday and ts:
        indicators["adjclose"] = [{"adjclose": adj}]
    result: dict = {"meta": meta, "indicators": indicators}
    if ts:
        result["timestamp"] = ts
    if not intraday and spec.ex_dividend is not None:
        t = int(spec.open_at(spec.ex_dividend).timestamp())
        if inside(t):
            result["events"] = {"dividends": {str(t): {"amount": spec.dividend, "date": t}}}
    return {"chart": {"result": [result], "error": None}}


def _response(url: str, status: int, body: str, content_type: str = "application/json;charset=utf-8") -> Response:
    r = Response()
    r.url, r.status_code, r.ok = url, status, status < 400
    r.reason = {200: "OK", 404: "Not Found", 429: "Too Many Requests"}.get(status, "")
    r.headers = Headers({"content-type": content_type})
    r.content = body.encode()
    return r


# ---------------------------------------------------------------------------------------------------------------
# Wiring: the fake behind curl_cffi, the network locked


class OfflineViolation(AssertionError):
    """Raised (and recorded) when code under test tries to reach the network."""


@dataclass
class NetworkGuard:
    """Refuses sockets, DNS and libcurl transfers; `attempts` lists what was tried (yfinance swallows errors)."""

    attempts: list[str] = field(default_factory=list)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for owner, name in ((socket.socket, "connect"), (socket.socket, "connect_ex"), (socket, "getaddrinfo"),
                            (socket, "create_connection"), (curl_cffi.Curl, "perform")):
            monkeypatch.setattr(owner, name, self._refuse(f"{getattr(owner, '__name__', owner)}.{name}"))

    def _refuse(self, what: str):
        def refuse(*args, **kwargs):
            self.attempts.append(what)
            raise OfflineViolation(f"network access ({what}) in an offline test")

        return refuse


def serve(fake: FakeYahoo, monkeypatch: pytest.MonkeyPatch) -> NetworkGuard:
    """Route every curl_cffi request to `fake`, lock the network, and clear yfinance's in-process response cache."""
    from yfinance.data import YfData

    def request(self, method, url, params=None, **kwargs):
        return fake.handle(method, url, params)

    guard = NetworkGuard()
    guard.install(monkeypatch)
    monkeypatch.setattr(Session, "request", request)
    YfData.cache_get.cache_clear()  # past-dated chart responses are memoised per process
    return guard
