"""A loopback fake of the TWS / IB Gateway API socket, answering as server version 176, for tests.

Written from the project's notes (shared/notes/ibkr.md: framing, handshake, message ids and field orders) and
the field orders ib_async's decoder reads; not from IBKR's ibapi code. It runs an asyncio server on 127.0.0.1
in a background thread with its own event loop, so unmodified ib_async (in the test thread, on its own loop)
can connect, qualify contracts, trade, read the account and reconnect after `restart()`.

What it answers (client message id → reply):
  handshake `API\\0` + "v<min>..<max>" → [version, time]; 71 startApi → 15 managedAccounts, 9 nextValidId,
  2104/2106/2158 farm-OK warnings (or error 326 + close for a client id already connected);
  61 reqPositions → 61…, 62 (and later pushes); 64 cancelPositions; 5/16 open orders → 5 + 3 each, 53;
  99 completed orders → 101…, 102; 6 account updates → 6…, 7…, 8, 54 (and pushes after fills);
  76 → 73…, 74; 7 executions → 11 + 59 each, 55; 9 contract details → 10, 52 (error 200 if unknown);
  3 placeOrder → 5, 3 (Submitted); when marketable 11 (reqId -1), 3 Filled, 5 Filled, 59, pushes 61/7/6;
  an unknown contract → error 200, an unsupported order → error 201; 4 cancelOrder → 3 Cancelled + error 202
  (10148 if not cancellable); 58 global cancel; 8 reqIds → 9; 49 → 49; 62 account summary → 63…, 64;
  15/17/59/63/77 accepted. Anything else is recorded in `unhandled`.
Market orders fill at once at the symbol's configured price (or when a price is first set); limit orders fill
at the configured price when it is at or through the limit, now or on a later `set_price`; stop orders (STP,
the stop in auxPrice) fill at the configured price once it is at or through the stop (a sell stop at or below
it, a buy stop at or above it). Commission per fill =
max(commission_min, qty × commission_per_share); `commission_reports = False` withholds the reports.
`restart(downtime_s)` drops every connection and listens again later (same port); `drop_connections()` is a
network flap. No whatIf, no partial fills, no market data, no historical bars.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re
import struct
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

SERVER_VERSION = 176
WAIT_S = 5.0  # bound on every cross-thread wait


@dataclass(frozen=True)
class FakeContract:
    """A contract the fake knows. `exchange` is where orders route (SMART/PAXOS), `primary` its listing."""

    con_id: int
    symbol: str
    sec_type: str
    exchange: str
    primary: str
    currency: str = "USD"
    long_name: str = ""
    stock_type: str = "COMMON"


DEFAULT_CONTRACTS = (
    FakeContract(756733, "SPY", "STK", "SMART", "ARCA", long_name="SPDR S&P 500 ETF TRUST", stock_type="ETF"),
    FakeContract(320227571, "QQQ", "STK", "SMART", "NASDAQ", long_name="INVESCO QQQ TRUST", stock_type="ETF"),
    FakeContract(265598, "AAPL", "STK", "SMART", "NASDAQ", long_name="APPLE INC"),
    FakeContract(479624278, "BTC", "CRYPTO", "PAXOS", "PAXOS", long_name="Bitcoin", stock_type=""),
)


@dataclass
class _Order:
    client_id: int
    order_id: int
    perm_id: int
    contract: FakeContract
    action: str
    qty: float
    order_type: str
    lmt: float | None
    tif: str
    order_ref: str
    account: str
    aux: float | None = None
    status: str = "Submitted"
    filled: float = 0.0
    avg_price: float = 0.0
    last_price: float = 0.0
    commission: float = 0.0
    done_time: str = ""

    @property
    def open(self) -> bool:
        return self.status in ("PreSubmitted", "Submitted")

    @property
    def sign(self) -> int:
        return 1 if self.action == "BUY" else -1


@dataclass
class _Exec:
    exec_id: str
    order: _Order
    shares: float
    price: float
    time: str
    cum_qty: float
    avg_price: float
    commission: float
    realized: float


@dataclass
class _Position:
    contract: FakeContract
    qty: float = 0.0
    avg_cost: float = 0.0


@dataclass(eq=False)
class _Conn:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    client_id: int | None = None
    positions_sub: bool = False
    account_sub: bool = False
    ids: list[int] = field(default_factory=list)  # message ids received, in order


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _frame(*fields: Any) -> bytes:
    payload = b"".join(_text(f).encode() + b"\0" for f in fields)
    return struct.pack(">I", len(payload)) + payload


class FakeGateway:
    """The fake gateway. `start()` it (the pytest fixture does), then point a client at 127.0.0.1:`port`."""

    def __init__(
        self,
        *,
        accounts: Iterable[str] = ("DU1234567",),
        contracts: Iterable[FakeContract] = DEFAULT_CONTRACTS,
        prices: Mapping[str, float] | None = None,
        cash: float = 100_000.0,
        commission_per_share: float = 0.005,
        commission_min: float = 1.0,
        server_version: int = SERVER_VERSION,
        clock: Callable[[], datetime] | None = None,
    ):
        self.accounts = tuple(accounts)
        self.server_version = server_version
        self.commission_per_share = commission_per_share
        self.commission_min = commission_min
        self._contracts = {(c.symbol, c.sec_type): c for c in contracts}
        self._by_con_id = {c.con_id: c for c in contracts}
        self._prices: dict[str, float] = dict(prices or {})  # by contract symbol (BTC, SPY, …)
        self._cash = cash
        self._realized = 0.0
        self._clock = clock or (lambda: datetime.now(UTC))
        self._positions: dict[int, _Position] = {}
        self._orders: dict[tuple[int, int], _Order] = {}
        self._execs: list[_Exec] = []
        self._next_id: dict[int, int] = {}
        self._perm = itertools.count(1_000_001)
        self._exec_seq = itertools.count(1)
        self._conns: set[_Conn] = set()
        self._active: dict[int, _Conn] = {}
        self._tasks: set[asyncio.Task] = set()
        self._server: asyncio.base_events.Server | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-ib-gateway", daemon=True)
        self.port = 0
        self._listening = threading.Event()
        self.placed: list[tuple[int, int, str]] = []  # (client id, order id, orderRef) of every placeOrder
        self.unhandled: list[list[str]] = []
        self.connections_accepted = 0
        self.commission_reports = True  # False: executions come without their commission report
        self._handlers: dict[int, Callable[[_Conn, list[str]], None]] = {
            3: self._place_order,
            4: self._cancel_order,
            5: self._req_open_orders,
            6: self._req_account_updates,
            7: self._req_executions,
            8: self._req_ids,
            9: self._req_contract_details,
            15: lambda conn, f: None,  # reqAutoOpenOrders
            16: self._req_all_open_orders,
            17: lambda conn, f: self._send(conn, 15, 1, ",".join(self.accounts)),
            49: lambda conn, f: self._send(conn, 49, 1, int(self._clock().timestamp())),
            58: self._global_cancel,
            59: lambda conn, f: None,  # reqMarketDataType
            61: self._req_positions,
            62: self._req_account_summary,
            63: lambda conn, f: None,  # cancelAccountSummary
            64: self._cancel_positions,
            76: self._req_account_updates_multi,
            77: lambda conn, f: None,  # cancelAccountUpdatesMulti
            99: self._req_completed_orders,
        }

    # ------------------------------------------------------------------ lifecycle (test thread)

    def start(self) -> FakeGateway:
        """Start the loop thread and listen on 127.0.0.1 (a random port the first time)."""
        self._thread.start()
        self._call(self._listen(0))
        return self

    def stop(self) -> None:
        """Drop every connection, stop listening, stop and close the loop."""
        if not self._thread.is_alive():
            return
        self._call(self._shutdown(cancel_tasks=True))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(WAIT_S)
        self._loop.close()

    def restart(self, downtime_s: float = 0.0, *, same_port: bool = True) -> None:
        """Drop all connections and stop listening; listen again after `downtime_s` (same port by default).

        Account state (cash, positions, orders, executions) survives, as it does at IBKR. Returns at once; use
        `wait_listening()` to block until the gateway is back.
        """
        self._call(self._shutdown(cancel_tasks=False))
        port = self.port if same_port else 0
        self._listening.clear()
        if downtime_s <= 0:
            self._call(self._listen(port))
        else:
            self._loop.call_soon_threadsafe(
                lambda: self._loop.call_later(downtime_s, lambda: self._spawn(self._listen(port)))
            )

    def wait_listening(self, timeout: float = WAIT_S) -> bool:
        """Block until the gateway listens (after a delayed restart)."""
        return self._listening.wait(timeout)

    def drop_connections(self) -> None:
        """Close every client socket but keep listening (a network flap)."""
        self._call(self._drop_conns())

    def set_price(self, symbol: str, price: float) -> None:
        """Set the price of a contract symbol (SPY, BTC): fills the working orders it makes marketable."""
        self._call(self._set_price(symbol, price))

    # ------------------------------------------------------------------ inspection (test thread)

    def positions(self) -> dict[str, float]:
        """Contract symbol → position (non-zero only)."""
        return self._call(self._snapshot(lambda: {p.contract.symbol: p.qty for p in self._positions.values()
                                                  if p.qty}))

    def orders(self) -> list[dict[str, Any]]:
        """Every order the fake holds, as dicts, in placement order."""
        return self._call(self._snapshot(lambda: [
            {"client_id": o.client_id, "order_id": o.order_id, "perm_id": o.perm_id, "symbol": o.contract.symbol,
             "action": o.action, "qty": o.qty, "type": o.order_type, "lmt": o.lmt, "aux": o.aux, "ref": o.order_ref,
             "status": o.status, "filled": o.filled, "avg_price": o.avg_price}
            for o in self._orders.values()
        ]))

    def cash(self) -> float:
        """Cash of the (single) account."""
        return self._call(self._snapshot(lambda: self._cash))

    def received(self, client_id: int | None = None) -> list[int]:
        """Message ids received from the connections of `client_id` (all if None) that are open now."""
        return self._call(self._snapshot(lambda: [
            i for c in self._conns if client_id is None or c.client_id == client_id for i in c.ids
        ]))

    # ------------------------------------------------------------------ loop-thread plumbing

    def _call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(WAIT_S)

    async def _snapshot(self, fn):
        return fn()

    def _spawn(self, coro) -> None:
        task = self._loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _listen(self, port: int) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]
        self._listening.set()

    async def _drop_conns(self) -> None:
        for conn in list(self._conns):
            conn.writer.close()
        self._conns.clear()
        self._active.clear()
        await asyncio.sleep(0)

    async def _shutdown(self, cancel_tasks: bool) -> None:
        await self._drop_conns()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        if cancel_tasks:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _send(self, conn: _Conn, *fields: Any) -> None:
        if not conn.writer.is_closing():
            conn.writer.write(_frame(*fields))

    def _error(self, conn: _Conn, req_id: int, code: int, message: str) -> None:
        self._send(conn, 4, 2, req_id, code, message, "")

    async def _read_fields(self, reader: asyncio.StreamReader) -> list[str]:
        size = struct.unpack(">I", await reader.readexactly(4))[0]
        data = (await reader.readexactly(size)).decode()
        fields = data.split("\0")
        return fields[:-1] if fields and fields[-1] == "" else fields

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        conn = _Conn(reader, writer)
        self._conns.add(conn)
        self.connections_accepted += 1
        try:
            await self._session(conn)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._conns.discard(conn)
            if conn.client_id is not None and self._active.get(conn.client_id) is conn:
                del self._active[conn.client_id]
            writer.close()

    async def _session(self, conn: _Conn) -> None:
        if await conn.reader.readexactly(4) != b"API\0":
            return
        banner = "".join(await self._read_fields(conn.reader))
        m = re.match(r"v(\d+)\.\.(\d+)", banner)
        if not m:
            return
        version = min(self.server_version, int(m.group(2)))
        self._send(conn, version, f"{self._clock():%Y%m%d %H:%M:%S} UTC")
        start = await self._read_fields(conn.reader)
        if start[:1] != ["71"]:
            return
        client_id = int(start[2])
        if client_id in self._active:
            self._error(conn, -1, 326,
                        "Unable to connect as the client id is already in use. Retry with a unique client id.")
            await conn.writer.drain()
            return
        conn.client_id = client_id
        self._active[client_id] = conn
        self._send(conn, 15, 1, ",".join(self.accounts))
        self._send(conn, 9, 1, self._next_id.setdefault(client_id, 1))
        self._error(conn, -1, 2104, "Market data farm connection is OK:usfarm")
        self._error(conn, -1, 2106, "HMDS data farm connection is OK:ushmds")
        self._error(conn, -1, 2158, "Sec-def data farm connection is OK:secdefnj")
        while True:
            fields = await self._read_fields(conn.reader)
            msg_id = int(fields[0])
            conn.ids.append(msg_id)
            handler = self._handlers.get(msg_id)
            if handler is None:
                self.unhandled.append(fields)
            else:
                handler(conn, fields)

    # ------------------------------------------------------------------ layouts (server → client, v176)

    def _contract_head(self, c: FakeContract, exchange: str) -> list[Any]:
        """conId … tradingClass as the 11-field block of openOrder/execDetails/position (no primaryExchange)."""
        return [c.con_id, c.symbol, c.sec_type, "", "", "", "", exchange, c.currency, c.symbol, c.symbol]

    def _open_order(self, o: _Order) -> list[Any]:
        c = o.contract
        done = o.status == "Filled"
        f: list[Any] = [5, o.order_id, *self._contract_head(c, c.exchange)]
        f += [o.action, o.qty, o.order_type, "" if o.lmt is None else o.lmt, "" if o.aux is None else o.aux, o.tif, "", o.account, "O", 0,
              o.order_ref, o.client_id, o.perm_id, 0, 0, "", "", "", "", "", ""]
        if self.server_version < 177:
            f += [""]  # faProfile
        f += ["", "", "", "", "", 0, "", -1, 0, "", "", "", "", "", "", 0, 0, 0, "", 0, 0, 0, "", 0, 0, "", 0,
              "", ""]  # modelCode … deltaNeutralAuxPrice (deltaNeutralOrderType empty: no extra block)
        f += ["", "", "", "", "", "", ""]  # continuousUpdate … comboLegsDescrip
        f += [0, 0, 0]  # combo legs, order combo legs, smart combo routing params
        f += ["", "", ""]  # scale init/subs level size, price increment (empty: no scale block)
        f += [""]  # hedgeType
        f += [0, "", "", 0, 0]  # optOutSmartRouting, clearingAccount, clearingIntent, notHeld, dnc present
        f += [""]  # algoStrategy
        f += [0, 0, o.status, "", "", "", "", "", "", "", "", "", o.commission if done else "", "", "",
              "USD" if done else "", "", 0, 0]  # solicited, whatIf, order state…, randomize size/price
        f += [0]  # conditions
        f += ["", "", "", "", "", "", "", 0, "", "", "", "", 0, 0, "", 0]  # adjusted… usePriceMgmtAlgo
        f += ["", 0, 0]  # duration, postToAts, autoCancelParent
        f += ["", "", "", "", ""]  # minTradeQty, minCompeteSize, competeAgainstBestOffset, midOffsets
        return f

    def _completed_order(self, o: _Order) -> list[Any]:
        c = o.contract
        f: list[Any] = [101, *self._contract_head(c, c.exchange)]
        f += [o.action, o.qty, o.order_type, "" if o.lmt is None else o.lmt, "" if o.aux is None else o.aux, o.tif, "", o.account, "O", 0,
              o.order_ref, o.perm_id, 0, 0, "", "", "", "", ""]
        if self.server_version < 177:
            f += [""]  # faProfile
        f += ["", "", "", "", "", 0, "", -1, "", "", "", "", "", "", 0, 0, "", 0, 0, "", 0, "", ""]
        f += ["", "", "", "", ""]  # continuousUpdate … comboLegsDescrip
        f += [0, 0, 0]
        f += ["", "", ""]
        f += [""]  # hedgeType
        f += ["", "", 0, 0]  # clearingAccount, clearingIntent, notHeld, dnc present
        f += [""]  # algoStrategy
        f += [0, o.status, 0, 0]  # solicited, status, randomize size/price
        f += [0]  # conditions
        f += ["", "", "", 0, 0, "", o.filled, "", 0, "", 0, 0, "", o.done_time, o.status]
        f += ["", "", "", "", ""]
        return f

    def _order_status(self, o: _Order) -> list[Any]:
        return [3, o.order_id, o.status, o.filled, o.qty - o.filled, o.avg_price, o.perm_id, 0, o.last_price,
                o.client_id, "", ""]

    def _exec_details(self, req_id: int, e: _Exec) -> list[Any]:
        o = e.order
        return [11, req_id, o.order_id, *self._contract_head(o.contract, o.contract.primary), e.exec_id, e.time,
                o.account, o.contract.primary, "BOT" if o.action == "BUY" else "SLD", e.shares, e.price, o.perm_id,
                o.client_id, 0, e.cum_qty, e.avg_price, o.order_ref, "", "", "", 1]

    def _commission_report(self, e: _Exec) -> list[Any]:
        return [59, 1, e.exec_id, e.commission, "USD", e.realized, "", ""]

    def _position(self, p: _Position) -> list[Any]:
        return [61, 3, self.accounts[0], *self._contract_head(p.contract, p.contract.primary), p.qty, p.avg_cost]

    def _portfolio(self, p: _Position) -> list[Any]:
        c = p.contract
        price = self._prices.get(c.symbol, p.avg_cost)
        return [7, 8, c.con_id, c.symbol, c.sec_type, "", "", "", "", c.primary, c.currency, c.symbol, c.symbol,
                p.qty, price, p.qty * price, p.avg_cost, p.qty * (price - p.avg_cost), self._realized,
                self.accounts[0]]

    def _account_values(self) -> list[tuple[str, str, str]]:
        gross = sum(abs(p.qty) * self._prices.get(p.contract.symbol, p.avg_cost) for p in self._positions.values())
        nlv = self._cash + sum(p.qty * self._prices.get(p.contract.symbol, p.avg_cost)
                               for p in self._positions.values())
        money = lambda x: f"{x:.2f}"  # noqa: E731
        return [
            ("AccountCode", self.accounts[0], ""),
            ("AccountType", "INDIVIDUAL", ""),
            ("Currency", "USD", "USD"),
            ("NetLiquidation", money(nlv), "USD"),
            ("TotalCashValue", money(self._cash), "USD"),
            ("CashBalance", money(self._cash), "USD"),
            ("CashBalance", money(self._cash), "BASE"),
            ("AvailableFunds", money(self._cash), "USD"),
            ("BuyingPower", money(max(0.0, nlv) * 4), "USD"),
            ("GrossPositionValue", money(gross), "USD"),
            ("RealizedPnL", money(self._realized), "USD"),
        ]

    def _contract_details(self, req_id: int, c: FakeContract) -> list[Any]:
        return [10, req_id, c.symbol, c.sec_type, "", "", "", c.exchange, c.currency, c.symbol, c.symbol, c.symbol,
                c.con_id, 0.01, "", "ACTIVETIM,LMT,MKT,STP", f"{c.exchange},{c.primary}", 1, 0, c.long_name,
                c.primary, "", "", "", "", "US/Eastern", "", "", "", "", 0, 1, "", "", "26", "", c.stock_type,
                0.0001, 0.0001, 100]

    # ------------------------------------------------------------------ request handlers (loop thread)

    def _req_positions(self, conn: _Conn, fields: list[str]) -> None:
        conn.positions_sub = True
        for p in self._positions.values():
            if p.qty:
                self._send(conn, *self._position(p))
        self._send(conn, 62, 1)

    def _cancel_positions(self, conn: _Conn, fields: list[str]) -> None:
        conn.positions_sub = False

    def _send_open_orders(self, conn: _Conn, orders: Iterable[_Order]) -> None:
        for o in orders:
            self._send(conn, *self._open_order(o))
            self._send(conn, *self._order_status(o))
        self._send(conn, 53, 1)

    def _req_open_orders(self, conn: _Conn, fields: list[str]) -> None:
        self._send_open_orders(conn, [o for o in self._orders.values() if o.open and o.client_id == conn.client_id])

    def _req_all_open_orders(self, conn: _Conn, fields: list[str]) -> None:
        self._send_open_orders(conn, [o for o in self._orders.values() if o.open])

    def _req_completed_orders(self, conn: _Conn, fields: list[str]) -> None:
        for o in self._orders.values():
            if not o.open:
                self._send(conn, *self._completed_order(o))
        self._send(conn, 102)

    def _push_account(self, conn: _Conn) -> None:
        for tag, value, currency in self._account_values():
            self._send(conn, 6, 2, tag, value, currency, self.accounts[0])

    def _req_account_updates(self, conn: _Conn, fields: list[str]) -> None:
        conn.account_sub = fields[2] == "1"
        if not conn.account_sub:
            return
        self._push_account(conn)
        for p in self._positions.values():
            if p.qty:
                self._send(conn, *self._portfolio(p))
        self._send(conn, 8, 1, f"{self._clock():%H:%M}")
        self._send(conn, 54, 1, self.accounts[0])

    def _req_account_updates_multi(self, conn: _Conn, fields: list[str]) -> None:
        req_id = int(fields[2])
        for tag, value, currency in self._account_values():
            self._send(conn, 73, 1, req_id, self.accounts[0], "", tag, value, currency)
        self._send(conn, 74, 1, req_id)

    def _req_account_summary(self, conn: _Conn, fields: list[str]) -> None:
        req_id = int(fields[2])
        for tag, value, currency in self._account_values():
            self._send(conn, 63, 1, req_id, self.accounts[0], tag, value, currency)
        self._send(conn, 64, 1, req_id)

    def _req_executions(self, conn: _Conn, fields: list[str]) -> None:
        req_id, client_filter = int(fields[2]), int(fields[3] or 0)
        for e in self._execs:
            if client_filter in (0, e.order.client_id):
                self._send(conn, *self._exec_details(req_id, e))
                if self.commission_reports:
                    self._send(conn, *self._commission_report(e))
        self._send(conn, 55, 1, req_id)

    def _req_ids(self, conn: _Conn, fields: list[str]) -> None:
        self._send(conn, 9, 1, self._next_id.get(conn.client_id or 0, 1))

    def _req_contract_details(self, conn: _Conn, fields: list[str]) -> None:
        req_id, con_id, symbol, sec_type = int(fields[2]), int(fields[3] or 0), fields[4], fields[5]
        c = self._by_con_id.get(con_id) if con_id else self._contracts.get((symbol, sec_type))
        if c is None:
            self._error(conn, req_id, 200, "No security definition has been found for the request")
            return
        self._send(conn, *self._contract_details(req_id, c))
        self._send(conn, 52, 1, req_id)

    def _place_order(self, conn: _Conn, f: list[str]) -> None:
        client_id = conn.client_id or 0
        order_id, con_id, symbol, sec_type = int(f[1]), int(f[2] or 0), f[3], f[4]
        self.placed.append((client_id, order_id, f[26]))
        self._next_id[client_id] = max(self._next_id.get(client_id, 1), order_id + 1)
        existing = self._orders.get((client_id, order_id))
        qty, order_type, lmt = float(f[17] or 0), f[18], float(f[19]) if f[19] else None
        aux = float(f[20]) if f[20] else None
        if existing is not None:  # a modification
            if not existing.open:
                self._error(conn, order_id, 104, "Cannot modify a filled order.")
                return
            existing.qty, existing.lmt, existing.aux = qty, lmt, aux
            self._send(conn, *self._open_order(existing))
            self._send(conn, *self._order_status(existing))
            self._try_fill(existing)
            return
        c = self._by_con_id.get(con_id) if con_id else self._contracts.get((symbol, sec_type))
        if c is None:
            self._error(conn, order_id, 200, "No security definition has been found for the request")
            return
        if (order_type not in ("MKT", "LMT", "STP") or qty <= 0 or (order_type == "LMT" and lmt is None)
                or (order_type == "STP" and aux is None)):
            self._error(conn, order_id, 201, f"Order rejected - reason:the fake gateway takes MKT/LMT/STP with qty > "
                                             f"0, got {order_type} {qty}")
            return
        o = _Order(client_id, order_id, next(self._perm), c, f[16], qty, order_type, lmt, f[21] or "DAY", f[26],
                   f[23] or self.accounts[0], aux)
        self._orders[(client_id, order_id)] = o
        self._send(conn, *self._open_order(o))
        self._send(conn, *self._order_status(o))
        self._try_fill(o)

    def _cancel_order(self, conn: _Conn, fields: list[str]) -> None:
        order_id = int(fields[2])
        o = self._orders.get((conn.client_id or 0, order_id))
        if o is None or not o.open:
            state = o.status if o else "unknown"
            self._error(conn, order_id, 10148,
                        f"OrderId {order_id} that needs to be cancelled cannot be cancelled, state: {state}.")
            return
        self._cancel(o)

    def _cancel(self, o: _Order) -> None:
        o.status = "Cancelled"
        o.done_time = f"{self._clock():%Y%m%d %H:%M:%S} UTC"
        owner = self._active.get(o.client_id)
        if owner is not None:
            self._send(owner, *self._order_status(o))
            self._error(owner, o.order_id, 202, "Order Canceled - reason:")

    def _global_cancel(self, conn: _Conn, fields: list[str]) -> None:
        for o in list(self._orders.values()):
            if o.open:
                self._cancel(o)

    async def _set_price(self, symbol: str, price: float) -> None:
        self._prices[symbol] = float(price)
        for o in list(self._orders.values()):
            if o.open and o.contract.symbol == symbol:
                self._try_fill(o)

    # ------------------------------------------------------------------ execution (loop thread)

    def _try_fill(self, o: _Order) -> None:
        price = self._prices.get(o.contract.symbol)
        if price is None or not o.open:
            return
        if o.order_type == "LMT" and o.lmt is not None:
            if (o.action == "BUY" and price > o.lmt) or (o.action == "SELL" and price < o.lmt):
                return
        if o.order_type == "STP" and o.aux is not None:
            if (o.action == "BUY" and price < o.aux) or (o.action == "SELL" and price > o.aux):
                return
        self._execute(o, price)

    def _execute(self, o: _Order, price: float) -> None:
        qty = o.qty - o.filled
        commission = max(self.commission_min, qty * self.commission_per_share)
        p = self._positions.setdefault(o.contract.con_id, _Position(o.contract))
        d = o.sign * qty
        realized = 0.0
        new = p.qty + d
        if p.qty and p.qty * d < 0:  # reduces (or flips): realize against the average cost
            closed = min(abs(d), abs(p.qty))
            realized = closed * (price - p.avg_cost) * (1 if p.qty > 0 else -1)
        if new == 0:
            p.avg_cost = 0.0
        elif p.qty == 0 or p.qty * new < 0:
            p.avg_cost = price
        elif abs(new) > abs(p.qty):
            p.avg_cost = (abs(p.qty) * p.avg_cost + qty * price) / abs(new)
        p.qty = new
        self._cash -= d * price + commission
        self._realized += realized - commission
        o.avg_price = (o.filled * o.avg_price + qty * price) / (o.filled + qty)
        o.filled += qty
        o.last_price = price
        o.commission += commission
        o.status = "Filled"
        o.done_time = f"{self._clock():%Y%m%d %H:%M:%S} UTC"
        e = _Exec(f"0000e0d5.{next(self._exec_seq):08x}.01.01", o, qty, price, o.done_time, o.filled, o.avg_price,
                  commission, realized - commission)
        self._execs.append(e)
        owner = self._active.get(o.client_id)
        if owner is not None:
            self._send(owner, *self._exec_details(-1, e))
            self._send(owner, *self._order_status(o))
            self._send(owner, *self._open_order(o))
            if self.commission_reports:
                self._send(owner, *self._commission_report(e))
        for conn in list(self._conns):
            if conn.positions_sub:
                self._send(conn, *self._position(p))
            if conn.account_sub:
                self._send(conn, *self._portfolio(p))
                self._push_account(conn)



# ---------------------------------------------------------------------------- the decoder-error guard for tests

DECODER_LOGGERS = ("ib_async.decoder", "ib_async.Decoder", "ib_insync.decoder", "ib_insync.Decoder")


class DecoderErrors(logging.Handler):
    """Collects ERROR records of the client's decoder: ib_async logs (and swallows) every message it cannot
    decode, so a layout mistake in the fake shows up only here."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def decoder_error_guard():
    """Within the block, collect decoder ERRORs; afterwards fail the test if there were any."""
    import pytest

    handler = DecoderErrors()
    loggers = [logging.getLogger(name) for name in DECODER_LOGGERS]
    for lg in loggers:
        lg.addHandler(handler)
    try:
        yield handler
    finally:
        for lg in loggers:
            lg.removeHandler(handler)
    if handler.records:
        pytest.fail("ib_async decoder errors:\n" + "\n".join(r.getMessage() for r in handler.records))
