"""Broker benchmark: simulated-broker replay throughput and IBKR round trips against the loopback fake gateway.

Run: `.venv/bin/python benchmarks/brokers.py [--symbols 20] [--bars 2520] [--orders 50]`. Prints figures only.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(Path(__file__).resolve().parent), str(ROOT)]


def sim_replay(n_symbols: int, n_bars: int) -> dict:
    import numpy as np
    from _util import timer

    from trader_cols.brokers.base import Order
    from trader_cols.brokers.simulated import Bar, SimulatedBroker
    from trader_cols.kernels.records import SimParams

    rng = np.random.default_rng(7)
    closes = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.01, (n_bars, n_symbols)), axis=0))
    symbols = [f"S{i:03d}" for i in range(n_symbols)]
    t0 = datetime(2000, 1, 3, tzinfo=UTC)
    b = SimulatedBroker(SimParams(initial_capital=1e9, commission_bps=1.0, slippage_bps=2.0))
    b.on_bar(t0, {s: Bar(*(closes[0, i],) * 4) for i, s in enumerate(symbols)})  # compile/warm the kernels
    with timer() as t:
        for k in range(1, n_bars):
            for i, s in enumerate(symbols):
                b.place(Order(f"o{k}-{s}", s, "buy" if (k + i) % 2 else "sell", 1.0))
            c = closes[k]
            b.on_bar(t0 + timedelta(days=k), {s: Bar(c[i], c[i] * 1.01, c[i] * 0.99, c[i]) for i, s in enumerate(symbols)})
    with timer() as ts:
        blob = json.dumps(b.state())
        SimulatedBroker.from_state(json.loads(blob))
    orders = (n_bars - 1) * n_symbols
    return {
        "sim_bars": n_bars - 1,
        "sim_symbols": n_symbols,
        "sim_replay_s": round(t(), 3),
        "sim_orders_per_s": round(orders / t()),
        "sim_state_mb": round(len(blob) / 1e6, 2),
        "sim_state_round_trip_s": round(ts(), 3),
    }


def ibkr_round_trips(n_orders: int) -> dict:
    for name in ("ib_async", "trader_cols"):  # the reconnect phase logs on purpose; keep the figures readable
        logging.getLogger(name).setLevel(logging.CRITICAL)
    from tests.brokers.fake_gateway import FakeGateway
    from trader_cols.brokers.base import Order
    from trader_cols.brokers.ibkr import IbkrBroker
    from trader_cols.config import IBKRConfig

    gw = FakeGateway(prices={"SPY": 450.0}).start()
    try:
        cfg = IBKRConfig(port=gw.port, timeout_s=5.0)
        connects = []
        for _ in range(10):
            b = IbkrBroker(cfg, allowed_ports={gw.port}, backoff_s=0.01, max_backoff_s=0.05, max_reconnect_attempts=50)
            t = time.perf_counter()
            b.connect()
            connects.append(time.perf_counter() - t)
            b.disconnect()
        b.connect()
        b.contract_id("SPY")
        places = []
        for k in range(n_orders):
            t = time.perf_counter()
            b.place(Order(f"bench-{k}", "SPY", "buy" if k % 2 else "sell", 1.0))
            b.fills_since()
            places.append(time.perf_counter() - t)
        gw.restart(downtime_s=0.2)
        t = time.perf_counter()
        b.positions()
        reconnect = time.perf_counter() - t
        b.disconnect()
    finally:
        gw.stop()
    return {
        "ibkr_connect_ms_median": round(1e3 * statistics.median(connects), 2),
        "ibkr_market_order_fill_ms_median": round(1e3 * statistics.median(places), 2),
        "ibkr_restart_reconnect_ms (0.2 s downtime)": round(1e3 * reconnect, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--symbols", type=int, default=20)
    ap.add_argument("--bars", type=int, default=2520)
    ap.add_argument("--orders", type=int, default=50)
    args = ap.parse_args()
    out = sim_replay(args.symbols, args.bars) | ibkr_round_trips(args.orders)
    for k, v in out.items():
        print(f"{k}: {v}")


if __name__ == "__main__":
    main()
