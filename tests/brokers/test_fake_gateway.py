"""The fake gateway's long layouts decode field-for-field with ib_async's own decoder (no silent misalignment)."""

from __future__ import annotations

from datetime import UTC
from types import SimpleNamespace

import ib_async as ibx
from ib_async.decoder import Decoder

from .fake_gateway import DEFAULT_CONTRACTS, FakeGateway, _Exec, _Order, _Position

SPY = DEFAULT_CONTRACTS[0]


class _Capture:
    """A stand-in wrapper that records what the decoder hands over."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple]] = []
        self.ib = SimpleNamespace(TimezoneTWS="")
        self.defaultTimezone = UTC

    def __getattr__(self, name):
        return lambda *args: self.calls.append((name, args))


def decode(fields: list) -> tuple[str, tuple]:
    wrapper = _Capture()
    Decoder(wrapper, 176).interpret([str(f) if f is not None else "" for f in fields])
    [call] = wrapper.calls
    return call


def order(status: str = "Filled") -> _Order:
    o = _Order(7, 12, 1000005, SPY, "SELL", 3.0, "LMT", 451.25, "GTC", "tc-1-SPY-abc", "DU1234567", status=status)
    o.filled, o.avg_price, o.commission, o.done_time = 3.0, 451.5, 1.0, "20240102 15:30:00 UTC"
    return o


def with_tail(fields: list, n: int) -> list:
    """Replace the last n fields by 11, 12, … so a shifted layout cannot decode them into the right places."""
    return fields[:-n] + [11 + k for k in range(n)]


def test_open_order_layout_lands_on_the_right_fields(fake):
    name, (order_id, contract, o, state) = decode(with_tail(fake._open_order(order()), 5))
    assert name == "openOrder" and order_id == 12
    assert (contract.conId, contract.symbol, contract.secType, contract.exchange) == (756733, "SPY", "STK", "SMART")
    assert (o.action, o.totalQuantity, o.orderType, o.lmtPrice, o.tif) == ("SELL", 3.0, "LMT", 451.25, "GTC")
    assert (o.orderRef, o.clientId, o.permId, o.account, o.whatIf) == ("tc-1-SPY-abc", 7, 1000005, "DU1234567", False)
    assert (state.status, state.commission, state.commissionCurrency) == ("Filled", 1.0, "USD")
    assert (o.minTradeQty, o.minCompeteSize, o.competeAgainstBestOffset, o.midOffsetAtWhole, o.midOffsetAtHalf) == (
        11, 12, 13.0, 14.0, 15.0)


def test_completed_order_layout_lands_on_the_right_fields(fake):
    fields = fake._completed_order(order("Cancelled"))
    name, (contract, o, state) = decode(with_tail(fields, 5))
    assert name == "completedOrder" and contract.symbol == "SPY"
    assert (o.orderRef, o.permId, o.totalQuantity, o.lmtPrice, o.filledQuantity) == (
        "tc-1-SPY-abc", 1000005, 3.0, 451.25, 3.0)
    assert (state.status, state.completedTime, state.completedStatus) == (
        "Cancelled", "20240102 15:30:00 UTC", "Cancelled")
    assert (o.minTradeQty, o.midOffsetAtHalf) == (11, 15.0)


def test_exec_commission_position_portfolio_layouts(fake):
    o = order()
    e = _Exec("0000e0d5.00000009.01.01", o, 3.0, 451.5, "20240102 15:30:00 UTC", 3.0, 451.5, 1.0, -1.0)
    name, (req_id, contract, ex) = decode(fake._exec_details(-1, e))
    assert (name, req_id, contract.symbol) == ("execDetails", -1, "SPY")
    assert (ex.execId, ex.side, ex.shares, ex.price, ex.orderRef, ex.permId, ex.clientId, ex.orderId) == (
        e.exec_id, "SLD", 3.0, 451.5, "tc-1-SPY-abc", 1000005, 7, 12)
    assert ex.time.isoformat() == "2024-01-02T15:30:00+00:00"
    name, (report,) = decode(fake._commission_report(e))
    assert report == ibx.CommissionReport(e.exec_id, 1.0, "USD", -1.0, 0.0, 0)
    p = _Position(SPY, -3.0, 451.5)
    name, (account, contract, qty, avg) = decode(fake._position(p))
    assert (name, account, contract.conId, qty, avg) == ("position", "DU1234567", 756733, -3.0, 451.5)
    name, args = decode(fake._portfolio(p))
    assert name == "updatePortfolio" and args[1:] == (-3.0, 450.0, -1350.0, 451.5, 4.5, 0.0, "DU1234567")


def test_contract_details_layout(fake):
    name, (req_id, cd) = decode(fake._contract_details(5, SPY))
    assert (name, req_id, cd.contract.conId, cd.contract.primaryExchange, cd.minTick) == (
        "contractDetails", 5, 756733, "ARCA", 0.01)
    assert (cd.longName, cd.stockType, cd.minSize, cd.suggestedSizeIncrement) == (
        "SPDR S&P 500 ETF TRUST", "ETF", 0.0001, 100.0)


def test_server_version_follows_the_client_and_unknown_messages_are_recorded():
    gw = FakeGateway(server_version=170).start()
    try:
        ib = ibx.IB()
        ib.RequestTimeout = 2.0
        ib.connect("127.0.0.1", gw.port, clientId=3, timeout=2.0)
        assert ib.client.serverVersion() == 170
        ib.client.send(200, 1)  # a message id the fake does not know
        ib.reqCurrentTime()
        assert gw.unhandled == [["200", "1"]]
        ib.disconnect()
    finally:
        gw.stop()
