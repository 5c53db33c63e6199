"""Benchmark: all 28 indicators over 500 symbols x 5,000 daily bars vs TA-Lib looping over symbols.

Run: python benchmarks/features.py [--symbols 500] [--bars 5000] [--repeat 7] [--threads N] [--warmup-table]

Times `compute_features(...).collect(engine="in-memory")`, in steady state (two warm-up calls, then
`--repeat` timed calls per contender, one contender at a time), for the default spec set (all 28 indicators,
returns at 1/5/20 bars: 31 specs, 45 columns) and, for the indicators TA-Lib has directly, both our
plan restricted to them and TA-Lib called symbol by symbol in the same run. TA-Lib gets each symbol's
arrays pre-split and returns bare NumPy arrays; our figure includes the sort, the segmenting and
building the Polars frame (a context line also times TA-Lib plus assembling its outputs into one long
frame). Prints best and median wall time, rows/s and the ratio (headline: bare TA-Lib).
With --warmup-table it also prints the warm-up sensitivity of every column on seeded synthetic data.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import polars as pl
import talib

from trader_cols.features import DEFAULT_SPECS, compute_features

# Our indicators that TA-Lib has as a function of its own, and the calls that compute them.
TALIB_NAMES = (
    "ret", "roc", "mom", "sma", "ema", "kama", "macd", "adx", "aroon", "linreg_slope", "er", "rsi",
    "stoch", "willr", "cci", "mfi", "atr", "natr", "bbands", "keltner", "donchian", "obv",
)  # fmt: skip


def talib_calls(o, h, lo, c, v) -> list[np.ndarray]:
    """The TA-Lib equivalent of the shared subset of DEFAULT_SPECS for one symbol: its output arrays."""
    return [
        *(talib.ROCP(c, w) for w in (1, 5, 20)),
        talib.ROC(c, 10),
        talib.MOM(c, 10),
        talib.SMA(c, 20),
        talib.EMA(c, 20),
        talib.KAMA(c, 10),
        *talib.MACD(c, 12, 26, 9),
        talib.ADX(h, lo, c, 14),
        talib.PLUS_DI(h, lo, c, 14),
        talib.MINUS_DI(h, lo, c, 14),
        *talib.AROON(h, lo, 14),
        talib.AROONOSC(h, lo, 14),
        talib.LINEARREG_SLOPE(c, 14),
        talib.ER(c, 10),
        talib.RSI(c, 14),
        *talib.STOCH(h, lo, c, 14, 3, 0, 3, 0),
        talib.WILLR(h, lo, c, 14),
        talib.CCI(h, lo, c, 20),
        talib.MFI(h, lo, c, v, 14),
        talib.ATR(h, lo, c, 14),
        talib.NATR(h, lo, c, 14),
        *talib.BBANDS(c, 20, 2.0, 2.0, 0),
        *talib.KC(h, lo, c, 20, 10, 2.0),
        *talib.DONCHIAN(h, lo, 20),
        talib.OBV(c, v),
    ]


def make_bars(n_symbols: int, n_bars: int, seed: int = 0) -> pl.DataFrame:
    """Seeded random-walk OHLCV, long, sorted by (symbol, ts)."""
    rng = np.random.default_rng(seed)
    shape = (n_symbols, n_bars)
    close = 50.0 * np.exp(np.cumsum(rng.normal(0.0002, 0.015, shape), axis=1))
    open_ = close * np.exp(rng.normal(0, 0.004, shape))
    spread = np.abs(rng.normal(0, 0.006, shape))
    high = np.maximum(open_, close) * (1 + spread)
    low = np.minimum(open_, close) * (1 - spread)
    volume = rng.integers(1_000, 1_000_000, shape).astype(float)
    days = (np.datetime64("2000-01-03", "D") + np.arange(n_bars)).astype("datetime64[us]")
    return pl.DataFrame(
        {
            "symbol": np.repeat([f"S{i:04d}" for i in range(n_symbols)], n_bars),
            "ts": np.tile(days, n_symbols),
            "open": open_.ravel(),
            "high": high.ravel(),
            "low": low.ravel(),
            "close": close.ravel(),
            "volume": volume.ravel(),
        }
    ).with_columns(pl.col("ts").dt.replace_time_zone("UTC"))


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def report(label: str, times: list[float], rows: int) -> None:
    best, med = min(times), statistics.median(times)
    print(
        f"{label:<44} best {best * 1000:8.1f} ms  median {med * 1000:8.1f} ms  {rows / best / 1e6:7.2f} M rows/s"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--symbols", type=int, default=500)
    ap.add_argument("--bars", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument(
        "--threads", type=int, default=None, help="Kernel threads (default: Polars' pool size)."
    )
    ap.add_argument("--warmup-table", action="store_true")
    args = ap.parse_args()

    bars = make_bars(args.symbols, args.bars)
    rows = bars.height
    shared = [s for s in DEFAULT_SPECS if s.name in TALIB_NAMES]
    n_cols = sum(len(s.columns) for s in DEFAULT_SPECS)
    threads = args.threads or pl.thread_pool_size()
    print(f"{args.symbols} symbols x {args.bars} bars = {rows:,} rows; kernel threads {threads}")

    def ours(specs):
        return lambda: compute_features(bars.lazy(), specs, threads=args.threads).collect(
            engine="in-memory"
        )

    per_symbol = [
        tuple(
            np.ascontiguousarray(part[c].to_numpy())
            for c in ("open", "high", "low", "close", "volume")
        )
        for part in bars.partition_by("symbol", maintain_order=True)
    ]

    def run_talib():
        for arrays in per_symbol:
            talib_calls(*arrays)

    def run_talib_frame():
        outs = [talib_calls(*arrays) for arrays in per_symbol]
        cols = {f"c{j}": np.concatenate([o[j] for o in outs]) for j in range(len(outs[0]))}
        return pl.DataFrame(cols, nan_to_null=True)

    runs = {
        "all": ours(DEFAULT_SPECS),
        "shared": ours(shared),
        "talib": run_talib,
        "talib_frame": run_talib_frame,
    }
    times: dict[str, list[float]] = {}
    for key, fn in runs.items():  # each in its own block after two warm-up calls (steady state)
        fn()
        fn()
        times[key] = timed(fn, args.repeat)
    all_times, shared_times = times["all"], times["shared"]
    talib_times, talib_frame_times = times["talib"], times["talib_frame"]

    report(f"trader_cols, all 28 ({len(DEFAULT_SPECS)} specs, {n_cols} cols)", all_times, rows)
    report(f"trader_cols, shared subset ({len(shared)} specs)", shared_times, rows)
    report("TA-Lib loop over symbols, shared subset", talib_times, rows)
    report("  (context) same + one long Polars frame", talib_frame_times, rows)
    ratio_best = min(talib_times) / min(shared_times)
    ratio_med = statistics.median(talib_times) / statistics.median(shared_times)
    print(
        f"shared subset: TA-Lib time / trader_cols time = {ratio_best:.2f} (best), {ratio_med:.2f} (median)"
    )
    print(
        f"all 28 under 1 s: best {min(all_times) < 1.0}, median {statistics.median(all_times) < 1.0}"
    )

    if args.warmup_table:
        from trader_cols.features.warmup import warmup_sensitivity
        from trader_cols.sources.synthetic import generate

        syn = generate(["AAA", "BBB", "BTC-USD"], "2010-01-01", "2019-12-31", seed=7).bars
        table = warmup_sensitivity(syn, DEFAULT_SPECS).filter(pl.col("recursive"))
        with pl.Config(tbl_rows=100, tbl_hide_dataframe_shape=True):
            print(table)


if __name__ == "__main__":
    main()
