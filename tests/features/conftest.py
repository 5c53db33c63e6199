"""Fixtures for the feature tests: seeded multi-symbol OHLCV frames at very different price scales."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest


def ohlcv(
    rng: np.random.Generator, n: int, scale: float, vol: float = 0.015
) -> dict[str, np.ndarray]:
    """One symbol's consistent OHLCV path (low <= open, close <= high) around `scale`."""
    close = scale * np.exp(np.cumsum(rng.normal(0.0, vol, n)))
    open_ = close * np.exp(rng.normal(0.0, vol / 3, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, vol / 2, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, vol / 2, n)))
    volume = np.round(rng.uniform(1e3, 1e5, n))
    return {"open": open_, "high": high, "low": low, "close": close, "volume": volume}


def frame(paths: dict[str, dict[str, np.ndarray]], seed: int = 0) -> pl.DataFrame:
    """Long bars (symbol, ts, OHLCV) from per-symbol paths, rows shuffled so sorting is exercised."""
    t0 = datetime(2020, 1, 1, tzinfo=UTC)
    parts = []
    for sym, cols in paths.items():
        n = len(cols["close"])
        ts = [t0 + timedelta(days=i) for i in range(n)]
        parts.append(pl.DataFrame({"symbol": sym, "ts": ts, **cols}))
    bars = pl.concat(parts).with_columns(pl.col("ts").cast(pl.Datetime("us", "UTC")))
    return bars.sample(fraction=1.0, shuffle=True, seed=seed)


@pytest.fixture(scope="session")
def three_scales() -> pl.DataFrame:
    """Three symbols, 500 bars each, prices around 100, 1e-4 and 5e4 (orders of magnitude apart)."""
    rng = np.random.default_rng(20240601)
    return frame(
        {"A": ohlcv(rng, 500, 100.0), "B": ohlcv(rng, 500, 1e-4), "C": ohlcv(rng, 500, 5e4)}
    )


@pytest.fixture(scope="session")
def short_bars() -> pl.DataFrame:
    """Two symbols of 160 bars (small enough for the many reruns of the lookahead test)."""
    rng = np.random.default_rng(7)
    return frame({"X": ohlcv(rng, 160, 40.0), "Y": ohlcv(rng, 160, 0.02)}, seed=1)
