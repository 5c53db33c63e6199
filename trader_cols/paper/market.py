"""What the paper loop knows of the market at each step: the clock, and the bars a cycle decides on and trades at.

`ReplayMarket` walks stored history bar by bar: the step of bar t decides on the bars up to t's close and trades
at bar t+1's open, the moment the backtest's orders of t execute, so its reference prices are t+1's opens.
`LiveMarket` brings the bars up to date (ingest from the configured source, unless told not to), keeps the bars
that are complete at the clock's time, and trades at the latest close (the next open is not known yet).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

import polars as pl

from trader_cols.brokers.simulated import Bar
from trader_cols.calendars import asset_classes
from trader_cols.config import Config
from trader_cols.errors import DataSourceError
from trader_cols.logs import get_logger
from trader_cols.pipeline.ingest import IngestRequest, ingest
from trader_cols.sanity.checks import bar_end
from trader_cols.warehouse import Warehouse

log = get_logger(__name__)
STEP = {"1d": timedelta(days=1), "1h": timedelta(hours=1), "15m": timedelta(minutes=15),
        "1m": timedelta(minutes=1), "2m": timedelta(minutes=2), "5m": timedelta(minutes=5),
        "30m": timedelta(minutes=30), "60m": timedelta(hours=1), "90m": timedelta(minutes=90),
        "1wk": timedelta(weeks=1), "1mo": timedelta(days=30)}


class Clock(Protocol):
    """Where the loop gets its time and how it waits."""

    def now(self) -> datetime:
        """The current time (timezone-aware, UTC)."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait."""
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        """datetime.now(UTC)."""
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        """time.sleep."""
        time.sleep(max(0.0, seconds))


@dataclass
class ManualClock:
    """A clock that moves only when told to (replay, tests): `sleep` advances it."""

    at: datetime

    def now(self) -> datetime:
        """The set time."""
        return self.at

    def sleep(self, seconds: float) -> None:
        """Advance the time."""
        self.at = self.at + timedelta(seconds=max(0.0, seconds))


def session_of(ts: datetime) -> int:
    """The session of a bar: its UTC calendar date (the kernel's sessions with session_tz UTC)."""
    return ts.astimezone(UTC).date().toordinal()


@dataclass(frozen=True)
class Step:
    """One decision bar. `bars` holds every stored bar from the history start up to `ts`; `at_ts` the bars of
    `ts` itself (what a bar-driven simulated broker is fed); `closes` the last priced close of each symbol.
    `exec_ts`/`exec_session` and `ref` describe the execution that follows: None/empty when nothing executes
    (the last bar of a replay)."""

    bar_no: int
    ts: datetime
    session: int
    bars: pl.DataFrame
    at_ts: dict[str, Bar]
    closes: dict[str, float]
    clock: datetime
    exec_ts: datetime | None = None
    exec_session: int | None = None
    ref: dict[str, float] = field(default_factory=dict)
    executes: bool = True


def _priced(b: Bar) -> bool:
    return all(math.isfinite(v) and v > 0.0 for v in b)


def bars_at(frame: pl.DataFrame) -> dict[str, Bar]:
    """symbol → Bar of the rows of one timestamp."""
    return {r[0]: Bar(float(r[1]), float(r[2]), float(r[3]), float(r[4]))
            for r in frame.select("symbol", "open", "high", "low", "close").fill_null(math.nan).iter_rows()}


def last_closes(frame: pl.DataFrame) -> dict[str, float]:
    """The latest priced close of every symbol in `frame` (the kernel's mark of a symbol without a bar)."""
    priced = frame.filter(
        (pl.col("open") > 0) & (pl.col("high") > 0) & (pl.col("low") > 0) & (pl.col("close") > 0)
        & pl.all_horizontal([pl.col(c).is_finite() for c in ("open", "high", "low", "close")])
    )
    last = priced.group_by("symbol").agg(pl.col("close").sort_by("ts").last())
    return dict(zip(last["symbol"].to_list(), last["close"].to_list(), strict=True))


class ReplayMarket:
    """Stored history from `history_start` to the end of `end`, stepped through the bars of [start, end]."""

    def __init__(self, wh: Warehouse, symbols: Sequence[str], interval: str, history_start: datetime,
                 start: date, end: date):
        last = datetime.combine(end, datetime.min.time(), UTC) + timedelta(days=1) - timedelta(microseconds=1)
        self.frame = wh.read_bars(list(symbols), interval, history_start, last)
        missing = sorted(set(symbols) - set(self.frame["symbol"].unique().to_list()))
        if missing:
            raise DataSourceError(f"no stored {interval} bars for {', '.join(missing)} between {history_start.date()} "
                                  f"and {end} (run `tcols ingest` first)")
        first = datetime.combine(start, datetime.min.time(), UTC)
        self.index: list[datetime] = self.frame.filter(pl.col("ts") >= first)["ts"].unique().sort().to_list()
        if len(self.index) < 2:
            raise DataSourceError(f"the replay window {start} .. {end} holds {len(self.index)} bar(s): need two")
        self._by_ts = {k[0]: g for k, g in self.frame.partition_by("ts", as_dict=True, maintain_order=True).items()}

    def __len__(self) -> int:
        return len(self.index)

    def step(self, k: int) -> Step:
        """The step of the replay's k-th bar (from 0)."""
        ts = self.index[k]
        upto = self.frame.filter(pl.col("ts") <= ts)
        executes = k + 1 < len(self.index)
        nxt = self.index[k + 1] if executes else None
        ref = {s: b.open for s, b in bars_at(self._by_ts[nxt]).items() if _priced(b)} if nxt is not None else {}
        return Step(
            bar_no=k, ts=ts, session=session_of(ts), bars=upto, at_ts=bars_at(self._by_ts[ts]),
            closes=last_closes(upto), clock=nxt if nxt is not None else ts, exec_ts=nxt,
            exec_session=session_of(nxt) if nxt is not None else None, ref=ref, executes=executes,
        )


class LiveMarket:
    """Bars brought up to date at each call; only bars complete at the clock's time count."""

    def __init__(self, wh: Warehouse, cfg: Config, symbols: Sequence[str], interval: str, history_start: datetime,
                 *, refresh: bool = True):
        self.wh, self.cfg, self.symbols, self.interval = wh, cfg, tuple(symbols), interval
        self.history_start = history_start
        self.refresh = refresh

    def update(self, now: datetime) -> list[str]:
        """Ingest the symbols' bars from the configured source up to `now`; returns the symbols that failed."""
        if not self.refresh:
            return []
        stored = self.wh.read_bars(list(self.symbols), self.interval, now - timedelta(days=30), now)
        last = stored["ts"].max() if stored.height else None
        start = (last - timedelta(days=7)).date() if last is not None else self.history_start.date()
        d = self.cfg.data
        res = ingest(
            self.wh,
            IngestRequest(symbols=self.symbols, start=start, end=now.date(), interval=self.interval, source=d.source,
                          path=d.path, auto_adjust=d.auto_adjust, seed=self.cfg.engine.seed),
            sanity_cfg=self.cfg.data_sanity, data_cfg=d, asset_classes=self.cfg.asset_classes, now=now,
        )
        for sym, err in sorted(res.failures.items()):
            log.warning("ingest of %s failed: %s", sym, err)
        return sorted(res.failures)

    def steps(self, now: datetime, after: datetime | None, next_bar_no: int) -> list[Step]:
        """A step for every complete bar after `after` (all but the last only advance the book)."""
        bars = self.wh.read_bars(list(self.symbols), self.interval, self.history_start, now)
        if not bars.height:
            return []
        classes = asset_classes(bars, self.cfg.asset_classes)
        crypto = [s for s, c in classes.items() if c == "crypto"]
        # a timestamp is decided once every bar stamped with it is complete (an equity's daily bar ends at the New
        # York close, a crypto bar of the same date at midnight UTC): bars of one time are decided together
        done = bar_end(pl.col("ts"), pl.col("symbol").is_in(crypto), self.interval) <= now
        complete = bars.group_by("ts").agg(done.all().alias("ok")).filter(pl.col("ok"))
        if not complete.height:
            return []
        bars = bars.filter(pl.col("ts") <= complete["ts"].max())
        new = bars.filter(pl.col("ts") > after)["ts"].unique().sort().to_list() if after else (
            [bars["ts"].max()] if bars.height else [])
        out = []
        for i, ts in enumerate(new):
            upto = bars.filter(pl.col("ts") <= ts)
            at = bars_at(upto.filter(pl.col("ts") == ts))
            closes = last_closes(upto)
            final = i == len(new) - 1
            nxt = ts + STEP.get(self.interval, timedelta(days=1))
            out.append(Step(
                bar_no=next_bar_no + i, ts=ts, session=session_of(ts), bars=upto, at_ts=at, closes=closes,
                clock=now, exec_ts=None, exec_session=session_of(nxt),
                # a symbol trades at the next execution if it has a bar at the decision bar (its market is open)
                ref={s: closes[s] for s, b in at.items() if _priced(b)} if final else {}, executes=final,
            ))
        return out
