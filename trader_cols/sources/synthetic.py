"""Seeded regime-switching bars for offline work and tests, with the true regime path kept.

Every (seed, symbol) owns independent random streams that start at a fixed epoch (1990-01-01), so any date range
is a slice of one fixed history: re-ingesting an overlapping range gives identical bars, and symbols never depend
on which other symbols were asked for. Equities and ETFs trade Monday to Friday (no holiday calendar), crypto every
day. Daily bars are stamped with their session date at 00:00 UTC; intraday bars by their open time in UTC
(equity sessions 09:30–16:00 America/New_York, DST-correct; crypto around the clock).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import polars as pl

from trader_cols import schema
from trader_cols.calendars import classify_symbol
from trader_cols.errors import DataSourceError
from trader_cols.sources.base import Fetched

EPOCH = date(1990, 1, 1)
PRICE_FLOOR, PRICE_CEILING = 5.0, 5000.0  # log prices reflect at these bounds so decades of random walk stay sane
MEAN_DWELL_BARS = 60  # mean regime length, in daily bars
_INTRADAY_MINUTES = {"1m": 1, "2m": 2, "5m": 5, "15m": 15, "30m": 30, "60m": 60, "90m": 90, "1h": 60}
# Per-regime daily (drift scale, volatility); index = position in schema.REGIMES (trend, chop, volatile).
_VOL = np.array([0.010, 0.007, 0.028])
_TREND_DRIFT = 0.0016
_CHOP_PHI = 0.92  # MA(1) coefficient: returns r_t = s * (e_t - phi * e_{t-1}) wander around a level


@dataclass(frozen=True)
class SyntheticBars:
    """Generated bars (`schema.SOURCE_BARS`) and the true regime of each bar (`schema.TRUE_REGIMES`)."""

    bars: pl.DataFrame
    regimes: pl.DataFrame


def _streams(seed: int, symbol: str, n_streams: int) -> list[np.random.Generator]:
    key = zlib.crc32(symbol.encode())
    return [np.random.default_rng([seed, key, k]) for k in range(n_streams)]


def _calendar(end: date, crypto: bool) -> np.ndarray:
    days = np.arange(np.datetime64(EPOCH, "D"), np.datetime64(end, "D") + 1)
    if crypto:
        return days
    weekday = (days.astype("int64") + 3) % 7  # 1970-01-01 was a Thursday → Monday = 0
    return days[weekday < 5]


def _reflect(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Fold x into [lo, hi] by reflection at the bounds (a pointwise map, so prefix-stable)."""
    w = hi - lo
    return lo + w - np.abs(np.mod(x - lo, 2 * w) - w)


def _daily_path(seed: int, symbol: str, n: int, crypto: bool) -> dict[str, np.ndarray]:
    """Prefix-stable daily path of n bars from the epoch: the first k bars never depend on n."""
    g_switch, g_next, g_sign, g_eps, g_gap, g_wick, g_vol, g_p0 = _streams(seed, symbol, 8)
    switch = g_switch.random(n) < 1.0 / MEAN_DWELL_BARS
    switch[0] = False
    step = 1 + g_next.integers(0, 2, n)  # move to one of the two other regimes
    regime = (int(g_p0.integers(0, 3)) + np.cumsum(np.where(switch, step, 0))) % 3
    segment = np.cumsum(switch)
    sign = np.where(g_sign.random(n) < 0.5, -1.0, 1.0)[segment]  # one trend direction per segment
    scale = 1.6 if crypto else 1.0
    eps = g_eps.standard_normal(n)
    eps_prev = np.concatenate([[0.0], eps[:-1]])
    vol = _VOL[regime] * scale
    ret = np.where(
        regime == 0,
        sign * _TREND_DRIFT * scale + vol * eps,
        np.where(regime == 1, vol * (eps - _CHOP_PHI * eps_prev), vol * eps),
    )
    p0 = float(np.exp(g_p0.uniform(np.log(15.0), np.log(600.0))))
    close = np.exp(_reflect(np.log(p0) + np.cumsum(ret), np.log(PRICE_FLOOR), np.log(PRICE_CEILING)))
    prev_close = np.concatenate([[p0], close[:-1]])
    open_ = prev_close * np.exp(0.25 * vol * g_gap.standard_normal(n))
    wick = np.abs(g_wick.standard_normal((n, 2))) * 0.6 * vol[:, None]
    high = np.maximum(open_, close) * np.exp(wick[:, 0])
    low = np.minimum(open_, close) * np.exp(-wick[:, 1])
    volume = np.round(1e6 * np.exp(0.35 * g_vol.standard_normal(n)) * (1.0 + 2.0 * np.abs(ret) / vol))
    return {"open": open_, "high": high, "low": low, "close": close, "volume": volume, "regime": regime}


def _intraday(daily: dict[str, np.ndarray], days: np.ndarray, minutes: int, crypto: bool, g: np.random.Generator):
    """Split each daily bar into intraday bars by a seeded Brownian bridge from its open to its close."""
    session_min = 1440 if crypto else 390
    k = -(-session_min // minutes)
    n = len(days)
    z = g.standard_normal((n, k))
    walk = np.cumsum(z, axis=1)
    t = np.arange(1, k + 1) / k
    bridge = walk - t[None, :] * walk[:, -1:]
    lo, lc = np.log(daily["open"]), np.log(daily["close"])
    sig = (np.log(daily["high"]) - np.log(daily["low"])) / (2.0 * np.sqrt(k)) + 1e-12
    log_close = lc[:, None] * t[None, :] + lo[:, None] * (1 - t[None, :]) + sig[:, None] * bridge
    log_close[:, -1] = lc
    log_open = np.concatenate([lo[:, None], log_close[:, :-1]], axis=1)
    wick = np.abs(g.standard_normal((n, k, 2))) * 0.3 * sig[:, None, None]
    close, open_ = np.exp(log_close), np.exp(log_open)
    high = np.maximum(open_, close) * np.exp(wick[..., 0])
    low = np.minimum(open_, close) * np.exp(-wick[..., 1])
    volume = np.round(daily["volume"][:, None] / k * np.exp(0.3 * g.standard_normal((n, k))))
    start_local = np.timedelta64(0, "m") if crypto else np.timedelta64(9 * 60 + 30, "m")
    local = days.astype("datetime64[m]")[:, None] + start_local + np.arange(k) * np.timedelta64(minutes, "m")
    return {
        "local": local.ravel(),
        "open": open_.ravel(), "high": high.ravel(), "low": low.ravel(), "close": close.ravel(),
        "volume": volume.ravel(), "regime": np.repeat(daily["regime"], k),
    }


def generate(
    symbols: Sequence[str],
    start: date,
    end: date,
    *,
    seed: int = 42,
    interval: str = "1d",
    asset_classes: Mapping[str, str] | None = None,
) -> SyntheticBars:
    """Bars and true regimes for `symbols` from `start` to `end` (inclusive), deterministic in (seed, symbol)."""
    start, end = _as_date(start), _as_date(end)
    if start < EPOCH:
        raise DataSourceError(f"synthetic history starts {EPOCH}; asked for {start}", source="synthetic")
    if end < start:
        raise DataSourceError(f"end {end} is before start {start}", source="synthetic")
    if interval != "1d" and interval not in _INTRADAY_MINUTES:
        raise DataSourceError(
            f"interval {interval!r} is not generated; use 1d or one of {', '.join(_INTRADAY_MINUTES)}",
            source="synthetic",
        )
    symbols = sorted(dict.fromkeys(symbols))
    cols: dict[str, list[np.ndarray]] = {c: [] for c in ("ts", "open", "high", "low", "close", "volume", "regime")}
    counts = []
    for symbol in symbols:
        crypto = classify_symbol(symbol, asset_classes) == "crypto"
        days = _calendar(end, crypto)
        path = _daily_path(seed, symbol, len(days), crypto)
        keep_days = days >= np.datetime64(start, "D")
        if interval == "1d":
            part = {c: v[keep_days] for c, v in path.items()}
            part["ts"] = days[keep_days].astype("datetime64[us]")
        else:
            part = _intraday_window(path, days, keep_days, _INTRADAY_MINUTES[interval], crypto, seed, symbol)
            zone = "UTC" if crypto else "America/New_York"
            part["ts"] = (
                pl.Series(part.pop("local").astype("datetime64[us]"))
                .dt.replace_time_zone(zone).dt.convert_time_zone("UTC").dt.replace_time_zone(None).to_numpy()
            )
        for c in cols:
            cols[c].append(part[c])
        counts.append(len(part["ts"]))
    if not symbols:
        return SyntheticBars(bars=schema.empty(schema.SOURCE_BARS), regimes=schema.empty(schema.TRUE_REGIMES))
    # Symbols are sorted and each one's bars are in time order: the frames come out sorted by (symbol, ts).
    symbol_col = pl.Series("symbol", symbols, dtype=pl.String).gather(np.repeat(np.arange(len(symbols)), counts))
    ts_col = pl.Series("ts", np.concatenate(cols["ts"])).dt.replace_time_zone("UTC")
    bars = pl.DataFrame(
        [symbol_col, ts_col, *(pl.Series(c, np.concatenate(cols[c])) for c in ("open", "high", "low", "close"))]
    ).with_columns(pl.lit(None, pl.Float64).alias("adj_close"), pl.Series("volume", np.concatenate(cols["volume"])))
    regime_col = pl.Series("regime", schema.REGIMES, dtype=pl.String).gather(np.concatenate(cols["regime"]))
    regimes = pl.DataFrame([symbol_col, ts_col, regime_col])
    return SyntheticBars(bars=schema.conform(bars, schema.SOURCE_BARS), regimes=regimes)


def _intraday_window(path, days, keep_days, minutes, crypto, seed, symbol):
    """Intraday bars of the kept days. Each calendar year draws from its own stream over all of its days, so the
    path of a day never depends on the requested range."""
    year_of = days.astype("datetime64[Y]").astype(np.int64) + 1970
    parts = []
    for year in np.unique(year_of[keep_days]):
        in_year = year_of == year
        (g,) = _streams(seed, f"{symbol}|intraday|{year}", 1)
        block = _intraday({c: v[in_year] for c, v in path.items()}, days[in_year], minutes, crypto, g)
        per_day = len(block["local"]) // int(in_year.sum())
        keep = np.repeat(keep_days[in_year], per_day)
        parts.append({c: v[keep] for c, v in block.items()})
    return {c: np.concatenate([p[c] for p in parts]) for c in parts[0]}


def fetch_synthetic(
    symbols: Sequence[str], start: date, end: date, *, interval: str = "1d", seed: int = 42,
    asset_classes: Mapping[str, str] | None = None,
) -> Fetched:
    """The synthetic source as ingest sees it."""
    return Fetched.of([generate(symbols, start, end, seed=seed, interval=interval, asset_classes=asset_classes).bars])


def _as_date(value) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))

