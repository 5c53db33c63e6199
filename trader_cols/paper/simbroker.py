"""The simulated broker as a paper session uses it: its state saved to the journal after every change.

The wrapped `SimulatedBroker` plays the part of a broker that outlives the loop: whatever it accepted or filled is
saved (one transaction) before the call returns to the loop, and a restarted loop resumes it with `from_state`.
A save writes what still changes (cash, positions, marks, working orders) and appends the orders that finished and
the fills since the last save to an archive (`paper_broker_log`), so that its cost does not grow with the session.
A kill between the broker's save and the loop's journal entry is exactly the case a real broker presents after a
crash (it knows an order or a fill the journal does not); the loop's reconciliation handles both alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from trader_cols.brokers.base import (
    DONE_STATUSES,
    AccountValues,
    Ack,
    BrokerEvent,
    Fill,
    Order,
    Position,
)
from trader_cols.brokers.simulated import Bar, SimulatedBroker, order_number
from trader_cols.kernels.records import SimParams
from trader_cols.paper.journal import Journal


class JournalledSimBroker:
    """`SimulatedBroker` (bars mode) whose state lives in the journal. Implements the `Broker` protocol."""

    name = "sim"

    def __init__(self, journal: Journal, params: SimParams, *, on_step: Callable[[str], None] | None = None):
        state = journal.broker_state()
        self.inner = SimulatedBroker.from_state(state) if state else SimulatedBroker(params, mode="bars")
        self.resumed = state is not None
        self.journal = journal
        self._on_step = on_step or (lambda _name: None)
        self._archived_orders, self._archived_fills = journal.broker_archive()
        if state is None:
            self._save()

    def _save(self) -> None:
        state = self.inner.state()
        archive: list[tuple[str, str, int, dict]] = []
        hot = []
        for rec in state["orders"]:
            coid = rec["order"]["client_order_id"]
            if rec["status"] not in DONE_STATUSES:
                hot.append(rec)
            elif coid not in self._archived_orders:
                archive.append(("order", coid, order_number(rec["order_id"]), rec))
        archive += [("fill", f["exec_id"], i, f) for i, f in enumerate(state["fills"])
                    if f["exec_id"] not in self._archived_fills]
        self.journal.save_broker_state({**state, "orders": hot, "fills": []}, archive)
        self._archived_orders.update(a[1] for a in archive if a[0] == "order")
        self._archived_fills.update(a[1] for a in archive if a[0] == "fill")
        self._on_step("broker_saved")

    # -- session and queries: straight through

    def connect(self) -> None:
        """Always reachable."""
        self.inner.connect()

    def disconnect(self) -> None:
        """Mark the session down."""
        self.inner.disconnect()

    def is_connected(self) -> bool:
        """Whether the session is up."""
        return self.inner.is_connected()

    def positions(self) -> list[Position]:
        """Non-zero positions sorted by symbol."""
        return self.inner.positions()

    def account_values(self) -> AccountValues:
        """Cash and equity at the last marks."""
        return self.inner.account_values()

    def open_orders(self) -> list[Ack]:
        """Working orders."""
        return self.inner.open_orders()

    def fills_since(self, since: datetime | str | None = None) -> list[Fill]:
        """Fills (see SimulatedBroker.fills_since)."""
        return self.inner.fills_since(since)

    def drain_events(self) -> list[BrokerEvent]:
        """Always empty."""
        return self.inner.drain_events()

    @property
    def last_ts(self) -> datetime | None:
        """Time of the last bar the broker saw."""
        return self.inner.last_ts

    # -- changes: saved before returning

    def place(self, order: Order) -> Ack:
        """Place (idempotent by client order id); the new state is saved before the ack returns."""
        ack = self.inner.place(order)
        if not ack.duplicate:
            self._save()
        return ack

    def cancel(self, client_order_id: str) -> Ack:
        """Cancel a working order; saved."""
        before = self.inner.order(client_order_id)
        ack = self.inner.cancel(client_order_id)
        if ack.status != before.status:
            self._save()
        return ack

    def on_bar(self, ts: datetime, bars: Mapping[str, Bar]) -> list[Fill]:
        """Feed one bar: working orders fill at its open, positions are marked at its close; saved."""
        if self.inner.last_ts is not None and ts <= self.inner.last_ts:
            return []
        fills = self.inner.on_bar(ts, bars)
        self._save()
        return fills
