"""Benchmark: every DataSanity check over 500 symbols x 5,000 daily bars (target < 1 s on 2 cores).

Run: python benchmarks/sanity.py [--symbols 500] [--bars 5000] [--repeat 5]
Prints the best and median wall time of `validate` (strict profile, enforce mode), clean and with ~0.1% of
bars corrupted, and the share spent per stage on one run.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime

import numpy as np
import polars as pl

from trader_cols.config import DataSanityConfig
from trader_cols.sanity import validate


def make_bars(n_symbols: int, n_bars: int, seed: int = 0) -> pl.DataFrame:
    """Seeded random-walk OHLCV on a business-day calendar (crypto: every day), long and sorted."""
    rng = np.random.default_rng(seed)
    biz = pl.date_range(datetime(2000, 1, 3), datetime(2060, 1, 1), "1d", eager=True)
    biz = biz.filter(biz.dt.weekday() <= 5).head(n_bars)
    days = pl.date_range(datetime(2000, 1, 3), datetime(2060, 1, 1), "1d", eager=True).head(n_bars)
    frames = []
    lr = rng.normal(0.0002, 0.015, size=(n_symbols, n_bars))
    close = 50.0 * np.exp(np.cumsum(lr, axis=1))
    spread = np.abs(rng.normal(0, 0.006, size=(n_symbols, n_bars)))
    opn = close * np.exp(rng.normal(0, 0.004, size=(n_symbols, n_bars)))
    high = np.maximum(opn, close) * (1 + spread)
    low = np.minimum(opn, close) * (1 - spread)
    vol = rng.integers(1_000, 1_000_000, size=(n_symbols, n_bars)).astype(float)
    symbols = [f"S{i:04d}" if i % 10 else f"C{i:04d}-USD" for i in range(n_symbols)]
    for i, sym in enumerate(symbols):
        cal = days if sym.endswith("-USD") else biz
        frames.append(
            pl.DataFrame(
                {
                    "symbol": sym,
                    "ts": cal.cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
                    "open": opn[i],
                    "high": high[i],
                    "low": low[i],
                    "close": close[i],
                    "adj_close": close[i],
                    "volume": vol[i],
                }
            )
        )
    return pl.concat(frames).sort("symbol", "ts")


def corrupt(bars: pl.DataFrame, frac: float, seed: int = 1) -> pl.DataFrame:
    """Scale ~frac of closes by 100 (unit errors) and null ~frac of opens."""
    rng = np.random.default_rng(seed)
    hit = rng.random(bars.height) < frac
    nan = rng.random(bars.height) < frac
    return bars.with_columns(
        pl.when(pl.Series(hit))
        .then(pl.col("close") * 100)
        .otherwise(pl.col("close"))
        .alias("close"),
        pl.when(pl.Series(nan)).then(None).otherwise(pl.col("open")).alias("open"),
    )


def timed(bars: pl.DataFrame, cfg: DataSanityConfig, repeat: int) -> list[float]:
    as_of = datetime(2100, 1, 1, tzinfo=UTC)
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        rep = validate(bars, cfg, as_of=as_of, mode="enforce", profile="strict")
        out.append(time.perf_counter() - t0)
    print(
        f"    findings={rep.findings.height} rejected={rep.rejected.height} landed={rep.bars.height}"
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--symbols", type=int, default=500)
    ap.add_argument("--bars", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    bars = make_bars(args.symbols, args.bars)
    cfg = DataSanityConfig()
    print(
        f"DataSanity over {args.symbols} symbols x {args.bars} bars = {bars.height:,} rows, "
        f"polars {pl.__version__}, {pl.thread_pool_size()} threads"
    )
    validate(bars.head(1000), cfg, as_of=datetime(2100, 1, 1, tzinfo=UTC))  # warm-up
    for label, frame in (
        ("clean, sorted", bars),
        ("0.1% corrupted", corrupt(bars, 0.001)),
        ("clean, shuffled", bars.sample(fraction=1.0, shuffle=True, seed=3)),
    ):
        print(f"  {label}:")
        t = timed(frame, cfg, args.repeat)
        print(f"    best {min(t):.3f} s, median {statistics.median(t):.3f} s over {len(t)} runs")


if __name__ == "__main__":
    main()
