"""Round trips and per-bar P&L against hand-computed cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from trader_cols.trades import bar_pnl, round_trips

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def fills(rows):
    return pl.DataFrame(
        [{"ts": T0 + timedelta(days=d), "symbol": s, "side": side, "qty": q, "price": p, "fees": f, "reason": r}
         for d, s, side, q, p, f, r in rows]
    )


def test_long_round_trip_with_an_add_and_fees():
    f = fills([(0, "A", "buy", 10, 100, 1, "rebalance"), (1, "A", "buy", 10, 110, 1, "rebalance"),
               (3, "A", "sell", 20, 120, 2, "stop_loss")])
    t = round_trips(f, pl.DataFrame({"symbol": ["A"], "close": [121.0]}))
    assert t.height == 1
    r = t.row(0, named=True)
    assert r["side"] == "long" and r["qty"] == 20 and r["entry_price"] == 105 and r["exit_price"] == 120
    assert r["pnl"] == pytest.approx(20 * 120 - 10 * 100 - 10 * 110 - 4)
    assert r["ret"] == pytest.approx(r["pnl"] / (20 * 105))
    assert r["exit_reason"] == "stop_loss" and r["exit_ts"] == T0 + timedelta(days=3)


def test_reversal_splits_into_two_trades_and_open_trade_is_marked():
    f = fills([(0, "A", "buy", 10, 100, 0, "rebalance"), (1, "A", "sell", 25, 90, 2.5, "rebalance")])
    t = round_trips(f, pl.DataFrame({"symbol": ["A"], "close": [80.0]}))
    assert t["side"].to_list() == ["long", "short"]
    first, second = t.row(0, named=True), t.row(1, named=True)
    assert first["pnl"] == pytest.approx(10 * (90 - 100) - 1.0)  # 10/25 of the fee
    assert second["exit_ts"] is None and second["qty"] == 15
    assert second["pnl"] == pytest.approx(15 * (90 - 80) - 1.5)


def test_symbols_do_not_mix():
    f = fills([(0, "A", "buy", 1, 10, 0, "rebalance"), (0, "B", "sell", 1, 50, 0, "rebalance"),
               (1, "A", "sell", 1, 12, 0, "rebalance"), (1, "B", "buy", 1, 40, 0, "rebalance")])
    t = round_trips(f, pl.DataFrame({"symbol": ["A", "B"], "close": [0.0, 0.0]})).sort("symbol")
    assert t["pnl"].to_list() == [2.0, 10.0] and t["side"].to_list() == ["long", "short"]


def test_bar_pnl_sums_to_the_change_in_equity():
    pos = pl.DataFrame({"symbol": ["A"] * 3, "ts": [T0 + timedelta(days=i) for i in range(3)], "qty": [10.0, 10.0, 0.0]})
    marks = pos.select("symbol", "ts").with_columns(pl.Series("mark", [101.0, 105.0, 103.0]))
    f = fills([(0, "A", "buy", 10, 100, 1, "rebalance"), (2, "A", "sell", 10, 104, 1, "rebalance")])
    p = bar_pnl(pos, marks, f)["pnl"].to_list()
    # day 0: bought at 100 marked 101 → +10 − 1 fee; day 1: +40; day 2: sold at 104 (from 105) → −10 − 1 fee
    assert p == pytest.approx([9.0, 40.0, -11.0])
    assert sum(p) == pytest.approx(10 * (104 - 100) - 2)
