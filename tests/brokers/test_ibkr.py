"""Unmodified ib_async, through trader_cols.brokers.ibkr, against the project's loopback fake gateway."""

from __future__ import annotations

import math
import socket
import time

import pytest

from trader_cols.brokers.base import Broker, Order
from trader_cols.brokers.ibkr import IbkrBroker, check_paper_target
from trader_cols.config import IBKRConfig
from trader_cols.errors import BrokerError, OrderRejected

from .conftest import PRICES
from .fake_gateway import FakeGateway

pytestmark = pytest.mark.timeout(60)
TIMEOUT_S = 2.0


def make(gw: FakeGateway, *, client_id: int = 7, sleeps: list[float] | None = None, **kw) -> IbkrBroker:
    cfg = IBKRConfig(host="127.0.0.1", port=gw.port, client_id=client_id, timeout_s=TIMEOUT_S)
    opts = dict(allowed_ports={gw.port}, backoff_s=0.02, max_backoff_s=0.16, max_reconnect_attempts=12,
                commission_wait_s=1.0)
    opts.update(kw)
    if sleeps is not None:
        opts["sleep"] = lambda s: (sleeps.append(s), time.sleep(s))
    return IbkrBroker(cfg, **opts)


@pytest.fixture
def broker(fake):
    b = make(fake)
    b.connect()
    yield b
    b.disconnect()


def mkt(coid: str, symbol: str, side: str, qty: float) -> Order:
    return Order(coid, symbol, side, qty)


def lmt(coid: str, symbol: str, side: str, qty: float, price: float, tif: str = "day") -> Order:
    return Order(coid, symbol, side, qty, "limit", price, tif)


def test_connects_qualifies_and_reads_the_account(broker):
    assert isinstance(broker, Broker)
    assert broker.is_connected() and broker.account == "DU1234567"
    assert broker._ib.RequestTimeout == TIMEOUT_S
    assert broker.contract_id("SPY") == 756733
    assert broker.contract_id("BTC-USD") == 479624278
    acct = broker.account_values()
    assert (acct.account, acct.currency, acct.cash, acct.equity) == ("DU1234567", "USD", 100_000.0, 100_000.0)
    assert broker.positions() == [] and broker.open_orders() == [] and broker.fills_since() == []
    with pytest.raises(OrderRejected, match="no contract"):
        broker.contract_id("ZZZZ")


def test_market_order_fills_with_commission(broker, fake):
    ack = broker.place(mkt("m1", "SPY", "buy", 10))
    assert ack.status in ("submitted", "filled") and not ack.duplicate and ack.order_id != "0"
    [fill] = broker.fills_since()
    assert (fill.client_order_id, fill.symbol, fill.side, fill.qty, fill.price) == ("m1", "SPY", "buy", 10.0, 450.0)
    assert fill.commission == 1.0 and fill.ts.tzinfo is not None  # max(1.0, 10 × 0.005)
    [pos] = broker.positions()
    assert (pos.symbol, pos.qty, pos.avg_cost) == ("SPY", 10.0, 450.0)
    acct = broker.account_values()
    assert acct.cash == 100_000.0 - 4_500.0 - 1.0 and acct.equity == 99_999.0
    sell = broker.place(mkt("m2", "SPY", "sell", 4))
    assert sell.order.side == "sell"
    assert [f.side for f in broker.fills_since("0000e0d5.00000001.01.01")] == ["sell"]
    assert broker.positions()[0].qty == 6.0 and fake.positions() == {"SPY": 6.0}


def test_limit_order_rests_fills_when_touched_and_cancels(broker, fake):
    rest = broker.place(lmt("l1", "SPY", "buy", 5, 440.0, "gtc"))
    assert rest.status == "submitted"
    assert [a.client_order_id for a in broker.open_orders()] == ["l1"]
    fake.set_price("SPY", 439.5)
    [fill] = broker.fills_since()
    assert (fill.client_order_id, fill.price, fill.qty) == ("l1", 439.5, 5.0)
    assert broker.open_orders() == []
    far = broker.place(lmt("l2", "SPY", "buy", 5, 400.0))
    assert far.status == "submitted"
    gone = broker.cancel("l2")
    assert gone.status == "cancelled"
    assert broker.cancel("l2").status == "cancelled"  # already done: unchanged
    assert broker.cancel("l1").status == "filled"
    assert broker.open_orders() == []
    with pytest.raises(BrokerError, match="unknown client order id"):
        broker.cancel("nope")


def test_stop_order_rests_then_fills_when_the_price_reaches_it(broker, fake):
    broker.place(mkt("s0", "SPY", "buy", 10))
    stop = broker.place(Order("s1", "SPY", "sell", 10, "stop", tif="gtc", stop_price=440.0))
    assert stop.status == "submitted" and stop.order.stop_price == 440.0
    [working] = broker.open_orders()
    assert working.order == Order("s1", "SPY", "sell", 10.0, "stop", tif="gtc", stop_price=440.0)
    fake.set_price("SPY", 441.0)  # above the stop: nothing
    assert [f.client_order_id for f in broker.fills_since()] == ["s0"]
    fake.set_price("SPY", 438.0)  # through it: a market sell at the price
    fill = broker.fills_since()[-1]
    assert (fill.client_order_id, fill.side, fill.qty, fill.price) == ("s1", "sell", 10.0, 438.0)
    assert broker.positions() == [] and broker.open_orders() == []


def test_crypto_orders(broker, fake):
    ack = broker.place(lmt("c1", "BTC-USD", "buy", 0.01, 61_000.0))
    assert broker.fills_since()[0].price == 60_000.0 and ack.order.symbol == "BTC-USD"
    assert [(p.symbol, p.qty) for p in broker.positions()] == [("BTC-USD", 0.01)]
    with pytest.raises(OrderRejected, match="cash"):
        broker.place(mkt("c2", "BTC-USD", "buy", 0.01))
    broker.place(mkt("c3", "BTC-USD", "sell", 0.01))
    sent = {o["ref"]: o for o in fake.orders()}
    assert set(sent) == {"c1", "c3"} and sent["c3"]["status"] == "Filled"
    assert broker.positions() == []


def test_unknown_contract_is_refused_before_sending(broker, fake):
    with pytest.raises(OrderRejected, match="no contract"):
        broker.place(mkt("u1", "ZZZZ", "buy", 1))
    assert fake.placed == []


def test_gateway_rejection_is_a_rejected_ack(fake):
    b = make(fake)
    b.connect()
    b.contract_id("SPY")
    fake._contracts.clear()  # the gateway forgets the contract: the order's conId no longer resolves
    fake._by_con_id.clear()
    ack = b.place(mkt("r1", "SPY", "buy", 1))
    assert ack.status == "rejected" and ack.code == 200 and "security definition" in ack.reason
    assert b.place(mkt("r1", "SPY", "buy", 1)).duplicate
    b.disconnect()


def test_known_client_order_id_is_never_placed_twice(fake):
    # Arrange: one session places a filled market order and a cancelled limit order, then the process "dies"
    first = make(fake)
    first.connect()
    first.place(mkt("k1", "SPY", "buy", 2))
    again = first.place(mkt("k1", "SPY", "buy", 2))
    assert again.duplicate and len(fake.placed) == 1
    first.place(lmt("k2", "SPY", "buy", 2, 100.0, "gtc"))
    first.place(lmt("k3", "SPY", "buy", 2, 100.0, "gtc"))
    first.cancel("k2")
    first.disconnect()
    # Act: a new process with the same client id re-sends the same decisions
    second = make(fake)
    second.connect()
    acks = {k: second.place(mkt(k, "SPY", "buy", 2)) for k in ("k1", "k2", "k3")}
    # Assert
    assert all(a.duplicate for a in acks.values())
    assert {k: a.status for k, a in acks.items()} == {"k1": "filled", "k2": "cancelled", "k3": "submitted"}
    assert acks["k3"].order.order_type == "limit" and acks["k3"].order.limit_price == 100.0
    assert len(fake.placed) == 3 and fake.positions() == {"SPY": 2.0}
    assert [f.client_order_id for f in second.fills_since()] == ["k1"]
    assert second.cancel("k3").status == "cancelled"  # orders of the dead process stay manageable
    second.disconnect()


def test_survives_a_gateway_restart_and_reconciles(fake):
    # Arrange
    sleeps: list[float] = []
    b = make(fake, sleeps=sleeps)
    b.connect()
    b.place(mkt("g1", "SPY", "buy", 3))
    b.place(lmt("g2", "SPY", "buy", 5, 440.0, "gtc"))
    assert b.drain_events() == []
    # Act: the gateway goes away for a while; meanwhile the resting limit order fills
    fake.restart(downtime_s=0.25)
    fake.set_price("SPY", 439.0)
    positions = b.positions()
    # Assert: reconnected with backoff, and the reconciliation reports what happened while away
    assert [(p.symbol, p.qty) for p in positions] == [("SPY", 8.0)]
    events = b.drain_events()
    assert [e.kind for e in events] == ["disconnected", "reconnected"]
    detail = events[1].detail
    assert detail["attempts"] >= 2 and detail["positions_changed"] == {"SPY": [3.0, 8.0]}
    assert detail["orders_done"] == {"g2": "filled"} and detail["orders_open"] == []
    assert len(detail["new_fills"]) == 1
    assert sleeps[:3] == [0.02, 0.04, 0.08] and max(sleeps) <= 0.16
    assert b.reconnects == 1
    # Continue trading on the new session
    b.place(mkt("g3", "SPY", "sell", 8))
    fills = b.fills_since()
    assert [f.client_order_id for f in fills] == ["g1", "g2", "g3"]
    assert not any(math.isnan(f.commission) for f in fills)
    assert b.positions() == [] and fake.positions() == {}
    b.disconnect()


def test_reconnect_gives_up_after_bounded_attempts(fake):
    sleeps: list[float] = []
    b = make(fake, max_reconnect_attempts=3, sleep=sleeps.append)
    b.connect()
    fake.restart(downtime_s=30.0)
    with pytest.raises(BrokerError, match="3 reconnect attempts .* failed"):
        b.positions()
    assert sleeps == [0.02, 0.04]
    assert [e.kind for e in b.drain_events()] == ["disconnected", "reconnect_failed"]


def test_network_flap_mid_cycle_is_survived(broker, fake):
    broker.place(mkt("f1", "QQQ", "buy", 1))
    fake.drop_connections()
    ack = broker.place(mkt("f2", "QQQ", "buy", 1))
    assert ack.status in ("submitted", "filled") and not ack.duplicate
    assert [e.kind for e in broker.drain_events()] == ["disconnected", "reconnected"]
    assert [f.client_order_id for f in broker.fills_since()] == ["f1", "f2"]


def test_refuses_a_live_account():
    gw = FakeGateway(accounts=("U1234567",), prices=PRICES).start()
    try:
        b = make(gw)
        with pytest.raises(BrokerError, match=r"not all paper accounts"):
            b.connect()
        assert not b.is_connected() and gw.placed == []
        with pytest.raises(BrokerError, match="not connected"):
            b.place(mkt("x", "SPY", "buy", 1))
    finally:
        gw.stop()
    mixed = FakeGateway(accounts=("DU1111111", "U2222222")).start()
    try:
        with pytest.raises(BrokerError, match="not all paper accounts"):
            make(mixed).connect()
    finally:
        mixed.stop()


@pytest.mark.parametrize(
    "cfg, allowed, match",
    [
        (IBKRConfig(port=7496), None, "7496 is a live port"),
        (IBKRConfig(port=4001), None, "4001 is a live port"),
        (IBKRConfig(port=5000), None, "5000 is not a paper port"),
        (IBKRConfig(port=4002, paper_trading=False), None, "paper_trading is false"),
        (IBKRConfig(port=4001), {4001}, "include a live port"),
        (IBKRConfig(host="10.1.2.3", port=5555), {5555}, "loopback"),
    ],
)
def test_refuses_live_ports_and_non_paper_configs(cfg, allowed, match):
    with pytest.raises(BrokerError, match=match):
        IbkrBroker(cfg, **({} if allowed is None else {"allowed_ports": allowed}))


def test_paper_ports_pass_without_override():
    for port in (7497, 4002):
        check_paper_target(IBKRConfig(port=port))
        assert IbkrBroker(IBKRConfig(port=port)).config.port == port  # constructing does not connect


def test_duplicate_client_id_gives_a_clear_error_fast(broker, fake):
    other = make(fake)  # same client id 7 as `broker`
    t0 = time.monotonic()
    with pytest.raises(BrokerError, match="client id 7 is already in use") as err:
        other.connect()
    assert err.value.code == 326 and time.monotonic() - t0 < TIMEOUT_S
    assert broker.is_connected() and not other.is_connected()


def test_refused_connection_gives_a_clear_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    b = IbkrBroker(IBKRConfig(port=port, timeout_s=TIMEOUT_S), allowed_ports={port})
    with pytest.raises(BrokerError, match=f"nothing listens at 127.0.0.1:{port}"):
        b.connect()


def test_silent_server_times_out_with_a_clear_error():
    with socket.create_server(("127.0.0.1", 0)) as server:  # accepts (backlog) but never answers
        port = server.getsockname()[1]
        b = IbkrBroker(IBKRConfig(port=port, timeout_s=0.3), allowed_ports={port})
        t0 = time.monotonic()
        with pytest.raises(BrokerError, match=r"no API handshake .* within 0.3 s"):
            b.connect()
        assert time.monotonic() - t0 < 2.0


def test_link_lost_between_check_and_send_is_retried_once(broker, fake, monkeypatch):
    broker.contract_id("SPY")
    fake.drop_connections()
    broker._pump()  # the library notices the drop ...
    assert not broker._ib.isConnected()
    monkeypatch.setattr(broker, "_ensure", lambda: None)  # ... only after the broker checked the link
    ack = broker.place(mkt("s1", "SPY", "buy", 1))
    assert ack.status in ("submitted", "filled") and [p[2] for p in fake.placed] == ["s1"]
    assert [e.kind for e in broker.drain_events()] == ["disconnected", "reconnected"]


def test_missing_commission_report_is_waited_for_once(fake):
    fake.commission_reports = False
    b = make(fake, commission_wait_s=0.3)
    b.connect()
    b.place(mkt("n1", "SPY", "buy", 1))
    t0 = time.monotonic()
    [f] = b.fills_since()
    waited = time.monotonic() - t0
    assert math.isnan(f.commission) and 0.2 <= waited < 1.5
    t1 = time.monotonic()
    assert len(b.fills_since()) == 1 and time.monotonic() - t1 < 0.2  # no second wait for the same fill
    b.disconnect()


def test_explicit_disconnect_and_connect_again_keeps_the_registry(broker, fake):
    broker.place(lmt("d1", "SPY", "buy", 1, 100.0, "gtc"))
    broker.disconnect()
    with pytest.raises(BrokerError, match="not connected"):
        broker.positions()
    broker.connect()
    assert broker.place(lmt("d1", "SPY", "buy", 1, 100.0, "gtc")).duplicate
    assert broker.cancel("d1").status == "cancelled" and len(fake.placed) == 1
