"""Bars from Yahoo Finance through yfinance 1.x: batched `yf.download` calls with every argument explicit, bounded
retries with backoff, and the wide pandas frame turned into long `SOURCE_BARS` (Polars) on arrival.

Facts this module relies on (yfinance 1.7, pinned `>=1.7,<2`; pinned again by tests/sources/test_yfinance.py):
- `download` never raises for a bad ticker, a rate limit or a network outage: it logs
  `"['ZZZZ']: <reason>"` on the `yfinance` logger and returns an all-NaN block for that ticker (with an
  `Adj Close` column even when `auto_adjust=True`). We treat a missing or all-NaN block as a failure and read the
  logged reason only to say why. A DNS outage is reported by yfinance as "possibly delisted", so the message for
  that case says "unknown or delisted ticker, or no network" rather than guessing.
- Columns are `MultiIndex(names=['Price', 'Ticker'])`, levels sorted, even for one ticker; the index is tz-naive
  session dates named `Date` for daily+ intervals (`ignore_tz=True`) and tz-aware bar open times named `Datetime`
  for intraday ones (converted by yfinance to the most common exchange zone of the batch). Several tickers share
  the union of their calendars: rows where a ticker has no OHLC at all are not bars and are dropped.
- `end` is exclusive in yfinance; ours is inclusive, so we ask for `end + 1 day`.

Timestamps: daily-or-longer bars are labelled by their session date at 00:00 UTC (a tz-aware daily index is read
as its local date); intraday bars by their open time converted to UTC.

Caches: yfinance keeps small SQLite caches (ticker time zones, a cookie, ISIN look-ups) in `~/.cache/py-yfinance`
by default. `fetch_yfinance(cache_dir=...)` points them at that folder instead (the ingest pipeline passes one
under the warehouse); with no folder given they go to `default_cache_dir()`, a per-user folder in the system
temp dir, so nothing is written under the home directory.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl
import yfinance as yf
import yfinance.cache as yf_cache
from yfinance.data import YfData
from yfinance.exceptions import YFRateLimitError

from trader_cols import schema
from trader_cols.config import YFinanceConfig
from trader_cols.errors import ConfigError, DataSourceError
from trader_cols.logs import get_logger
from trader_cols.sources.base import Fetched

SOURCE = "yfinance"
INTRADAY_INTERVALS = ("1m", "2m", "5m", "15m", "30m", "60m", "90m", "1h")
NO_DATA = "no data returned (unknown or delisted ticker, or no network)"
_SEP = "\x1f"  # joins ticker and price field in the wide frame's column names
_PRICE_FIELDS = {"open": "Open", "high": "High", "low": "Low", "close": "Close"}
_REPORTED = re.compile(r"^\[(?P<tickers>'[^']*'(?:, '[^']*')*)\]: (?P<reason>.+)$", re.S)

log = get_logger("sources.yfinance")
_cache_lock = threading.Lock()
_cache_dir: Path | None = None


def fetch_yfinance(
    symbols: Sequence[str],
    start: date,
    end: date,
    interval: str,
    *,
    auto_adjust: bool,
    cfg: YFinanceConfig,
    sleep: Callable[[float], object] = time.sleep,
    cache_dir: str | Path | None = None,
) -> Fetched:
    """Fetch bars for `symbols` over [start, end] (both inclusive) at `interval` from Yahoo Finance.

    Tickers go to `yf.download` in batches of `cfg.batch_size`. A ticker that comes back missing or all-NaN (unknown,
    delisted, rate-limited, network down) is asked for again, up to `cfg.retries` more times, after pauses of
    `cfg.backoff_s * 2**k` seconds taken with `sleep`; one that still fails becomes a
    `DataSourceError(source="yfinance", symbol=...)` in `Fetched.failures` saying why, and never stops the others.
    `auto_adjust=True` gives split/dividend-adjusted OHLC and a null `adj_close`; `False` gives raw OHLC and Yahoo's
    `Adj Close` as `adj_close`. Volume is float64. `cache_dir` is where yfinance keeps its SQLite caches (see the
    module docstring). Symbols are sent upper-cased (as yfinance does) and returned as asked (stripped).
    """
    if interval not in schema.INTERVALS:
        raise ConfigError(f"interval {interval!r} is not one of {', '.join(schema.INTERVALS)}", key="data.interval")
    start, end = _as_date(start), _as_date(end)
    if start > end:
        raise ConfigError(f"start {start} is after end {end}", key="data.start")
    wanted: dict[str, str] = {}  # ticker as yfinance names it → symbol as asked (first spelling wins)
    for s in (s.strip() for s in symbols):
        if s:
            wanted.setdefault(s.upper(), s)
    if not wanted:
        return Fetched.of([])
    point_caches(Path(cache_dir) if cache_dir is not None else None)

    request = _Request(start=start, end=end, interval=interval, auto_adjust=auto_adjust, cfg=cfg)
    tickers = list(wanted)
    frames: list[pl.DataFrame] = []
    failures: dict[str, DataSourceError] = {}
    for i in range(0, len(tickers), cfg.batch_size):
        got, failed = _fetch_batch(tickers[i : i + cfg.batch_size], request, sleep)
        frames += [bars.with_columns(symbol=pl.lit(wanted[t])) for t, bars in got.items()]
        failures |= {
            wanted[t]: DataSourceError(reason, source=SOURCE, symbol=wanted[t]) for t, reason in failed.items()
        }
    log.info("yfinance %s %s..%s: %d of %d symbols fetched", interval, start, end, len(frames), len(tickers))
    return Fetched.of(frames, failures)


def default_cache_dir() -> Path:
    """The folder for yfinance's caches when the caller names none: per user, under the system temp dir."""
    user = os.getuid() if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
    return Path(tempfile.gettempdir()) / f"trader_cols-yfinance-{user}"


def point_caches(folder: Path | None) -> Path:
    """Point yfinance's SQLite caches at `folder` (None: keep the current one, or `default_cache_dir()` at first).

    `yf.set_tz_cache_location` only takes effect before yfinance first opens its caches, so to honour a different
    folder later in the same process we also drop yfinance's opened cache objects; they reopen in the new folder on
    next use. Returns the folder in use.
    """
    global _cache_dir
    with _cache_lock:
        target = folder if folder is not None else (_cache_dir or default_cache_dir())
        if target != _cache_dir:
            yf.set_tz_cache_location(str(target))
            for manager, attr in (("_TzCacheManager", "_tz_cache"), ("_CookieCacheManager", "_Cookie_cache"),
                                  ("_ISINCacheManager", "_isin_cache")):
                owner = getattr(yf_cache, manager, None)
                if owner is not None and hasattr(owner, attr):
                    setattr(owner, attr, None)
            _cache_dir = target
        return target


@dataclass(frozen=True)
class _Request:
    start: date
    end: date  # inclusive
    interval: str
    auto_adjust: bool
    cfg: YFinanceConfig

    @property
    def intraday(self) -> bool:
        return self.interval in INTRADAY_INTERVALS

    def describe(self) -> str:
        return f"{self.interval} {self.start}..{self.end}"


def _fetch_batch(
    tickers: list[str], req: _Request, sleep: Callable[[float], object]
) -> tuple[dict[str, pl.DataFrame], dict[str, str]]:
    """One batch with its retries: (bars by ticker, final failure message by ticker)."""
    got: dict[str, pl.DataFrame] = {}
    pending = list(tickers)
    reasons: dict[str, str | None] = {}
    attempts = req.cfg.retries + 1
    for attempt in range(1, attempts + 1):
        if attempt > 1:
            pause = req.cfg.backoff_s * 2 ** (attempt - 2)
            log.warning(
                "yfinance: %d of %d tickers failed (%s); retrying in %.1f s (attempt %d of %d)",
                len(pending), len(tickers), ", ".join(pending), pause, attempt, attempts,
            )
            sleep(pause)
        bars, reasons = _download(pending, req)
        got |= bars
        pending = [t for t in pending if t not in bars]
        if not pending:
            break
    return got, {t: _explain(reasons.get(t), req, attempts) for t in pending}


def _download(tickers: list[str], req: _Request) -> tuple[dict[str, pl.DataFrame], dict[str, str | None]]:
    """One `yf.download` call: bars of the tickers that came back, yfinance's reason for those that did not."""
    YfData.cache_get.cache_clear()  # yfinance memoises past-dated responses per process; a retry must re-ask
    with _reported_errors() as reported, warnings.catch_warnings():
        # yfinance 1.7 on pandas 3 raises dozens of Pandas4Warnings (DeprecationWarning) about its own `inplace=`
        # calls, and its __init__ forces them visible; a `tcols ingest` user cannot act on them.
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"yfinance(\.|$)")
        try:
            wide = _to_polars(
                yf.download(
                    tickers,
                    start=req.start.isoformat(),
                    end=(req.end + timedelta(days=1)).isoformat(),  # yfinance's end is exclusive
                    interval=req.interval,
                    auto_adjust=req.auto_adjust,
                    back_adjust=False,
                    actions=False,
                    repair=False,
                    keepna=False,
                    prepost=False,
                    rounding=False,
                    ignore_tz=not req.intraday,
                    group_by="column",
                    multi_level_index=True,
                    threads=req.cfg.threads,
                    timeout=req.cfg.timeout_s,
                    progress=False,
                )
            )
        except YFRateLimitError as exc:  # 1.x swallows it; kept in case a version raises it again
            return {}, dict.fromkeys(tickers, repr(exc))
    for line in reported.lines:
        log.debug("yfinance reported: %s", line)
    bars: dict[str, pl.DataFrame] = {}
    reasons: dict[str, str | None] = {}
    for t in tickers:
        frame = _ticker_bars(wide, t, req, single=len(tickers) == 1)
        if t in reported.reasons:  # data with a reported error (e.g. failed auto-adjust) is not trustworthy
            reasons[t] = reported.reasons[t]
        elif frame.height == 0:
            reasons[t] = None
        else:
            bars[t] = frame
    return bars, reasons


def _to_polars(raw) -> pl.DataFrame:
    """yfinance's wide pandas frame as Polars: `ts` (its index, naive or zoned, as given) and one Float64 column per
    (ticker, price field) named `TICKER<SEP>Field`; flat columns (one ticker) are named `<SEP>Field`."""
    if raw is None or raw.shape[1] == 0:
        return pl.DataFrame({"ts": pl.Series([], dtype=pl.Datetime("us"))})
    if raw.columns.nlevels == 2:
        at = _price_level(raw.columns)
        names = [f"{col[1 - at]}{_SEP}{col[at]}" for col in raw.columns.tolist()]
    else:
        names = [f"{_SEP}{col}" for col in raw.columns.tolist()]
    values = raw.to_numpy(dtype="float64", na_value=float("nan"))
    ts = pl.from_pandas(raw.index) if raw.shape[0] else pl.Series([], dtype=pl.Datetime("us"))
    columns = {"ts": ts.alias("ts")} | {n: pl.Series(n, values[:, j], dtype=pl.Float64) for j, n in enumerate(names)}
    return pl.DataFrame(columns)


def _price_level(columns) -> int:
    """Which of the two column levels holds the price fields (by name, else by content)."""
    if "Price" in list(columns.names):
        return list(columns.names).index("Price")
    return 0 if "Close" in columns.get_level_values(0) else 1


def _ticker_bars(wide: pl.DataFrame, ticker: str, req: _Request, *, single: bool) -> pl.DataFrame:
    """The long bars of one ticker from the wide frame; rows with no OHLC at all are other tickers' sessions."""
    if wide.height == 0:
        return schema.empty({k: v for k, v in schema.SOURCE_BARS.items() if k != "symbol"})
    prefix = f"{ticker}{_SEP}"
    if not any(c.startswith(prefix) for c in wide.columns) and single:
        prefix = _SEP  # flat columns: the only ticker of the call
    have = set(wide.columns)

    def field(name: str) -> pl.Expr:
        col = prefix + name
        return pl.col(col).fill_nan(None) if col in have else pl.lit(None, dtype=pl.Float64)

    adj = field("Adj Close") if not req.auto_adjust else pl.lit(None, dtype=pl.Float64)
    frame = wide.select(
        ts=_label(pl.col("ts"), wide.schema["ts"], req),
        **{k: field(v) for k, v in _PRICE_FIELDS.items()},
        adj_close=adj,
        volume=field("Volume"),
    )
    return frame.filter(pl.any_horizontal(pl.col(list(_PRICE_FIELDS)).is_not_null()))


def _label(ts: pl.Expr, dtype: pl.DataType, req: _Request) -> pl.Expr:
    """Bar labels in UTC: intraday → open time in UTC; daily+ → session date (local, if zoned) at 00:00 UTC."""
    zone = getattr(dtype, "time_zone", None)
    if req.intraday:
        if zone is None:
            raise DataSourceError(
                f"yfinance returned tz-naive intraday times for {req.describe()}; cannot place them in UTC",
                source=SOURCE,
            )
        return ts.dt.convert_time_zone("UTC").cast(schema.UTC_TS)
    local = ts.dt.replace_time_zone(None) if zone is not None else ts
    return local.dt.date().cast(pl.Datetime("us")).dt.replace_time_zone("UTC")


def _explain(reason: str | None, req: _Request, attempts: int) -> str:
    """A one-line, honest failure message from yfinance's logged reason (None: nothing logged)."""
    said = f"; yfinance said: {reason}" if reason else ""
    tried = f"{req.describe()}, {attempts} attempt{'s' if attempts > 1 else ''}"
    if reason is None:
        return f"{NO_DATA} ({tried})"
    if "YFRateLimitError" in reason or "Too Many Requests" in reason or "Rate limited" in reason:
        return (f"rate-limited by Yahoo (HTTP 429 Too Many Requests) ({tried}); wait and run again, or lower "
                f"data.yfinance.batch_size / threads{said}")
    if "no price data found" in reason:
        return f"no data returned (no trading in the range, a delisted ticker, or no network) ({tried}){said}"
    if "possibly delisted" in reason:
        return f"{NO_DATA} ({tried}){said}"
    if re.match(r"^\w+\(", reason):  # an exception's repr: timeout, DNS, HTTP error, ...
        return f"request failed ({tried}){said}"
    return f"Yahoo returned no data ({tried}){said}"


class _ReportedErrors(logging.Handler):
    """Collects yfinance's end-of-download failure lines ("['AAA', 'BBB']: reason") by ticker."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.reasons: dict[str, str] = {}
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage().strip()
        self.lines.append(message)
        m = _REPORTED.match(message)
        if m:
            for ticker in re.findall(r"'([^']*)'", m["tickers"]):
                self.reasons[ticker.upper()] = m["reason"].strip()


@contextmanager
def _reported_errors() -> Iterator[_ReportedErrors]:
    """Listen to the `yfinance` logger for one call (this also keeps its error lines off stderr)."""
    logger = logging.getLogger("yfinance")
    handler = _ReportedErrors()
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def _as_date(value: date) -> date:
    return value.date() if isinstance(value, datetime) else value
