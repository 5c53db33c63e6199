"""The in-process simulated broker: fills priced by the kernels' fill model, state exported as plain data.

Two modes.
- "bars" (replay and bar-driven paper trading): an order placed now works from the next `on_bar` on. A market
  order fills at that bar's open; a buy limit fills when the bar's low reaches the limit (at the better of the
  open and the limit), a sell limit when the high reaches it. A sell stop triggers when the bar's low reaches its
  stop and fills at the stop, or at the open when the bar opens through it (a buy stop likewise with the high): the
  kernel's intrabar stop rule (`kernels.risk.intrabar_stop_ref_nb`), so a protective stop fills where the backtest
  stops the position out. A "day" or "ioc" limit or stop that cannot fill in the first bar of its symbol expires
  (cancelled, reason "expired"); a "gtc" one keeps working.
- "live": `on_price` feeds the latest prices. A market order fills at once at the latest price of its symbol (or
  at the first price to arrive); a limit order fills as soon as a price touches it, a stop order as soon as a
  price reaches its stop (at that price); an "ioc" order that cannot fill at once is cancelled.

Prices: the reference price goes through `kernels.fills.fill_price_nb` (slippage against us) and the commission
through `kernels.fills.fees_nb`, exactly as the backtest kernel does at an open, so replaying through this broker
reproduces the backtest's fills. A limit fill is never worse than its limit. Cash pays price × qty + fees.
Quantities must be whole multiples of `lot_size` (when set); there is no margin or funding check (the live risk
checks size orders before they get here), but selling beyond the position is refused when `allow_short` is off
(for a stop order, when it triggers: it is cancelled with the reason).
A bar whose open/high/low/close is not finite and > 0 is unpriced: nothing of that symbol trades in it.
`avg_cost` is the average fill price of the open position (a flip restarts it), fees excluded.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, NamedTuple

from trader_cols.brokers.base import (
    DONE_STATUSES,
    AccountValues,
    Ack,
    BrokerEvent,
    Fill,
    Order,
    OrderStatus,
    Position,
)
from trader_cols.errors import BrokerError
from trader_cols.kernels.fills import fees_nb, fill_price_nb, round_lot_nb
from trader_cols.kernels.records import SimParams, coerce_params
from trader_cols.kernels.risk import intrabar_stop_ref_nb

STATE_VERSION = 1
# The SimParams fields this broker reads; the rest belong to the kernel's risk rules, which run upstream.
PARAM_FIELDS = (
    "initial_capital",
    "commission_bps",
    "commission_per_share",
    "commission_min",
    "slippage_bps",
    "lot_size",
    "allow_short",
)
LOT_TOL = 1e-9  # relative slack when checking that a quantity is a whole number of lots


class Bar(NamedTuple):
    """One bar of one symbol."""

    open: float
    high: float
    low: float
    close: float


@dataclass
class _Tracked:
    order: Order
    order_id: str
    status: OrderStatus
    filled_qty: float = 0.0
    avg_fill_price: float | None = None
    reason: str = ""

    def ack(self, *, duplicate: bool = False, reason: str | None = None) -> Ack:
        return Ack(
            order=self.order,
            order_id=self.order_id,
            status=self.status,
            filled_qty=self.filled_qty,
            avg_fill_price=self.avg_fill_price,
            duplicate=duplicate,
            reason=self.reason if reason is None else reason,
        )


def order_number(order_id: str) -> int:
    """The placement number of this broker's order id ("sim-<n>")."""
    return int(order_id.rpartition("-")[2])


def _priced(bar: Bar) -> bool:
    return all(math.isfinite(v) and v > 0.0 for v in bar)


def _as_bar(value: Bar | Mapping[str, float] | tuple) -> Bar:
    if isinstance(value, Bar):
        return value
    if isinstance(value, Mapping):
        return Bar(float(value["open"]), float(value["high"]), float(value["low"]), float(value["close"]))
    return Bar(*(float(v) for v in value))


class SimulatedBroker:
    """In-process broker; see the module docstring for the fill rules. Deterministic: no clock, no randomness."""

    name = "sim"

    def __init__(
        self,
        params: SimParams | None = None,
        *,
        mode: Literal["bars", "live"] = "bars",
        currency: str = "USD",
        account: str = "SIM",
    ):
        if mode not in ("bars", "live"):
            raise BrokerError(f"mode {mode!r} is not 'bars' or 'live'", broker=self.name)
        self.params = coerce_params(params if params is not None else SimParams())
        self.mode = mode
        self.currency = currency
        self.account = account
        self._cash = self.params.initial_capital
        self._qty: dict[str, float] = {}
        self._avg: dict[str, float] = {}
        self._marks: dict[str, float] = {}
        self._last_ts: datetime | None = None
        self._orders: dict[str, _Tracked] = {}  # client order id -> order; insertion order = placement order
        self._working: dict[str, _Tracked] = {}  # the subset not done yet (what a bar or price can fill)
        self._fills: list[Fill] = []
        self._exec_index: dict[str, int] = {}
        self._next_order = 1
        self._next_exec = 1
        self._connected = True

    # ------------------------------------------------------------------ session

    def connect(self) -> None:
        """Mark the session up (an in-process broker is always reachable)."""
        self._connected = True

    def disconnect(self) -> None:
        """Mark the session down: every call but `connect`, `state` and `drain_events` raises until reconnected."""
        self._connected = False

    def is_connected(self) -> bool:
        """Whether `connect` is in force."""
        return self._connected

    def _check(self) -> None:
        if not self._connected:
            raise BrokerError("not connected (call connect())", broker=self.name)

    def drain_events(self) -> list[BrokerEvent]:
        """Always empty: an in-process broker never disconnects by itself."""
        return []

    # ------------------------------------------------------------------ queries

    @property
    def last_ts(self) -> datetime | None:
        """Time of the last bar or price update seen."""
        return self._last_ts

    @property
    def cash(self) -> float:
        """Cash now."""
        return self._cash

    def mark(self, symbol: str) -> float | None:
        """The latest close (bars) or price (live) of `symbol`, if any."""
        return self._marks.get(symbol)

    def positions(self) -> list[Position]:
        """Non-zero positions sorted by symbol."""
        self._check()
        return [Position(s, q, self._avg[s]) for s, q in sorted(self._qty.items()) if q != 0.0]

    def account_values(self) -> AccountValues:
        """Cash, and equity = cash + Σ qty × latest mark (gross exposure in `extra`)."""
        self._check()
        equity = self._cash
        gross = 0.0
        for s, q in self._qty.items():
            value = q * self._marks[s]
            equity += value
            gross += abs(value)
        return AccountValues(self.account, self.currency, self._cash, equity, {"gross": gross})

    def open_orders(self) -> list[Ack]:
        """Working orders in placement order."""
        self._check()
        return [t.ack() for t in self._working.values()]

    def order(self, client_order_id: str) -> Ack:
        """The current ack of a known order (BrokerError if unknown)."""
        self._check()
        return self._tracked(client_order_id).ack()

    def fills_since(self, since: datetime | str | None = None) -> list[Fill]:
        """All fills (None), those at or after a time (datetime), or those after an exec id (str)."""
        self._check()
        if since is None:
            return list(self._fills)
        if isinstance(since, str):
            if since not in self._exec_index:
                raise BrokerError(f"unknown exec id {since!r}", broker=self.name)
            return self._fills[self._exec_index[since] + 1 :]
        return [f for f in self._fills if f.ts >= since]

    def _tracked(self, client_order_id: str) -> _Tracked:
        t = self._orders.get(client_order_id)
        if t is None:
            raise BrokerError(f"unknown client order id {client_order_id!r}", broker=self.name)
        return t

    # ------------------------------------------------------------------ orders

    def place(self, order: Order) -> Ack:
        """Accept `order` (see the module docstring for when it fills); a known client order id creates nothing."""
        self._check()
        known = self._orders.get(order.client_order_id)
        if known is not None:
            note = "" if known.order == order else "client order id reused with different fields; kept the first"
            return known.ack(duplicate=True, reason=note or known.reason)
        why = self._refusal(order)
        t = _Tracked(order, f"sim-{self._next_order}", "rejected" if why else "submitted", reason=why)
        self._next_order += 1
        self._orders[order.client_order_id] = t
        if why:
            return t.ack()
        self._working[order.client_order_id] = t
        if self.mode != "live":
            return t.ack()
        price = self._marks.get(order.symbol)
        if price is not None and self._last_ts is not None:
            self._try_fill_live(t, price, self._last_ts)
        if t.status == "submitted" and order.tif == "ioc":
            t.status, t.reason = "cancelled", "ioc: not fillable at once"
        self._prune()
        return t.ack()

    def _prune(self) -> None:
        """Drop finished orders from the working set."""
        self._working = {k: t for k, t in self._working.items() if t.status not in DONE_STATUSES}

    def _refusal(self, order: Order) -> str:
        lot = self.params.lot_size
        if lot > 0.0:
            rounded = round_lot_nb(order.qty, lot)
            if abs(rounded - order.qty) > LOT_TOL * max(1.0, order.qty) or rounded <= 0.0:
                return f"qty {order.qty!r} is not a whole number of lots of {lot!r}"
        if not self.params.allow_short and order.side == "sell" and order.order_type != "stop":
            working = sum(
                t.order.qty - t.filled_qty
                for t in self._working.values()
                if t.order.symbol == order.symbol and t.order.side == "sell"
            )
            held = self._qty.get(order.symbol, 0.0)
            if order.qty + working > held * (1.0 + LOT_TOL) + 1e-12:
                return f"selling {order.qty!r} of {held!r} held (plus {working!r} working) would go short; shorting is off"
        return ""

    def cancel(self, client_order_id: str) -> Ack:
        """Cancel a working order; an order already done comes back unchanged. Unknown id: BrokerError."""
        self._check()
        t = self._tracked(client_order_id)
        if t.status not in DONE_STATUSES:
            t.status, t.reason = "cancelled", "cancelled by request"
            self._working.pop(client_order_id, None)
        return t.ack()

    # ------------------------------------------------------------------ market data

    def on_bar(self, ts: datetime, bars: Mapping[str, Bar | Mapping[str, float] | tuple]) -> list[Fill]:
        """Bars mode: execute working orders at this bar (placement order), then mark positions at the close.

        A bar at or before the last one seen is ignored (returns []): after a restart from a state saved past
        it, replaying it again must not fill twice.
        """
        self._check()
        if self.mode != "bars":
            raise BrokerError("on_bar is for mode 'bars'; use on_price in mode 'live'", broker=self.name)
        if self._last_ts is not None and ts <= self._last_ts:
            return []
        parsed = {s: _as_bar(b) for s, b in bars.items()}
        made: list[Fill] = []
        s_bps = self.params.slippage_bps
        for t in list(self._working.values()):
            bar = parsed.get(t.order.symbol)
            if bar is None or not _priced(bar):
                continue
            o = t.order
            if o.order_type == "market":
                made.append(self._book(t, fill_price_nb(bar.open, o.sign, s_bps), ts))
                continue
            if o.order_type == "stop":
                # the position a stop protects is on the other side of the order: a sell stop protects a long
                ref = intrabar_stop_ref_nb(float(-o.sign), float(o.stop_price), bar.open, bar.high, bar.low)
                if ref == ref:
                    fill = self._trigger(t, fill_price_nb(ref, o.sign, s_bps), ts)
                    made += [fill] if fill is not None else []
                elif o.tif in ("day", "ioc"):
                    t.status, t.reason = "cancelled", "expired"
                continue
            limit = float(o.limit_price)  # type: ignore[arg-type]
            if o.side == "buy" and bar.low <= limit:
                made.append(self._book(t, min(fill_price_nb(min(bar.open, limit), 1, s_bps), limit), ts))
            elif o.side == "sell" and bar.high >= limit:
                made.append(self._book(t, max(fill_price_nb(max(bar.open, limit), -1, s_bps), limit), ts))
            elif o.tif in ("day", "ioc"):
                t.status, t.reason = "cancelled", "expired"
        for s, bar in parsed.items():
            if _priced(bar):
                self._marks[s] = bar.close
        self._last_ts = ts
        self._prune()
        return made

    def on_price(self, ts: datetime, prices: Mapping[str, float]) -> list[Fill]:
        """Live mode: take the latest prices, then fill the working orders they reach (placement order).

        Non-finite or non-positive prices are ignored; an update at or before the last one is ignored too.
        """
        self._check()
        if self.mode != "live":
            raise BrokerError("on_price is for mode 'live'; use on_bar in mode 'bars'", broker=self.name)
        if self._last_ts is not None and ts <= self._last_ts:
            return []
        for s, p in prices.items():
            p = float(p)
            if math.isfinite(p) and p > 0.0:
                self._marks[s] = p
        self._last_ts = ts
        made: list[Fill] = []
        for t in list(self._working.values()):
            if t.order.symbol not in prices:
                continue
            fill = self._try_fill_live(t, self._marks[t.order.symbol], ts)
            if fill is not None:
                made.append(fill)
        self._prune()
        return made

    def _try_fill_live(self, t: _Tracked, price: float, ts: datetime) -> Fill | None:
        o = t.order
        s_bps = self.params.slippage_bps
        if o.order_type == "market":
            return self._book(t, fill_price_nb(price, o.sign, s_bps), ts)
        if o.order_type == "stop":
            if (price - float(o.stop_price)) * o.sign >= 0.0:  # a sell stop at or below its stop, a buy stop above
                return self._trigger(t, fill_price_nb(price, o.sign, s_bps), ts)
            return None
        limit = float(o.limit_price)  # type: ignore[arg-type]
        if o.side == "buy" and price <= limit:
            return self._book(t, min(fill_price_nb(price, 1, s_bps), limit), ts)
        if o.side == "sell" and price >= limit:
            return self._book(t, max(fill_price_nb(price, -1, s_bps), limit), ts)
        return None

    def _trigger(self, t: _Tracked, price: float, ts: datetime) -> Fill | None:
        """A triggered stop order: filled at `price`, or cancelled when it would sell short with shorting off."""
        o = t.order
        if not self.params.allow_short and o.side == "sell":
            held = self._qty.get(o.symbol, 0.0)
            if o.qty - t.filled_qty > held * (1.0 + LOT_TOL) + 1e-12:
                t.status, t.reason = "cancelled", f"triggered, but selling {o.qty!r} of {held!r} held would go short"
                return None
        return self._book(t, price, ts)

    def _book(self, t: _Tracked, price: float, ts: datetime) -> Fill:
        """Fill the rest of `t` at `price`: cash, position, average cost, the fill record."""
        o = t.order
        p = self.params
        qty = o.qty - t.filled_qty
        fee = fees_nb(qty, price, p.commission_bps, p.commission_per_share, p.commission_min)
        d = o.sign * qty
        self._cash -= d * price + fee
        x = self._qty.get(o.symbol, 0.0)
        new = x + d
        if new == 0.0:
            self._qty.pop(o.symbol, None)
            self._avg.pop(o.symbol, None)
        else:
            if x == 0.0 or x * new < 0.0:
                self._avg[o.symbol] = price
            elif abs(new) > abs(x):
                self._avg[o.symbol] = (abs(x) * self._avg[o.symbol] + qty * price) / abs(new)
            self._qty[o.symbol] = new
        self._marks.setdefault(o.symbol, price)
        t.avg_fill_price = price if t.filled_qty == 0.0 else (
            (t.filled_qty * (t.avg_fill_price or 0.0) + qty * price) / (t.filled_qty + qty)
        )
        t.filled_qty = o.qty
        t.status = "filled"
        fill = Fill(f"sim-x{self._next_exec}", o.client_order_id, o.symbol, o.side, qty, price, fee, ts)
        self._next_exec += 1
        self._exec_index[fill.exec_id] = len(self._fills)
        self._fills.append(fill)
        return fill

    # ------------------------------------------------------------------ persistence

    def state(self) -> dict[str, Any]:
        """Everything needed to resume, as plain JSON-able data (floats stay exact through `json`)."""
        return {
            "version": STATE_VERSION,
            "mode": self.mode,
            "currency": self.currency,
            "account": self.account,
            "params": {k: getattr(self.params, k) for k in PARAM_FIELDS},
            "cash": self._cash,
            "positions": {s: {"qty": q, "avg_cost": self._avg[s]} for s, q in sorted(self._qty.items())},
            "marks": dict(sorted(self._marks.items())),
            "last_ts": self._last_ts.isoformat() if self._last_ts is not None else None,
            "orders": [
                {
                    "order": t.order.to_dict(),
                    "order_id": t.order_id,
                    "status": t.status,
                    "filled_qty": t.filled_qty,
                    "avg_fill_price": t.avg_fill_price,
                    "reason": t.reason,
                }
                for t in self._orders.values()
            ],
            "fills": [f.to_dict() for f in self._fills],
            "next_order": self._next_order,
            "next_exec": self._next_exec,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> SimulatedBroker:
        """A broker resumed from `state()` output (cost model included)."""
        if state.get("version") != STATE_VERSION:
            raise BrokerError(
                f"simulated broker state version {state.get('version')!r} is not {STATE_VERSION}", broker=cls.name
            )
        try:
            b = cls(
                SimParams(**state["params"]),
                mode=state["mode"],
                currency=state["currency"],
                account=state["account"],
            )
            b._cash = float(state["cash"])
            for s, p in state["positions"].items():
                b._qty[s] = float(p["qty"])
                b._avg[s] = float(p["avg_cost"])
            b._marks = {s: float(v) for s, v in state["marks"].items()}
            b._last_ts = datetime.fromisoformat(state["last_ts"]) if state["last_ts"] else None
            for rec in sorted(state["orders"], key=lambda r: order_number(r["order_id"])):  # placement order
                order = Order.from_dict(rec["order"])
                b._orders[order.client_order_id] = _Tracked(
                    order,
                    rec["order_id"],
                    rec["status"],
                    float(rec["filled_qty"]),
                    None if rec["avg_fill_price"] is None else float(rec["avg_fill_price"]),
                    rec["reason"],
                )
            b._working = {k: t for k, t in b._orders.items() if t.status not in DONE_STATUSES}
            b._fills = [Fill.from_dict(f) for f in state["fills"]]
            b._exec_index = {f.exec_id: i for i, f in enumerate(b._fills)}
            b._next_order = int(state["next_order"])
            b._next_exec = int(state["next_exec"])
        except (KeyError, TypeError, ValueError) as e:
            raise BrokerError(f"simulated broker state is malformed: {e!r}", broker=cls.name) from e
        return b
