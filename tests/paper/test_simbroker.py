"""The journalled simulated broker: a save writes what still changes and archives finished orders and fills once, and
a broker resumed from the journal is the same broker."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from trader_cols.brokers.base import Order
from trader_cols.brokers.simulated import Bar, SimulatedBroker
from trader_cols.kernels.records import SimParams
from trader_cols.paper.journal import Journal
from trader_cols.paper.simbroker import JournalledSimBroker
from trader_cols.warehouse import Warehouse

T0 = datetime(2024, 1, 2, tzinfo=UTC)
DAY = timedelta(days=1)
PARAMS = SimParams(initial_capital=10_000.0, commission_bps=2.0, slippage_bps=5.0)


def trade_days(b, start: int, days: int) -> None:
    """Each day: a market buy or sell that fills at the next open, and a protective stop that the next day replaces."""
    for d in range(start, start + days):
        b.place(Order(f"m{d}", "AAA", "buy" if d % 3 else "sell", 1.0))
        b.place(Order(f"s{d}", "AAA", "sell", 1.0, "stop", tif="gtc", stop_price=50.0))
        if any(a.client_order_id == f"s{d - 1}" for a in b.open_orders()):
            b.cancel(f"s{d - 1}")
        px = 100.0 + d
        b.on_bar(T0 + d * DAY, {"AAA": Bar(px, px + 1.0, px - 1.0, px + 0.5)})


def saved(wh: Warehouse, paper_id: str) -> tuple[dict, list[tuple[str, str]]]:
    state = wh.query(f"SELECT state_json FROM paper_broker_state WHERE paper_id = '{paper_id}'")["state_json"].item()
    log = wh.query(f"SELECT kind, key FROM paper_broker_log WHERE paper_id = '{paper_id}' ORDER BY kind, seq").rows()
    return json.loads(state), log


def test_saves_keep_only_what_changes_and_archive_each_item_once(tmp_path):
    # Arrange
    wh = Warehouse(tmp_path / "wh")
    b = JournalledSimBroker(Journal(wh, "s1"), PARAMS)

    # Act: 12 days, 3 to 4 saves a day
    trade_days(b, 0, 12)

    # Assert: the saved state holds the one working stop and no fill; the log holds every other order and fill once
    state, log = saved(wh, "s1")
    assert [o["order"]["client_order_id"] for o in state["orders"]] == ["s11"] and state["fills"] == []
    full = b.inner.state()
    done = [o["order"]["client_order_id"] for o in full["orders"] if o["status"] != "submitted"]
    assert sorted(k for kind, k in log if kind == "order") == sorted(done) and len(done) == 12 + 11
    assert [k for kind, k in log if kind == "fill"] == [f["exec_id"] for f in full["fills"]] and len(full["fills"]) == 12


def test_a_resumed_broker_is_the_same_broker(tmp_path):
    # Arrange: one broker runs 20 days straight; another stops after 8 and is resumed from the journal twice
    wh = Warehouse(tmp_path / "wh")
    straight = JournalledSimBroker(Journal(wh, "a"), PARAMS)
    trade_days(straight, 0, 20)
    first = JournalledSimBroker(Journal(wh, "b"), PARAMS)
    trade_days(first, 0, 8)

    # Act
    second = JournalledSimBroker(Journal(wh, "b"), PARAMS)
    trade_days(second, 8, 6)
    third = JournalledSimBroker(Journal(wh, "b"), PARAMS)
    trade_days(third, 14, 6)

    # Assert: the same orders, fills, cash and positions, in memory and as merged back from the journal
    assert second.resumed and third.resumed
    assert third.inner.state() == straight.inner.state()
    assert Journal(wh, "b").broker_state() == Journal(wh, "a").broker_state()
    assert Journal(wh, "b").broker_state()["cash"] == straight.inner.cash
    _, log_b = saved(wh, "b")
    assert len(log_b) == len(set(log_b))  # nothing archived twice across the restarts


def test_a_state_saved_whole_before_the_archive_existed_resumes_and_moves_into_it(tmp_path):
    # Arrange: a session saved by the earlier code: every order and fill inside state_json, no log rows
    wh = Warehouse(tmp_path / "wh")
    legacy = SimulatedBroker(PARAMS)
    trade_days(legacy, 0, 5)
    Journal(wh, "old").save_broker_state(legacy.state())

    # Act
    b = JournalledSimBroker(Journal(wh, "old"), PARAMS)
    assert b.inner.state() == legacy.state()
    trade_days(b, 5, 1)

    # Assert: the next save moved the finished orders and the fills into the log
    state, log = saved(wh, "old")
    assert len(state["orders"]) == 1 and state["fills"] == []
    assert sum(kind == "fill" for kind, _ in log) == 6 and sum(kind == "order" for kind, _ in log) == 6 + 5  # markets, replaced stops
