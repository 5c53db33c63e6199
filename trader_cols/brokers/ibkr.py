"""Interactive Brokers through ib_async (or ib_insync): the one module that imports the client library.

Safety: it trades paper accounts only. The constructor refuses `paper_trading: false` and any port that is not
a paper port (TWS 7497, IB Gateway 4002); `connect` refuses unless every managed account starts with "DU".
Tests may allow the random port of a loopback fake gateway with `allowed_ports=`, never a live port (7496, 4001)
and only on a loopback host; the config cannot widen it.

Connection: `connect()` is one attempt with clear errors (nothing listening, client id in use (326), no
handshake within `timeout_s`). Every later call first checks the link; a lost link is re-established with
bounded exponential backoff, the library re-requests positions, open and completed orders and executions, and
the broker reconciles its order/fill registry against them: the `reconnected` event (see `drain_events`) says
what changed while it was away. Orders are keyed by `orderRef` = client order id, so a known id is never placed
twice, also after a restart of this process (same client id: IBKR reports a client's orders to that client).
Account values come from IBKR's account-updates stream, which TWS refreshes about every three minutes.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

try:
    import ib_async as ibx
except ModuleNotFoundError:  # the API-compatible predecessor; never install both (they share `eventkit`)
    import ib_insync as ibx  # type: ignore[no-redef]

from trader_cols.brokers import ibkr_map
from trader_cols.brokers.base import AccountValues, Ack, BrokerEvent, Fill, Order, Position
from trader_cols.config import IBKRConfig
from trader_cols.errors import BrokerError, OrderRejected
from trader_cols.logs import get_logger

PAPER_PORTS = frozenset({7497, 4002})  # TWS paper, IB Gateway paper
LIVE_PORTS = frozenset({7496, 4001})  # TWS live, IB Gateway live: never
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
PAPER_PREFIX = "DU"
CLIENT_ID_IN_USE = 326
WAITING = frozenset({"PendingSubmit", "ApiPending"})
POLL_S = 0.005

log = get_logger("brokers.ibkr")


@dataclass
class _Known:
    order: Order
    trade: Any | None  # the library's Trade of this session, if any
    ack: Ack


def _library_order(fields: Mapping[str, Any]) -> Any:
    """The library's MarketOrder / LimitOrder / StopOrder from `ibkr_map.order_fields` output."""
    f = dict(fields)
    kind, action, qty = f.pop("orderType"), f.pop("action"), f.pop("totalQuantity")
    if kind == "LMT":
        return ibx.LimitOrder(action, qty, f.pop("lmtPrice"), **f)
    if kind == "STP":
        return ibx.StopOrder(action, qty, f.pop("auxPrice"), **f)
    return ibx.MarketOrder(action, qty, **f)


def check_paper_target(config: IBKRConfig, allowed_ports: Collection[int] = PAPER_PORTS) -> None:
    """Raise BrokerError unless `config` points at a paper port that `allowed_ports` permits.

    `allowed_ports` other than the paper ports is a test hook for a loopback fake gateway: it may never hold a
    live port, and it only applies to a loopback host.
    """
    allowed = frozenset(allowed_ports)
    if not config.paper_trading:
        raise BrokerError("paper_trading is false (IBKR_PAPER_TRADING): tcols trades IBKR paper accounts only",
                          broker="ibkr")
    if allowed & LIVE_PORTS:
        raise BrokerError(f"allowed_ports {sorted(allowed)} include a live port ({sorted(LIVE_PORTS)})",
                          broker="ibkr")
    if allowed != PAPER_PORTS and config.host not in LOOPBACK_HOSTS:
        raise BrokerError(f"allowed_ports beyond {sorted(PAPER_PORTS)} are for a loopback test gateway, "
                          f"not host {config.host}", broker="ibkr")
    if config.port not in allowed:
        kind = "a live port" if config.port in LIVE_PORTS else "not a paper port"
        raise BrokerError(f"port {config.port} is {kind}; use TWS paper 7497 or IB Gateway paper 4002 (IBKR_PORT)",
                          broker="ibkr")


class IbkrBroker:
    """The `Broker` protocol over an IBKR paper account. Synchronous: it runs the library's loop while it waits.

    `asset_classes` (symbol → equity|etf|crypto) overrides the symbol-pattern rule of `ibkr_map.is_crypto`.
    `sleep` is the back-off sleep (injected by tests). Waits are bounded by `config.timeout_s`.
    """

    name = "ibkr"

    def __init__(
        self,
        config: IBKRConfig,
        *,
        allowed_ports: Collection[int] = PAPER_PORTS,
        asset_classes: Mapping[str, str] | None = None,
        max_reconnect_attempts: int = 6,
        backoff_s: float = 1.0,
        max_backoff_s: float = 30.0,
        commission_wait_s: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        check_paper_target(config, allowed_ports)
        self.config = config
        self.asset_classes = dict(asset_classes or {})
        self.max_reconnect_attempts = max_reconnect_attempts
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.commission_wait_s = commission_wait_s
        self._sleep = sleep
        self._ib = ibx.IB()
        self._ib.RequestTimeout = config.timeout_s
        self._account: str | None = None
        self._contracts: dict[str, Any] = {}
        self._orders: dict[str, _Known] = {}  # client order id -> registry entry, in the order first seen
        self._fills: dict[str, Fill] = {}  # exec id -> fill, in the order first seen
        self._first_seen: dict[str, float] = {}  # exec id -> monotonic time it arrived (commission wait)
        self._positions: dict[str, float] = {}
        self._events: list[BrokerEvent] = []
        self._wanted = False  # connect() was called and disconnect() was not
        self.reconnects = 0

    # ------------------------------------------------------------------ session

    @property
    def where(self) -> str:
        """host:port (client id n), for messages."""
        return f"{self.config.host}:{self.config.port} (client id {self.config.client_id})"

    @property
    def account(self) -> str | None:
        """The paper account orders go to (the first managed account)."""
        return self._account

    def connect(self) -> None:
        """Connect once (no retry), check that every managed account is a paper account, load orders and fills."""
        if self._ib.isConnected():
            return
        self._connect_once()
        self._check_accounts()
        self._wanted = True
        self._sync(after_reconnect=bool(self._orders))  # after a disconnect(): the old session's trades are stale
        log.info("connected to IBKR %s, paper account %s", self.where, self._account)

    def disconnect(self) -> None:
        """Close the session; later calls raise until `connect()`."""
        self._wanted = False
        self._ib.disconnect()

    def is_connected(self) -> bool:
        """Whether the API session is up (after processing what arrived)."""
        self._pump()
        return self._ib.isConnected()

    def drain_events(self) -> list[BrokerEvent]:
        """Disconnect / reconnect events since the last call (then forgotten)."""
        events, self._events = self._events, []
        return events

    def _connect_once(self) -> None:
        cfg = self.config
        ib = self._ib

        async def attempt() -> tuple[int | None, str] | None:
            failed: asyncio.Future = asyncio.get_running_loop().create_future()

            def on_error(req_id: int, code: int, message: str, contract: Any) -> None:
                if code == CLIENT_ID_IN_USE and not failed.done():
                    failed.set_result((code, message))

            def on_api_error(message: str) -> None:
                # "API connection failed: …" accompanies the connect task's own exception: let that one speak.
                if not failed.done() and not message.startswith("API connection failed"):
                    failed.set_result((None, message))

            ib.errorEvent += on_error
            ib.client.apiError += on_api_error
            task = asyncio.ensure_future(ib.connectAsync(cfg.host, cfg.port, cfg.client_id, timeout=cfg.timeout_s))
            try:
                done, _ = await asyncio.wait({task, failed}, return_when=asyncio.FIRST_COMPLETED)
                if task in done:
                    task.result()
                    return None
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                return failed.result()
            finally:
                ib.errorEvent -= on_error
                ib.client.apiError -= on_api_error

        try:
            failure = ibx.util.run(attempt())
        except ConnectionRefusedError as e:
            raise BrokerError(f"nothing listens at {cfg.host}:{cfg.port} ({e.strerror or e}): is IB Gateway/TWS "
                              "running with the API enabled on that port?", broker="ibkr") from None
        except TimeoutError:
            raise BrokerError(f"no API handshake from {self.where} within {cfg.timeout_s:g} s: is the API enabled, "
                              "127.0.0.1 a trusted IP, and the client id free?", broker="ibkr") from None
        except (ConnectionError, OSError) as e:
            raise BrokerError(f"cannot connect to {self.where}: {e}", broker="ibkr") from None
        if failure is None:
            return
        self._ib.disconnect()
        code, message = failure
        if code == CLIENT_ID_IN_USE:
            raise BrokerError(f"client id {cfg.client_id} is already in use at {cfg.host}:{cfg.port}; close the "
                              "other session or set another IBKR_CLIENT_ID", broker="ibkr", code=code)
        raise BrokerError(f"{self.where} closed the connection during the handshake: {message}", broker="ibkr")

    def _check_accounts(self) -> None:
        accounts = list(self._ib.managedAccounts())
        if not accounts or not all(a.startswith(PAPER_PREFIX) for a in accounts):
            self._wanted = False
            self._ib.disconnect()
            raise BrokerError(f"refusing to trade: managed accounts {accounts} are not all paper accounts "
                           f"({PAPER_PREFIX}…); tcols trades IBKR paper accounts only", broker="ibkr")
        self._account = accounts[0]

    def _pump(self) -> None:
        """Let the library process whatever arrived (a disconnect shows up here)."""
        try:
            ibx.util.run(asyncio.sleep(0))
        except ConnectionError:
            pass

    def _ensure(self) -> None:
        self._pump()
        if self._ib.isConnected():
            return
        if not self._wanted:
            raise BrokerError(f"not connected to {self.where} (call connect())", broker="ibkr")
        self._reconnect()

    def _reconnect(self) -> None:
        down_at = time.monotonic()
        self._events.append(BrokerEvent("disconnected", f"lost the IBKR connection to {self.where}"))
        log.warning("lost the IBKR connection to %s; reconnecting", self.where)
        before_positions = dict(self._positions)
        before_open = {k for k, v in self._orders.items() if not v.ack.done}
        before_fills = set(self._fills)
        delay, last = self.backoff_s, None
        for attempt in range(1, self.max_reconnect_attempts + 1):
            try:
                self._connect_once()
                break
            except BrokerError as e:
                last = e
                if attempt < self.max_reconnect_attempts:
                    self._sleep(delay)
                    delay = min(delay * 2.0, self.max_backoff_s)
        else:
            msg = f"{self.max_reconnect_attempts} reconnect attempts to {self.where} failed; last: {last}"
            self._events.append(BrokerEvent("reconnect_failed", msg, {"attempts": self.max_reconnect_attempts}))
            raise BrokerError(msg, broker="ibkr")
        self._check_accounts()
        lost = self._sync(after_reconnect=True)
        self.reconnects += 1
        detail = {
            "attempts": attempt,
            "down_s": round(time.monotonic() - down_at, 3),
            "positions_changed": {s: list(v) for s, v in
                                  ibkr_map.diff_positions(before_positions, self._positions).items()},
            "new_fills": [e for e in self._fills if e not in before_fills],
            "orders_done": {k: self._orders[k].ack.status for k in sorted(before_open) if self._orders[k].ack.done},
            "orders_open": sorted(k for k, v in self._orders.items() if not v.ack.done),
            "orders_unreported": lost,
        }
        msg = (f"reconnected to {self.where} after {attempt} attempt(s); {len(detail['new_fills'])} new fill(s), "
               f"{len(detail['positions_changed'])} position change(s), {len(detail['orders_done'])} order(s) done")
        self._events.append(BrokerEvent("reconnected", msg, detail))
        log.warning("%s", msg)

    # ------------------------------------------------------------------ registry

    def _sync(self, after_reconnect: bool) -> list[str]:
        """Fold the library's trades and fills of this session into the registry; return ids marked unreported."""
        by_ref: dict[str, list[Any]] = {}
        for trade in self._ib.trades():
            if trade.order.orderRef:
                by_ref.setdefault(trade.order.orderRef, []).append(trade)
        for ib_fill in self._ib.fills():
            fill = ibkr_map.fill_from_ib(ib_fill)
            if fill is None:
                continue
            old = self._fills.get(fill.exec_id)
            if old is None:
                self._first_seen[fill.exec_id] = time.monotonic()
            if old is None or (math.isnan(old.commission) and not math.isnan(fill.commission)):
                self._fills[fill.exec_id] = fill
        for ref, trades in by_ref.items():
            trade = max(trades, key=lambda t: (t.isDone(), t.order.orderId > 0, len(t.fills)))
            known = self._orders.get(ref)
            ack = ibkr_map.ack_from_trade(trade, known.order if known else None)
            if ack is None:
                continue
            if ack.filled_qty == 0.0 and ack.status == "filled":
                qty = sum(f.qty for f in self._fills.values() if f.client_order_id == ref)
                ack = replace(ack, filled_qty=qty or ack.order.qty)
            if known is None:
                self._orders[ref] = _Known(ack.order, trade, ack)
            else:
                known.trade, known.ack = trade, ack
        lost: list[str] = []
        if after_reconnect:
            reported = set(by_ref) | {f.client_order_id for f in self._fills.values()}
            for ref, known in self._orders.items():
                if ref not in reported and not known.ack.done:
                    known.trade = None
                    known.ack = replace(known.ack, status="cancelled",
                                        reason="not reported by the gateway after reconnect")
                    lost.append(ref)
        acct = self._account or ""
        self._positions = ibkr_map.summarize_positions(
            ibkr_map.position_from_ib(p) for p in self._ib.positions(acct)
        )
        return lost

    def _refresh(self, ref: str) -> Ack:
        known = self._orders[ref]
        if known.trade is not None:
            ack = ibkr_map.ack_from_trade(known.trade, known.order)
            if ack is not None:
                known.ack = ack
        return known.ack

    def _request(self, make: Callable[[], Any], what: str) -> Any:
        """Run one library request; reconnect once on a dropped link; BrokerError on timeout."""
        for attempt in (1, 2):
            self._ensure()
            try:
                return ibx.util.run(make(), timeout=self.config.timeout_s)
            except TimeoutError:
                raise BrokerError(f"{what}: no answer from {self.where} within {self.config.timeout_s:g} s",
                                  broker="ibkr") from None
            except ConnectionError:
                if attempt == 2:
                    raise BrokerError(f"{what}: the connection to {self.where} dropped twice",
                                      broker="ibkr") from None
        raise AssertionError("unreachable")

    def _send(self, call: Callable[[], Any]) -> Any:
        """A library call that writes to the socket. "Not connected" means nothing was written: reconnect, retry."""
        try:
            return call()
        except ConnectionError:
            self._reconnect()
            return call()

    def _wait(self, done: Callable[[], bool], timeout_s: float) -> bool:
        """Run the library's loop until `done()` or `timeout_s`; survives (reconnects on) a dropped link."""
        deadline = time.monotonic() + timeout_s
        while not done():
            if time.monotonic() >= deadline:
                return False
            try:
                ibx.util.run(asyncio.sleep(POLL_S))
            except ConnectionError:
                self._ensure()
        return True

    def _contract(self, symbol: str) -> Any:
        c = self._contracts.get(symbol)
        if c is not None:
            return c
        fields = ibkr_map.contract_fields(symbol, self.asset_classes.get(symbol))
        result = self._request(lambda: self._ib.qualifyContractsAsync(ibx.Contract(**fields)),
                               f"qualify {symbol}")
        if not result or result[0] is None or not getattr(result[0], "conId", 0):
            raise OrderRejected(f"IBKR knows no contract {fields}", symbol=symbol, broker="ibkr")
        self._contracts[symbol] = result[0]
        return result[0]

    def contract_id(self, symbol: str) -> int:
        """IBKR's conId of `symbol` (qualifies it once; OrderRejected if IBKR does not know it)."""
        return int(self._contract(symbol).conId)

    # ------------------------------------------------------------------ Broker protocol

    def positions(self) -> list[Position]:
        """Non-zero positions of the paper account, sorted by symbol (a fresh reqPositions)."""
        self._request(lambda: self._ib.reqPositionsAsync(), "positions")
        acct = self._account or ""
        found = [ibkr_map.position_from_ib(p) for p in self._ib.positions(acct)]
        self._positions = ibkr_map.summarize_positions(found)
        return sorted((p for p in found if p.qty != 0.0), key=lambda p: p.symbol)

    def account_values(self) -> AccountValues:
        """Cash and net liquidation value in the account's currency."""
        self._ensure()
        return ibkr_map.account_from_values(self._ib.accountValues(self._account or ""), self._account)

    def place(self, order: Order) -> Ack:
        """Send `order` (orderRef = client order id) and wait for IBKR's acknowledgement.

        A client order id already known (this session, or reported by IBKR after a reconnect or a restart) is
        not sent again: its current ack comes back with `duplicate=True`. A refusal by IBKR is an ack with
        status "rejected" and IBKR's code; an order that cannot be built (unknown contract, crypto market buy)
        raises OrderRejected.
        """
        self._ensure()
        self._sync(after_reconnect=False)
        ref = order.client_order_id
        if ref in self._orders:
            return replace(self._refresh(ref), duplicate=True)
        fields = ibkr_map.order_fields(order, self.asset_classes.get(order.symbol))
        contract = self._contract(order.symbol)
        self._ensure()
        if self._account:
            fields["account"] = self._account
        trade = self._send(lambda: self._ib.placeOrder(contract, _library_order(fields)))
        self._orders[ref] = _Known(order, trade, Ack(order, str(trade.order.orderId), "pending"))
        log.info("placed %s %s %s x %g (%s)", ref, order.side, order.symbol, order.qty, order.order_type)

        def acknowledged() -> bool:
            known = self._orders[ref]
            return known.trade is None or known.trade.orderStatus.status not in WAITING

        self._wait(acknowledged, self.config.timeout_s)
        return self._refresh(ref)

    def cancel(self, client_order_id: str) -> Ack:
        """Cancel a working order and wait for IBKR's answer; an order already done comes back unchanged."""
        self._ensure()
        self._sync(after_reconnect=False)
        known = self._orders.get(client_order_id)
        if known is None:
            raise BrokerError(f"unknown client order id {client_order_id!r}", broker="ibkr")
        ack = self._refresh(client_order_id)
        if ack.done or known.trade is None:
            return ack
        self._send(lambda: known.trade is not None and self._ib.cancelOrder(known.trade.order))
        self._wait(lambda: known.trade is None or known.trade.isDone(), self.config.timeout_s)
        return self._refresh(client_order_id)

    def open_orders(self) -> list[Ack]:
        """Our working orders (those with a client order id), after a fresh reqOpenOrders."""
        self._request(lambda: self._ib.reqOpenOrdersAsync(), "open orders")
        self._sync(after_reconnect=False)
        return [a for a in (self._refresh(k) for k in list(self._orders)) if not a.done]

    def fills_since(self, since: datetime | str | None = None) -> list[Fill]:
        """Our fills in arrival order: all (None), at or after a time (datetime), or after an exec id (str).

        A fill's commission report comes after it: this waits until each fill has one or arrived more than
        `commission_wait_s` ago; a fill whose report never came has commission NaN.
        """
        self._ensure()
        self._sync(after_reconnect=False)

        def reported() -> bool:
            self._sync(after_reconnect=False)
            now = time.monotonic()
            return not any(math.isnan(f.commission) and now - self._first_seen[e] < self.commission_wait_s
                           for e, f in self._fills.items())

        self._wait(reported, self.commission_wait_s)
        fills = list(self._fills.values())
        if since is None:
            return fills
        if isinstance(since, str):
            ids = list(self._fills)
            if since not in self._fills:
                raise BrokerError(f"unknown exec id {since!r} (IBKR reports the executions of the current day)",
                                  broker="ibkr")
            return fills[ids.index(since) + 1 :]
        cut = ibkr_map.utc(since)
        return [f for f in fills if f.ts >= cut]
