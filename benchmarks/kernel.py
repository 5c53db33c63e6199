"""Benchmark of the simulation kernel: bar·symbol updates per second against vectorbt and a bare Numba loop.

Run: NUMBA_CACHE_DIR=.numba_cache .venv/bin/python benchmarks/kernel.py [--quick]

For each shape (bars × symbols) it prints updates/s of
  ours       simulate_nb (time-outer, shared cash) with every risk rule on: position cap, gross leverage,
             stop loss, daily loss limit, max drawdown with cool-off, costs with a minimum, whole shares;
  ours_sym   simulate_independent_nb (symbol-outer over the [N, T] long layout, capital per symbol);
  ours_batch simulate_batch_nb over 8 target sets on all cores (updates counted over all sets);
  vectorbt   Portfolio.from_orders on the same prices and targets (target percent, cash sharing, rust engine);
  bare       a bare Numba long/flat loop, time outer and symbols inner (and bare_sym: symbols outer);
with ratio_vs_vectorbt = ours / vectorbt and ratio_vs_bare = bare / ours. Then the start-up time of a fresh
process whose Numba cache is warm. Timings are the best of several runs after a warm-up call, in CPU seconds of this process (the
machine is shared; CPU time is what others' load distorts least), except the parallel batch (wall clock).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".numba_cache"))
sys.path.insert(0, str(ROOT))

from numba import njit  # noqa: E402

from trader_cols.kernels.records import FILL_DTYPE, SimParams  # noqa: E402
from trader_cols.kernels.simulate import (  # noqa: E402
    simulate_batch_nb,
    simulate_independent_nb,
    simulate_nb,
)

SHAPES = ((5_000, 1), (5_000, 500), (1_000_000, 1))
PARAMS = SimParams(
    initial_capital=10_000_000.0,
    commission_bps=1.0,
    commission_per_share=0.002,
    commission_min=0.35,
    slippage_bps=2.0,
    lot_size=1.0,
    fill_on_close=False,
    allow_short=True,
    max_position_pct=0.25,
    max_gross_leverage=1.0,
    daily_loss_cut_pct=0.05,
    max_drawdown_pct=0.3,
    stop_loss_pct=0.08,
    cooloff_bars=20,
    hold_on_nan=True,
)


@njit(cache=True, nogil=True)
def bare_loop_nb(open_, close, signal, fee):
    """Long/flat, equal capital per symbol, time outer and symbols inner: the floor of any real kernel."""
    n_bars, n = close.shape
    cash = 1e7
    alloc = cash / n
    pos = np.zeros(n)
    equity = np.empty(n_bars)
    for t in range(n_bars):
        eq = cash
        for i in range(n):
            s = signal[t - 1, i] if t > 0 else 0.0
            o = open_[t, i]
            if s > 0.0 and pos[i] == 0.0:
                pos[i] = alloc / o
                cash -= alloc * (1.0 + fee)
            elif s <= 0.0 and pos[i] != 0.0:
                cash += pos[i] * o * (1.0 - fee)
                pos[i] = 0.0
            eq += pos[i] * close[t, i]
        equity[t] = eq
    return equity


@njit(cache=True, nogil=True)
def bare_loop_sym_nb(open_, close, signal, fee):
    """The same long/flat loop symbols outer over [N, T] arrays, capital per symbol."""
    n, n_bars = close.shape
    equity = np.empty((n, n_bars))
    for i in range(n):
        cash = 1e7 / n
        pos = 0.0
        for t in range(n_bars):
            s = signal[i, t - 1] if t > 0 else 0.0
            o = open_[i, t]
            if s > 0.0 and pos == 0.0:
                pos = cash / o / (1.0 + fee)
                cash = 0.0
            elif s <= 0.0 and pos != 0.0:
                cash += pos * o * (1.0 - fee)
                pos = 0.0
            equity[i, t] = cash + pos * close[i, t]
    return equity


def make_inputs(n_bars: int, n: int, seed: int = 0) -> dict:
    """Random-walk OHLC and sparse targets (a new weight on ~5 % of bars, NaN = hold otherwise)."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0002, 0.015, (n_bars, n)), axis=0))
    open_ = np.vstack([close[:1], close[:-1]]) * np.exp(rng.normal(0.0, 0.004, (n_bars, n)))
    high = np.maximum(open_, close) * (1.0 + rng.uniform(0.0, 0.01, (n_bars, n)))
    low = np.minimum(open_, close) * (1.0 - rng.uniform(0.0, 0.01, (n_bars, n)))
    target = np.full((n_bars, n), np.nan)
    change = rng.random((n_bars, n)) < 0.05
    target[change] = rng.uniform(-0.5, 1.0, int(change.sum())) * (1.8 / n if n > 1 else 1.0)
    # The bare loop's long/flat signal: long while the last target was positive (same turnover as ours).
    last = np.where(change, target, np.nan)
    idx = np.where(change, np.arange(n_bars)[:, None], 0)
    np.maximum.accumulate(idx, axis=0, out=idx)
    signal = np.where(np.take_along_axis(np.nan_to_num(last), idx, axis=0) > 0, 1.0, 0.0)
    return {
        "open_": open_,
        "high": high,
        "low": low,
        "close": close,
        "target": target,
        "signal": signal,
        "tradable": np.ones((n_bars, n), dtype=np.bool_),
        "session_id": np.arange(n_bars, dtype=np.int64),
    }


def best_time(fn, repeats: int, clock=time.process_time) -> float:
    """Best of `repeats` after a warm-up (compile or cache load, page faults).

    The default clock is this process's CPU time, so that other work on a shared machine does not inflate the
    figures; the parallel batch is timed on the wall clock.
    """
    fn()
    best = np.inf
    for _ in range(repeats):
        t0 = clock()
        fn()
        best = min(best, clock() - t0)
    return best


def time_vectorbt(x: dict, repeats: int) -> float:
    import pandas as pd
    import vectorbt as vbt

    n_bars = x["close"].shape[0]
    index = pd.date_range("2000-01-01", periods=n_bars, freq="min")
    close = pd.DataFrame(x["close"], index=index)
    price = pd.DataFrame(x["open_"], index=index)
    size = pd.DataFrame(x["target"], index=index).shift(1)

    def run():
        return vbt.Portfolio.from_orders(
            close=close,
            size=size,
            size_type="targetpercent",
            price=price,
            fees=PARAMS.commission_bps * 1e-4,
            slippage=PARAMS.slippage_bps * 1e-4,
            init_cash=PARAMS.initial_capital,
            group_by=True,
            cash_sharing=True,
            call_seq="auto",
            direction="both",
            engine="rust",
        )

    return best_time(run, repeats)


def bench_shape(n_bars: int, n: int, repeats: int) -> dict:
    x = make_inputs(n_bars, n)
    updates = n_bars * n
    fills = np.empty(2 * updates + 16, FILL_DTYPE)
    args = (
        x["open_"],
        x["high"],
        x["low"],
        x["close"],
        x["target"],
        x["tradable"],
        x["session_id"],
        PARAMS,
    )
    out = {"ours": updates / best_time(lambda: simulate_nb(*args, fills), repeats)}
    n_fills = simulate_nb(*args, fills)[6]

    sym = {
        k: np.ascontiguousarray(x[k].T)
        for k in ("open_", "high", "low", "close", "target", "tradable")
    }
    sym_args = (sym["open_"], sym["high"], sym["low"], sym["close"], sym["target"], sym["tradable"])
    out["ours_sym"] = updates / best_time(
        lambda: simulate_independent_nb(*sym_args, x["session_id"], PARAMS, fills), repeats
    )
    if updates <= 2_500_000:
        sets = np.stack([x["target"]] * 8)
        out["ours_batch"] = (
            8
            * updates
            / best_time(
                lambda: simulate_batch_nb(
                    x["open_"],
                    x["high"],
                    x["low"],
                    x["close"],
                    sets,
                    x["tradable"],
                    x["session_id"],
                    PARAMS,
                ),
                max(1, repeats // 2),
                clock=time.perf_counter,
            )
        )
    out["vectorbt"] = updates / time_vectorbt(x, max(1, repeats // 2))
    out["bare"] = updates / best_time(
        lambda: bare_loop_nb(x["open_"], x["close"], x["signal"], 1e-4), repeats
    )
    sig_t = np.ascontiguousarray(x["signal"].T)
    out["bare_sym"] = updates / best_time(
        lambda: bare_loop_sym_nb(sym["open_"], sym["close"], sig_t, 1e-4), repeats
    )
    out["fills"] = n_fills
    return out


def fresh_process_startup() -> tuple[float, float]:
    """(seconds to import + first call inside a new process, wall seconds of that whole process)."""
    code = (
        "import time; t0 = time.perf_counter()\n"
        "import numpy as np\n"
        "from trader_cols.kernels.records import FILL_DTYPE, SimParams\n"
        "from trader_cols.kernels.simulate import simulate_nb\n"
        "a = np.full((3, 2), 100.0); t = np.full((3, 2), 0.3)\n"
        "simulate_nb(a, a, a, a, t, np.ones((3, 2), bool), np.arange(3), SimParams(), np.empty(8, FILL_DTYPE))\n"
        "print(time.perf_counter() - t0)\n"
    )
    t0 = time.perf_counter()
    res = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return float(res.stdout.strip()), time.perf_counter() - t0


def main() -> None:
    quick = "--quick" in sys.argv
    warnings.simplefilter("ignore")  # vectorbt's pandas deprecation warnings
    repeats = 2 if quick else 5
    from numba import get_num_threads

    print(
        f"# bar-symbol updates per second (M/s), best of {repeats}, CPU time; batch: wall clock on "
        f"{get_num_threads()} threads"
    )
    for n_bars, n in SHAPES:
        r = bench_shape(n_bars, n, repeats)
        cols = " ".join(f"{k}={r[k] / 1e6:.1f}M/s" for k in r if k != "fills")
        print(
            f"shape={n_bars}x{n} fills={r['fills']} {cols} "
            f"ratio_vs_vectorbt={r['ours'] / r['vectorbt']:.1f} ratio_vs_bare={r['bare'] / r['ours']:.2f} "
            f"sym_vs_time={r['ours_sym'] / r['ours']:.2f}"
        )
    inner, wall = fresh_process_startup()
    print(
        f"fresh_process_ready={inner:.2f}s (import + first call, warm cache) process_wall={wall:.2f}s"
    )


if __name__ == "__main__":
    main()
