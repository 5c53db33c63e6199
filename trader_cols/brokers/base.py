"""The broker protocol the paper loop knows, and the plain records that cross it (orders, acks, fills, positions)."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

from trader_cols.errors import OrderRejected

Side = Literal["buy", "sell"]
OrderType = Literal["market", "limit", "stop"]
TimeInForce = Literal["day", "gtc", "ioc"]
# pending: sent, not yet acknowledged; submitted: working at the broker; partially_filled: working with fills;
# filled / cancelled / rejected: done.
OrderStatus = Literal["pending", "submitted", "partially_filled", "filled", "cancelled", "rejected"]
DONE_STATUSES = frozenset({"filled", "cancelled", "rejected"})
SIDES = ("buy", "sell")
ORDER_TYPES = ("market", "limit", "stop")
TIFS = ("day", "gtc", "ioc")


def make_client_order_id(run_id: str, cycle: int, symbol: str) -> str:
    """The deterministic client order id of (run, cycle, symbol): equal inputs give the same id after a restart.

    Readable head (`tc-<cycle>-<symbol>-`) plus 12 hex of a SHA-256 over the three parts; at most ~40 chars for
    usual symbols, which fits IBKR's `orderRef`.
    """
    digest = hashlib.sha256(f"{run_id}\x1f{cycle}\x1f{symbol}".encode()).hexdigest()[:12]
    return f"tc-{cycle}-{symbol}-{digest}"


@dataclass(frozen=True)
class Order:
    """An order as the loop states it. `qty` is unsigned (the side says which way), in units of the symbol.

    `client_order_id` is the caller's deterministic key (see `make_client_order_id`); a broker that already knows
    it does not create a second order. A limit order needs a positive `limit_price`; a stop order a positive
    `stop_price` (a sell stop triggers when the price falls to it, a buy stop when the price rises to it, then it
    executes as a market order); a market order has neither.
    """

    client_order_id: str
    symbol: str
    side: Side
    qty: float
    order_type: OrderType = "market"
    limit_price: float | None = None
    tif: TimeInForce = "day"
    stop_price: float | None = None

    def __post_init__(self) -> None:
        def bad(why: str) -> OrderRejected:
            return OrderRejected(f"order {self.client_order_id!r}: {why}", symbol=self.symbol or None)

        if not self.client_order_id:
            raise bad("client_order_id is empty")
        if not self.symbol:
            raise bad("symbol is empty")
        if self.side not in SIDES:
            raise bad(f"side {self.side!r} is not one of {SIDES}")
        if self.order_type not in ORDER_TYPES:
            raise bad(f"order_type {self.order_type!r} is not one of {ORDER_TYPES}")
        if self.tif not in TIFS:
            raise bad(f"tif {self.tif!r} is not one of {TIFS}")
        if not (isinstance(self.qty, int | float) and math.isfinite(self.qty) and self.qty > 0):
            raise bad(f"qty must be a finite number > 0, got {self.qty!r}")
        for kind, name, price in (("limit", "limit_price", self.limit_price), ("stop", "stop_price", self.stop_price)):
            if self.order_type == kind:
                if price is None or not (isinstance(price, int | float) and math.isfinite(price) and price > 0):
                    raise bad(f"a {kind} order needs a finite {name} > 0, got {price!r}")
            elif price is not None:
                raise bad(f"a {self.order_type} order has no {name}")

    @property
    def sign(self) -> int:
        """+1 for a buy, -1 for a sell."""
        return 1 if self.side == "buy" else -1

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-able)."""
        return {
            "client_order_id": self.client_order_id,
            "symbol": self.symbol,
            "side": self.side,
            "qty": self.qty,
            "order_type": self.order_type,
            "limit_price": self.limit_price,
            "tif": self.tif,
            "stop_price": self.stop_price,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Order:
        """Inverse of `to_dict`."""
        return cls(**d)


@dataclass(frozen=True)
class Ack:
    """What a broker says about one order: its id there, its status and what has filled so far.

    `duplicate` is True when `place` found the client order id already known and created nothing.
    `code`/`reason` carry the broker's error code and text for a rejection (or a note on a duplicate).
    """

    order: Order
    order_id: str
    status: OrderStatus
    filled_qty: float = 0.0
    avg_fill_price: float | None = None
    duplicate: bool = False
    reason: str = ""
    code: int | None = None

    @property
    def client_order_id(self) -> str:
        """The order's client order id."""
        return self.order.client_order_id

    @property
    def done(self) -> bool:
        """Filled, cancelled or rejected: nothing more will happen to it."""
        return self.status in DONE_STATUSES


@dataclass(frozen=True)
class Fill:
    """One execution. `qty` is unsigned; `price` includes slippage; `commission` >= 0 in account currency."""

    exec_id: str
    client_order_id: str
    symbol: str
    side: Side
    qty: float
    price: float
    commission: float
    ts: datetime

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-able; `ts` as ISO 8601)."""
        return {
            "exec_id": self.exec_id,
            "client_order_id": self.client_order_id,
            "symbol": self.symbol,
            "side": self.side,
            "qty": self.qty,
            "price": self.price,
            "commission": self.commission,
            "ts": self.ts.isoformat(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Fill:
        """Inverse of `to_dict`."""
        return cls(**{**d, "ts": datetime.fromisoformat(d["ts"])})


@dataclass(frozen=True)
class Position:
    """A held position: signed `qty` (negative = short) and the broker's average cost per unit."""

    symbol: str
    qty: float
    avg_cost: float


@dataclass(frozen=True)
class AccountValues:
    """Cash and equity (net liquidation value) of the account, in `currency`."""

    account: str
    currency: str
    cash: float
    equity: float
    extra: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class BrokerEvent:
    """Something the loop should journal and maybe alert on: a disconnect, a reconnect and its reconciliation."""

    kind: Literal["disconnected", "reconnected", "reconnect_failed"]
    message: str
    detail: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Broker(Protocol):
    """Everything the paper loop may ask a broker. Implementations: `SimulatedBroker`, `IbkrBroker`.

    Errors are typed: `BrokerError` when the broker is unreachable or answers something unusable,
    `OrderRejected` when an order cannot be sent at all. A broker-side rejection of a sent order is an `Ack`
    with status "rejected" (it has a client order id the broker now knows).
    """

    name: str

    def connect(self) -> None:
        """Open the session (idempotent)."""
        ...

    def disconnect(self) -> None:
        """Close the session (idempotent)."""
        ...

    def is_connected(self) -> bool:
        """Whether the session is up."""
        ...

    def positions(self) -> list[Position]:
        """Non-zero positions, sorted by symbol."""
        ...

    def account_values(self) -> AccountValues:
        """Cash and equity now."""
        ...

    def place(self, order: Order) -> Ack:
        """Send `order`; if its client order id is known, create nothing and return the existing ack."""
        ...

    def cancel(self, client_order_id: str) -> Ack:
        """Cancel a working order; an order already done is returned unchanged."""
        ...

    def open_orders(self) -> list[Ack]:
        """Orders still working, in placement order."""
        ...

    def fills_since(self, since: datetime | str | None = None) -> list[Fill]:
        """Fills in execution order: all (None), at or after a time (datetime), or after an exec id (str)."""
        ...

    def drain_events(self) -> list[BrokerEvent]:
        """Connection events since the last call (then forgotten)."""
        ...
