"""The pure IBKR mapping, on payloads recorded from a session and rebuilt as ib_async's own dataclasses."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime, timedelta, timezone

import ib_async as ibx
import pytest

from trader_cols.brokers import ibkr_map as m
from trader_cols.brokers.base import Order, Position
from trader_cols.errors import BrokerError, OrderRejected

T = datetime(2024, 1, 2, 15, 30, tzinfo=UTC)
SPY = ibx.Stock("SPY", "SMART", "USD", conId=756733, primaryExchange="ARCA", localSymbol="SPY", tradingClass="SPY")
BTC = ibx.Crypto("BTC", "PAXOS", "USD", conId=479624278, localSymbol="BTC.USD", tradingClass="BTC")


def trade(order: ibx.Order, status: str, *, filled: float = 0.0, avg: float = 0.0, log=(), fills=(),
          contract=SPY) -> ibx.Trade:
    os_ = ibx.OrderStatus(orderId=order.orderId, status=status, filled=filled, remaining=order.totalQuantity - filled,
                          avgFillPrice=avg, permId=order.permId, clientId=7)
    entries = [ibx.TradeLogEntry(T, s, msg, code) for s, msg, code in log]
    return ibx.Trade(contract, order, os_, list(fills), entries)


def test_contracts_for_stocks_and_crypto():
    assert m.contract_fields("SPY") == {"secType": "STK", "symbol": "SPY", "exchange": "SMART", "currency": "USD"}
    assert m.contract_fields("BRK-B")["symbol"] == "BRK B"
    assert m.contract_fields("BTC-USD") == {"secType": "CRYPTO", "symbol": "BTC", "exchange": "PAXOS",
                                            "currency": "USD"}
    assert m.contract_fields("ETH-USD", "crypto")["symbol"] == "ETH"
    assert m.contract_fields("XYZ-USD", "equity")["secType"] == "STK"
    assert not m.is_crypto("BF-B") and m.is_crypto("SOL-USDT")
    for symbol in ("SPY", "BRK-B", "BTC-USD"):
        assert m.symbol_of(ibx.Contract(**m.contract_fields(symbol))) == symbol
    assert m.symbol_of(BTC) == "BTC-USD" and m.symbol_of(SPY) == "SPY"


def test_orders_to_library_fields_and_back():
    o = Order("tc-3-SPY-0123456789ab", "SPY", "buy", 10.0, "limit", 451.25, "gtc")
    fields = m.order_fields(o)
    assert fields == {"action": "BUY", "totalQuantity": 10.0, "orderType": "LMT", "tif": "GTC",
                      "orderRef": "tc-3-SPY-0123456789ab", "lmtPrice": 451.25}
    lib = ibx.LimitOrder("BUY", 10.0, 451.25, tif="GTC", orderRef=o.client_order_id)
    assert dataclasses.asdict(ibx.Order(**fields)) == dataclasses.asdict(lib)
    assert m.order_from_ib(SPY, lib) == o
    mk = Order("k", "SPY", "sell", 2.0)
    lib_mk = ibx.Order(**m.order_fields(mk))
    assert isinstance(lib_mk.lmtPrice, float) and lib_mk.orderType == "MKT" and lib_mk.tif == "DAY"
    assert m.order_from_ib(SPY, lib_mk) == mk
    assert m.order_from_ib(SPY, ibx.MarketOrder("BUY", 1)) is None  # no orderRef: not ours
    assert m.order_from_ib(SPY, ibx.Order(orderType="TRAIL", action="SELL", totalQuantity=1.0, orderRef="x")) is None  # a type we do not send


def test_stop_orders_to_library_fields_and_back():
    o = Order("tc-4-SPY-0123456789ab", "SPY", "sell", 10.0, "stop", tif="gtc", stop_price=431.5)
    fields = m.order_fields(o)
    assert fields == {"action": "SELL", "totalQuantity": 10.0, "orderType": "STP", "tif": "GTC",
                      "orderRef": "tc-4-SPY-0123456789ab", "auxPrice": 431.5}
    lib = ibx.StopOrder("SELL", 10.0, 431.5, tif="GTC", orderRef=o.client_order_id)
    assert dataclasses.asdict(ibx.Order(**fields)) == dataclasses.asdict(lib)
    assert m.order_from_ib(SPY, lib) == o
    unset = ibx.Order(orderType="STP", action="SELL", totalQuantity=1.0, orderRef="y")  # auxPrice left unset
    assert m.order_from_ib(SPY, unset) is None
    # PAXOS takes sell stops only, good till cancelled
    assert m.order_fields(Order("cs", "BTC-USD", "sell", 0.5, "stop", stop_price=55_000.0))["tif"] == "GTC"
    with pytest.raises(OrderRejected, match="sell only"):
        m.order_fields(Order("cb", "BTC-USD", "buy", 0.5, "stop", stop_price=65_000.0))


def test_crypto_market_orders():
    assert m.order_fields(Order("s", "BTC-USD", "sell", 0.5))["tif"] == "IOC"
    with pytest.raises(OrderRejected, match="cashQty"):
        m.order_fields(Order("b", "BTC-USD", "buy", 0.5))
    assert m.order_fields(Order("l", "BTC-USD", "buy", 0.5, "limit", 60_000.0))["tif"] == "DAY"


def test_statuses_and_acks():
    o = ibx.LimitOrder("BUY", 5.0, 440.0, orderId=5, permId=1000002, clientId=7, orderRef="l1", tif="DAY")
    assert m.status_of(trade(o, "PendingSubmit"))[0] == "pending"
    assert m.status_of(trade(o, "PreSubmitted"))[0] == "submitted"
    assert m.status_of(trade(o, "Submitted", filled=2.0, avg=439.0))[0] == "partially_filled"
    assert m.status_of(trade(o, "Cancelled", log=[("Cancelled", "Error 202, reqId 5: Order Canceled", 202)])) == (
        "cancelled", 202, "Error 202, reqId 5: Order Canceled")
    rejected = trade(o, "Cancelled", log=[("Cancelled", "Error 201, reqId 5: Order rejected - reason:margin", 201)])
    assert m.status_of(rejected)[:2] == ("rejected", 201)
    assert m.status_of(trade(o, "Inactive")) == ("rejected", None, "order is Inactive")
    ack = m.ack_from_trade(trade(o, "Filled", filled=5.0, avg=439.5))
    assert (ack.order_id, ack.status, ack.filled_qty, ack.avg_fill_price, ack.client_order_id) == (
        "1000002", "filled", 5.0, 439.5, "l1")
    assert ack.order == Order("l1", "SPY", "buy", 5.0, "limit", 440.0, "day")
    ours = Order("l1", "SPY", "buy", 5, "limit", 440.0)
    assert m.ack_from_trade(trade(o, "Submitted"), ours).order is ours
    assert m.ack_from_trade(trade(ibx.MarketOrder("BUY", 1), "Filled")) is None


def test_completed_order_ack_takes_filled_quantity_from_fills():
    # reqCompletedOrders gives orderId 0 and an empty OrderStatus; the executions attach as fills
    o = ibx.Order(permId=1000001, action="BUY", totalQuantity=10.0, orderType="MKT", tif="DAY", orderRef="m1",
                  account="DU1234567", filledQuantity=10.0)
    ex = ibx.Execution(execId="0000e0d5.00000001.01.01", time=T, side="BOT", shares=10.0, price=450.0,
                       permId=1000001, orderRef="m1")
    fill = ibx.Fill(SPY, ex, ibx.CommissionReport(), T)
    ack = m.ack_from_trade(trade(o, "Filled", fills=[fill]))
    assert (ack.order_id, ack.status, ack.filled_qty, ack.avg_fill_price) == ("1000001", "filled", 10.0, 450.0)


def test_fills_from_executions_and_commission_reports():
    ex = ibx.Execution(execId="0000e0d5.00000002.01.01", time=datetime(2024, 1, 2, 10, 30, tzinfo=timezone(
        timedelta(hours=-5))), acctNumber="DU1234567", exchange="ARCA", side="SLD", shares=4.0, price=451.0,
        permId=1000003, clientId=7, orderId=6, cumQty=4.0, avgPrice=451.0, orderRef="m2")
    pending = ibx.Fill(SPY, ex, ibx.CommissionReport(), T)
    f = m.fill_from_ib(pending)
    assert (f.exec_id, f.client_order_id, f.symbol, f.side, f.qty, f.price) == (
        "0000e0d5.00000002.01.01", "m2", "SPY", "sell", 4.0, 451.0)
    assert math.isnan(f.commission) and not m.commission_known(pending)
    assert f.ts == T and f.ts.tzinfo == UTC
    done = ibx.Fill(SPY, ex, ibx.CommissionReport(ex.execId, 1.0, "USD", 3.0, 0.0, 0), T)
    assert m.fill_from_ib(done).commission == 1.0
    other = ibx.Fill(SPY, ibx.Execution(execId="x", time=T, side="BOT", shares=1.0, price=1.0), ibx.CommissionReport(),
                     T)
    assert m.fill_from_ib(other) is None
    crypto = ibx.Fill(BTC, ibx.Execution(execId="c", time=T.replace(tzinfo=None), side="BOT", shares=0.01,
                                         price=60_000.0, orderRef="c1"), ibx.CommissionReport(), T)
    assert (m.fill_from_ib(crypto).symbol, m.fill_from_ib(crypto).ts) == ("BTC-USD", T)
    with pytest.raises(BrokerError, match="unknown side"):
        m.fill_from_ib(ibx.Fill(SPY, ibx.Execution(execId="y", time=T, side="?", orderRef="r"),
                                ibx.CommissionReport(), T))


def test_positions_and_account_values():
    pos = ibx.Position("DU1234567", ibx.Stock("SPY", "ARCA", "USD", conId=756733), -3.0, 451.5)
    assert m.position_from_ib(pos) == Position("SPY", -3.0, 451.5)
    values = [
        ibx.AccountValue("DU1234567", "AccountCode", "DU1234567", "", ""),
        ibx.AccountValue("DU1234567", "CashBalance", "95499.00", "BASE", ""),
        ibx.AccountValue("DU1234567", "NetLiquidation", "99999.00", "USD", ""),
        ibx.AccountValue("DU1234567", "TotalCashValue", "95499.00", "USD", ""),
        ibx.AccountValue("DU1234567", "BuyingPower", "399996.00", "USD", ""),
        ibx.AccountValue("DU1234567", "NetLiquidation", "1.00", "USD", "MODEL1"),  # a model's slice: ignored
        ibx.AccountValue("DU7654321", "NetLiquidation", "5.00", "USD", ""),
        ibx.AccountValue("DU7654321", "TotalCashValue", "5.00", "USD", ""),
    ]
    acct = m.account_from_values(values, "DU1234567")
    assert (acct.account, acct.currency, acct.cash, acct.equity) == ("DU1234567", "USD", 95_499.0, 99_999.0)
    assert acct.extra["BuyingPower"] == 399_996.0
    assert m.account_from_values(values, "DU7654321").equity == 5.0
    with pytest.raises(BrokerError, match="TotalCashValue"):
        m.account_from_values(values[:3], "DU1234567")
    with pytest.raises(BrokerError, match="no account values"):
        m.account_from_values([], "DU1234567")


def test_position_diffs():
    before = m.summarize_positions([Position("SPY", 3.0, 1.0), Position("QQQ", 1.0, 1.0)])
    after = {"SPY": 8.0, "BTC-USD": 0.5}
    assert m.diff_positions(before, after) == {"BTC-USD": (0.0, 0.5), "QQQ": (1.0, 0.0), "SPY": (3.0, 8.0)}
    assert m.diff_positions(after, after) == {}
