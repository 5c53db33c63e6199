"""Small, valid bar frames and a test profile for DataSanity tests (seeded, business-day or daily calendars)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl

from trader_cols.config import DataSanityConfig, SanityProfile
from trader_cols.sanity import validate
from trader_cols.schema import UTC_TS

SHIPPED = DataSanityConfig().profiles
STRICT = SHIPPED["strict"]
# The strict profile with thresholds small enough for frames of a few dozen bars.
TINY = dataclasses.replace(
    STRICT,
    min_history_bars=5,
    sigma_window_bars=10,
    stale_run_bars=3,
    zero_volume_run_bars=3,
    max_gap_bars=3,
    max_abs_return=0.2,
)
RELAXED_TINY = dataclasses.replace(
    SanityProfile(),
    min_history_bars=5,
    sigma_window_bars=10,
    stale_run_bars=3,
    zero_volume_run_bars=3,
)
CFG = DataSanityConfig(
    profile="tiny",
    mode="enforce",
    profiles={"tiny": TINY, "relaxed_tiny": RELAXED_TINY, **SHIPPED},
)


def sessions(n: int, start: date = date(2024, 1, 2), crypto: bool = False) -> list[datetime]:
    """n session labels (00:00 UTC): business days for equities, every day for crypto."""
    out, d = [], start
    while len(out) < n:
        if crypto or d.weekday() < 5:
            out.append(datetime(d.year, d.month, d.day, tzinfo=UTC))
        d += timedelta(days=1)
    return out


def clean(
    n: int = 40, symbol: str = "AAA", *, seed: int = 0, price: float = 100.0, start=date(2024, 1, 2)
) -> pl.DataFrame:
    """A valid OHLCV series: 1% daily moves, low < open/close < high, positive volume."""
    rng = np.random.default_rng(seed)
    crypto = symbol.endswith("-USD")
    close = price * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    opn = close * np.exp(rng.normal(0, 0.003, n))
    high = np.maximum(opn, close) * (1 + rng.uniform(0.001, 0.01, n))
    low = np.minimum(opn, close) * (1 - rng.uniform(0.001, 0.01, n))
    return pl.DataFrame(
        {
            "symbol": [symbol] * n,
            "ts": pl.Series(sessions(n, start, crypto), dtype=UTC_TS),
            "open": opn,
            "high": high,
            "low": low,
            "close": close,
            "adj_close": close,
            "volume": rng.integers(1_000, 100_000, n).astype(float),
        }
    )


def as_of_after(df: pl.DataFrame) -> datetime:
    """An as-of time one day after the last bar ended (no bar is incomplete or stale)."""
    return df["ts"].max() + timedelta(days=2)


def run(df: pl.DataFrame, *, as_of: datetime | None = None, profile: str = "tiny", **kw):
    """validate() with the test config (enforce mode unless given)."""
    if isinstance(df, pl.LazyFrame):
        return validate(df, CFG, as_of=as_of or as_of_after(df.collect()), profile=profile, **kw)
    aware = "ts" in df.columns and getattr(df.schema["ts"], "time_zone", None) is not None
    when = as_of or (as_of_after(df) if df.height and aware else datetime(2030, 1, 1, tzinfo=UTC))
    return validate(df, CFG, as_of=when, profile=profile, **kw)


def at(df: pl.DataFrame, i: int, **values) -> pl.DataFrame:
    """`df` with the given columns of row i replaced."""
    idx = pl.int_range(pl.len())
    return df.with_columns(
        [pl.when(idx == i).then(pl.lit(v)).otherwise(pl.col(k)).alias(k) for k, v in values.items()]
    )


def codes(report) -> set[str]:
    """The codes of a report's findings."""
    return set(report.findings["code"].to_list())
