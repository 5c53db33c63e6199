"""Pure translation between trader_cols' broker records and the fields/objects of ib_async (or ib_insync).

No library import and no I/O: outgoing values are keyword dicts that `brokers.ibkr` passes to the library's
`Contract(**…)` / `Order(**…)`; incoming objects (Trade, Fill, Position, AccountValue) are read by attribute, so
tests feed the library's own dataclasses built from recorded payloads.

Symbols: equities/ETFs are SMART-routed USD stocks (a yfinance-style dash, "BRK-B", is IBKR's space, "BRK B");
crypto ("BTC-USD", or any symbol whose asset class is "crypto") is a PAXOS `CRYPTO` contract in the quote
currency. IBKR requires crypto market orders to be IOC and crypto market buys to be sized in cash (`cashQty`),
which an `Order` does not carry: such an order is refused here; use a limit order for crypto buys. A stop order is
IBKR's STP (the stop in `auxPrice`); PAXOS takes sell stops only, good till cancelled (a crypto buy stop is refused
here, a crypto sell stop is sent GTC).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from trader_cols.brokers.base import AccountValues, Ack, Fill, Order, OrderStatus, Position
from trader_cols.errors import BrokerError, OrderRejected

CRYPTO_QUOTES = ("USD", "USDT", "USDC", "EUR", "GBP")
CRYPTO_EXCHANGE = "PAXOS"
STOCK_EXCHANGE = "SMART"
UNSET_DOUBLE = 1.7976931348623157e308  # the wire's "no value" for doubles
CANCEL_CODES = frozenset({202})  # "Order Canceled - reason:" answers our own cancel, it is no rejection
ACTIONS = {"buy": "BUY", "sell": "SELL"}
ORDER_TYPES = {"market": "MKT", "limit": "LMT", "stop": "STP"}
TIFS = {"day": "DAY", "gtc": "GTC", "ioc": "IOC"}
EXEC_SIDES = {"BOT": "buy", "SLD": "sell"}
# IBKR order states → ours (ib_async.OrderStatus names; "Inactive" is a refusal or a hold that will not work).
STATUSES: dict[str, OrderStatus] = {
    "PendingSubmit": "pending",
    "ApiPending": "pending",
    "PreSubmitted": "submitted",
    "Submitted": "submitted",
    "PendingCancel": "submitted",
    "ValidationError": "submitted",
    "ApiUpdate": "submitted",
    "Filled": "filled",
    "Cancelled": "cancelled",
    "ApiCancelled": "cancelled",
    "Inactive": "rejected",
}
CASH_TAGS = ("TotalCashValue", "CashBalance")
EQUITY_TAGS = ("NetLiquidation", "NetLiquidationByCurrency")


def is_crypto(symbol: str, asset_class: str | None = None) -> bool:
    """Crypto by declared asset class, else by a `BASE-QUOTE` pattern with a known quote currency."""
    if asset_class is not None:
        return asset_class == "crypto"
    base, sep, quote = symbol.upper().rpartition("-")
    return bool(sep and base and quote in CRYPTO_QUOTES)


def contract_fields(symbol: str, asset_class: str | None = None) -> dict[str, Any]:
    """Keyword arguments of the library's `Contract` for one of our symbols."""
    if is_crypto(symbol, asset_class):
        base, _, quote = symbol.upper().rpartition("-")
        if not base:
            raise OrderRejected("a crypto symbol must look like BASE-QUOTE (BTC-USD)", symbol=symbol, broker="ibkr")
        return {"secType": "CRYPTO", "symbol": base, "exchange": CRYPTO_EXCHANGE, "currency": quote}
    return {"secType": "STK", "symbol": symbol.upper().replace("-", " "), "exchange": STOCK_EXCHANGE,
            "currency": "USD"}


def symbol_of(contract: Any) -> str:
    """Our symbol for a library `Contract` (inverse of `contract_fields`)."""
    if contract.secType == "CRYPTO":
        return f"{contract.symbol}-{contract.currency}"
    return str(contract.symbol).replace(" ", "-")


def order_fields(order: Order, asset_class: str | None = None) -> dict[str, Any]:
    """Keyword arguments of the library's `Order` for `order`; `orderRef` carries the client order id."""
    fields: dict[str, Any] = {
        "action": ACTIONS[order.side],
        "totalQuantity": float(order.qty),
        "orderType": ORDER_TYPES[order.order_type],
        "tif": TIFS[order.tif],
        "orderRef": order.client_order_id,
    }
    if order.order_type == "limit":
        fields["lmtPrice"] = float(order.limit_price)  # type: ignore[arg-type]
    if order.order_type == "stop":
        fields["auxPrice"] = float(order.stop_price)  # type: ignore[arg-type]
        if is_crypto(order.symbol, asset_class):
            if order.side == "buy":
                raise OrderRejected("IBKR (PAXOS) takes crypto stop orders to sell only", symbol=order.symbol,
                                    broker="ibkr")
            fields["tif"] = "GTC"  # PAXOS: stop orders are GTC
    if is_crypto(order.symbol, asset_class) and order.order_type == "market":
        if order.side == "buy":
            raise OrderRejected(
                "IBKR sizes crypto market buys in cash (cashQty), which an Order does not carry; "
                "send a limit order instead",
                symbol=order.symbol,
                broker="ibkr",
            )
        fields["tif"] = "IOC"  # IBKR: "The crypto MKT order must be IOC"
    return fields


def order_from_ib(contract: Any, ib_order: Any) -> Order | None:
    """Our `Order` for a library (contract, order) pair; None for an order without `orderRef` (not ours)."""
    if not ib_order.orderRef:
        return None
    side = {"BUY": "buy", "SELL": "sell"}.get(str(ib_order.action).upper())
    kind = {v: k for k, v in ORDER_TYPES.items()}.get(str(ib_order.orderType).upper())
    if side is None or kind is None:
        return None
    tif = {v: k for k, v in TIFS.items()}.get(str(ib_order.tif).upper(), "day")
    limit = _price(ib_order.lmtPrice) if kind == "limit" else None
    stop = _price(ib_order.auxPrice) if kind == "stop" else None
    if (kind == "limit" and limit is None) or (kind == "stop" and stop is None):
        return None
    return Order(
        client_order_id=ib_order.orderRef,
        symbol=symbol_of(contract),
        side=side,  # type: ignore[arg-type]
        qty=float(ib_order.totalQuantity),
        order_type=kind,  # type: ignore[arg-type]
        limit_price=limit,
        tif=tif,  # type: ignore[arg-type]
        stop_price=stop,
    )


def _price(value: Any) -> float | None:
    """A price field of the library's Order: None when unset (None or the wire's UNSET_DOUBLE)."""
    return float(value) if value is not None and float(value) != UNSET_DOUBLE else None


def _last_error(trade: Any) -> tuple[int | None, str]:
    for entry in reversed(trade.log):
        if entry.errorCode:
            return int(entry.errorCode), str(entry.message)
    return None, ""


def status_of(trade: Any) -> tuple[OrderStatus, int | None, str]:
    """Our status of a library `Trade`, with the broker's error code and text when it refused the order.

    A Cancelled trade whose log carries an error other than 202 (our own cancel) was rejected.
    """
    raw = trade.orderStatus.status
    status = STATUSES.get(raw, "submitted")
    code, text = _last_error(trade)
    filled = float(trade.orderStatus.filled or 0.0)
    if status == "submitted" and filled > 0.0:
        status = "partially_filled"
    if status == "cancelled" and code is not None and code not in CANCEL_CODES:
        status = "rejected"
    if status == "rejected" and code is None:
        text = f"order is {raw}"
    return status, code, text


def ack_from_trade(trade: Any, order: Order | None = None, *, duplicate: bool = False) -> Ack | None:
    """Our `Ack` of a library `Trade` (None when it is not one of ours: no `orderRef`).

    `order` is our original order when known (kept as sent); otherwise it is rebuilt from the trade.
    """
    if order is None:
        order = order_from_ib(trade.contract, trade.order)
        if order is None:
            return None
    status, code, text = status_of(trade)
    os_ = trade.orderStatus
    filled = float(os_.filled or 0.0)
    if not filled and trade.fills:
        filled = sum(float(f.execution.shares) for f in trade.fills)
    avg = float(os_.avgFillPrice) if filled and os_.avgFillPrice else None
    if filled and avg is None and trade.fills:
        avg = sum(float(f.execution.shares) * float(f.execution.price) for f in trade.fills) / filled
    return Ack(order, str(trade.order.permId or trade.order.orderId), status, filled, avg, duplicate, text, code)


def commission_known(fill: Any) -> bool:
    """Whether the commission report of a library `Fill` has arrived (it comes after the execution)."""
    return bool(fill.commissionReport.execId) and fill.commissionReport.execId == fill.execution.execId


def fill_from_ib(fill: Any) -> Fill | None:
    """Our `Fill` of a library `Fill` (None without `orderRef`: not ours). Commission NaN until reported."""
    ex = fill.execution
    if not ex.orderRef:
        return None
    side = EXEC_SIDES.get(str(ex.side).upper())
    if side is None:
        raise BrokerError(f"execution {ex.execId}: unknown side {ex.side!r}", broker="ibkr")
    commission = float(fill.commissionReport.commission) if commission_known(fill) else math.nan
    return Fill(
        exec_id=str(ex.execId),
        client_order_id=str(ex.orderRef),
        symbol=symbol_of(fill.contract),
        side=side,  # type: ignore[arg-type]
        qty=float(ex.shares),
        price=float(ex.price),
        commission=commission,
        ts=utc(ex.time),
    )


def position_from_ib(position: Any) -> Position:
    """Our `Position` of a library `Position` (account, contract, position, avgCost)."""
    return Position(symbol_of(position.contract), float(position.position), float(position.avgCost))


def _number(value: str) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def account_from_values(
    values: Iterable[Any], account: str | None = None, currency: str | None = None
) -> AccountValues:
    """Cash and equity of `account` from library `AccountValue`s (account, tag, value, currency, modelCode).

    Uses NetLiquidation and TotalCashValue (CashBalance as fallback) in `currency`, or in the account's own
    currency (the one that is not "BASE") when none is given. Every numeric tag of that currency lands in `extra`.
    """
    rows = [v for v in values if not getattr(v, "modelCode", "")]
    if account is not None:
        rows = [v for v in rows if v.account == account]
    if not rows:
        raise BrokerError(f"no account values{f' for {account}' if account else ''} yet", broker="ibkr")
    if currency is None:
        found = [v.currency for v in rows if v.tag in EQUITY_TAGS and v.currency not in ("", "BASE")]
        if not found:
            raise BrokerError("no NetLiquidation value in the account values", broker="ibkr")
        currency = found[0]
    by_tag: dict[str, float] = {}
    for v in rows:
        x = _number(v.value)
        if v.currency == currency and x is not None:
            by_tag.setdefault(v.tag, x)
    equity = next((by_tag[t] for t in EQUITY_TAGS if t in by_tag), None)
    cash = next((by_tag[t] for t in CASH_TAGS if t in by_tag), None)
    if equity is None or cash is None:
        missing = [n for n, x in (("NetLiquidation", equity), ("TotalCashValue", cash)) if x is None]
        raise BrokerError(f"account values lack {', '.join(missing)} in {currency}", broker="ibkr")
    acct = account or rows[0].account
    return AccountValues(acct, currency, cash, equity, dict(sorted(by_tag.items())))


def summarize_positions(positions: Iterable[Position]) -> dict[str, float]:
    """symbol → qty, for reconciliation diffs."""
    return {p.symbol: p.qty for p in positions if p.qty != 0.0}


def diff_positions(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, tuple[float, float]]:
    """symbol → (qty before, qty after) for every symbol whose quantity changed."""
    return {
        s: (before.get(s, 0.0), after.get(s, 0.0))
        for s in sorted(set(before) | set(after))
        if before.get(s, 0.0) != after.get(s, 0.0)
    }


def utc(ts: datetime) -> datetime:
    """`ts` as an aware UTC datetime (naive is taken as UTC)."""
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
