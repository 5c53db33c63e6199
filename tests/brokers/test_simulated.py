"""The simulated broker: next-open fills through the kernels' fill model, limits, idempotency, state round trip."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from trader_cols.brokers.base import Broker, Order, make_client_order_id
from trader_cols.brokers.simulated import Bar, SimulatedBroker
from trader_cols.errors import BrokerError, OrderRejected
from trader_cols.kernels.fills import fees_nb, fill_price_nb
from trader_cols.kernels.records import SimParams

T0 = datetime(2024, 1, 2, tzinfo=UTC)
DAY = timedelta(days=1)
PARAMS = SimParams(
    initial_capital=10_000.0, commission_bps=5.0, commission_per_share=0.01, commission_min=1.0, slippage_bps=10.0
)


def mkt(coid: str, symbol: str, side: str, qty: float) -> Order:
    return Order(coid, symbol, side, qty)


def lmt(coid: str, symbol: str, side: str, qty: float, price: float, tif: str = "day") -> Order:
    return Order(coid, symbol, side, qty, "limit", price, tif)


def test_market_order_fills_at_next_open_through_kernel_functions():
    # Arrange
    b = SimulatedBroker(PARAMS)
    b.on_bar(T0, {"AAA": Bar(99.0, 101.0, 98.0, 100.0)})
    # Act
    ack = b.place(mkt("o1", "AAA", "buy", 10))
    assert ack.status == "submitted" and b.fills_since() == []
    fills = b.on_bar(T0 + DAY, {"AAA": Bar(102.0, 104.0, 101.0, 103.0)})
    # Assert
    price = fill_price_nb(102.0, 1, 10.0)
    fee = fees_nb(10.0, price, 5.0, 0.01, 1.0)
    assert price == pytest.approx(102.0 * 1.001, rel=1e-15)
    assert fee == pytest.approx(max(1.0, 10 * price * 5e-4 + 10 * 0.01), rel=1e-15)
    [f] = fills
    assert (f.symbol, f.side, f.qty, f.price, f.commission, f.ts) == ("AAA", "buy", 10.0, price, fee, T0 + DAY)
    assert b.cash == 10_000.0 - 10 * price - fee
    [pos] = b.positions()
    assert (pos.symbol, pos.qty, pos.avg_cost) == ("AAA", 10.0, price)
    acct = b.account_values()
    assert acct.equity == b.cash + 10 * 103.0  # marked at the close
    assert b.order("o1").status == "filled" and b.open_orders() == []


def test_sell_pays_slippage_down_and_minimum_fee():
    b = SimulatedBroker(PARAMS)
    b.place(mkt("b", "AAA", "buy", 1))
    b.on_bar(T0, {"AAA": Bar(50.0, 51.0, 49.0, 50.0)})
    b.place(mkt("s", "AAA", "sell", 1))
    [f] = b.on_bar(T0 + DAY, {"AAA": Bar(60.0, 61.0, 59.0, 60.0)})
    assert f.price == fill_price_nb(60.0, -1, 10.0) and f.price < 60.0
    assert f.commission == 1.0  # the minimum
    assert b.positions() == []
    assert b.account_values().equity == b.cash


def test_buy_limit_fills_at_limit_or_better_and_day_orders_expire():
    b = SimulatedBroker(SimParams(initial_capital=1e6, slippage_bps=10.0))
    b.place(lmt("day", "AAA", "buy", 5, 90.0, "day"))
    b.place(lmt("gtc", "AAA", "buy", 5, 90.0, "gtc"))
    b.place(lmt("touch", "AAA", "buy", 5, 95.0, "day"))
    b.place(lmt("gap", "BBB", "buy", 5, 50.0, "gtc"))
    fills = b.on_bar(T0, {"AAA": Bar(100.0, 101.0, 94.0, 96.0), "BBB": Bar(40.0, 41.0, 39.0, 40.0)})
    by = {f.client_order_id: f for f in fills}
    assert set(by) == {"touch", "gap"}
    assert by["touch"].price == 95.0  # low touched the limit; slippage never crosses the limit
    assert by["gap"].price == fill_price_nb(40.0, 1, 10.0)  # opened below the limit: the (slipped) open
    assert b.order("day").status == "cancelled" and b.order("day").reason == "expired"
    assert [a.client_order_id for a in b.open_orders()] == ["gtc"]
    [f] = b.on_bar(T0 + DAY, {"AAA": Bar(91.0, 92.0, 89.0, 90.0)})
    assert (f.client_order_id, f.price) == ("gtc", 90.0)


def test_sell_limit_touched_by_high():
    b = SimulatedBroker(SimParams(initial_capital=1e6, slippage_bps=10.0))
    b.place(mkt("b", "AAA", "buy", 5))
    b.on_bar(T0, {"AAA": Bar(100.0, 100.0, 100.0, 100.0)})
    b.place(lmt("s1", "AAA", "sell", 2, 105.0, "gtc"))
    b.place(lmt("s2", "AAA", "sell", 3, 101.0, "gtc"))
    assert b.on_bar(T0 + DAY, {"AAA": Bar(100.0, 104.0, 99.0, 103.0)})[0].price == 101.0
    [f] = b.on_bar(T0 + 2 * DAY, {"AAA": Bar(110.0, 111.0, 109.0, 110.0)})
    assert (f.client_order_id, f.price) == ("s1", fill_price_nb(110.0, -1, 10.0))
    assert b.positions() == []


def stp(coid: str, symbol: str, side: str, qty: float, price: float, tif: str = "gtc") -> Order:
    return Order(coid, symbol, side, qty, "stop", tif=tif, stop_price=price)


def test_sell_stop_fills_at_the_stop_inside_the_bar_or_at_a_gapped_open():
    # Arrange: 10 held, a protective sell stop at 95 placed behind the entry
    b = SimulatedBroker(PARAMS)
    b.place(mkt("in", "AAA", "buy", 10))
    b.on_bar(T0, {"AAA": Bar(100.0, 101.0, 99.0, 100.0)})
    b.place(stp("stop", "AAA", "sell", 10, 95.0))
    # Act / Assert: a bar that stays above the stop leaves it working (gtc)
    assert b.on_bar(T0 + DAY, {"AAA": Bar(99.0, 100.0, 95.5, 96.0)}) == []
    assert [a.client_order_id for a in b.open_orders()] == ["stop"]
    # the low reaches the stop: it sells at the stop (with slippage), not at the low
    [f] = b.on_bar(T0 + 2 * DAY, {"AAA": Bar(96.0, 97.0, 90.0, 91.0)})
    assert (f.client_order_id, f.side, f.qty, f.price) == ("stop", "sell", 10.0, fill_price_nb(95.0, -1, 10.0))
    assert b.positions() == []
    # a bar that opens through the stop sells at the open
    b.place(mkt("in2", "AAA", "buy", 10))
    b.on_bar(T0 + 3 * DAY, {"AAA": Bar(100.0, 101.0, 99.0, 100.0)})
    b.place(stp("stop2", "AAA", "sell", 10, 95.0))
    [g] = b.on_bar(T0 + 4 * DAY, {"AAA": Bar(93.0, 94.0, 92.0, 93.5)})
    assert g.price == fill_price_nb(93.0, -1, 10.0)


def test_buy_stop_covers_a_short_and_day_stops_expire():
    b = SimulatedBroker(PARAMS)
    b.place(mkt("short", "AAA", "sell", 5))
    b.on_bar(T0, {"AAA": Bar(100.0, 101.0, 99.0, 100.0)})
    b.place(stp("day", "AAA", "buy", 5, 110.0, "day"))
    assert b.on_bar(T0 + DAY, {"AAA": Bar(100.0, 109.0, 99.0, 105.0)}) == []
    assert b.order("day").status == "cancelled" and b.order("day").reason == "expired"
    b.place(stp("cover", "AAA", "buy", 5, 110.0))
    [f] = b.on_bar(T0 + 2 * DAY, {"AAA": Bar(105.0, 112.0, 104.0, 111.0)})
    assert (f.side, f.price) == ("buy", fill_price_nb(110.0, 1, 10.0)) and b.positions() == []


def test_stop_that_would_sell_short_is_cancelled_when_it_triggers():
    b = SimulatedBroker(SimParams(allow_short=False))
    b.place(mkt("in", "AAA", "buy", 3))
    # placed before the entry fills: refused neither now nor for the working buy
    assert b.place(stp("stop", "AAA", "sell", 5, 90.0)).status == "submitted"
    [entry] = b.on_bar(T0, {"AAA": Bar(100.0, 101.0, 85.0, 86.0)})  # the buy fills, then the stop triggers
    assert entry.client_order_id == "in"
    ack = b.order("stop")
    assert ack.status == "cancelled" and "would go short" in ack.reason
    assert b.positions()[0].qty == 3.0


def test_live_mode_stop_triggers_at_the_first_price_through_it():
    b = SimulatedBroker(PARAMS, mode="live")
    b.on_price(T0, {"AAA": 50.0})
    b.place(mkt("in", "AAA", "buy", 4))
    assert b.place(stp("stop", "AAA", "sell", 4, 45.0)).status == "submitted"
    assert b.on_price(T0 + timedelta(minutes=1), {"AAA": 46.0}) == []
    [f] = b.on_price(T0 + timedelta(minutes=2), {"AAA": 44.0})
    assert (f.client_order_id, f.price) == ("stop", fill_price_nb(44.0, -1, 10.0))


def test_unpriced_bar_holds_orders():
    b = SimulatedBroker(PARAMS)
    b.place(mkt("o", "AAA", "buy", 1))
    assert b.on_bar(T0, {"AAA": Bar(float("nan"), 1.0, 1.0, 1.0)}) == []
    assert b.on_bar(T0 + DAY, {"BBB": Bar(1.0, 1.0, 1.0, 1.0)}) == []
    assert len(b.on_bar(T0 + 2 * DAY, {"AAA": Bar(10.0, 10.0, 10.0, 10.0)})) == 1


def test_known_client_order_id_creates_no_second_order():
    b = SimulatedBroker(PARAMS)
    first = b.place(mkt("same", "AAA", "buy", 3))
    again = b.place(mkt("same", "AAA", "buy", 3))
    assert again.duplicate and not first.duplicate and again.order_id == first.order_id
    b.on_bar(T0, {"AAA": Bar(10.0, 10.0, 10.0, 10.0)})
    after = b.place(mkt("same", "AAA", "buy", 3))
    assert after.duplicate and after.status == "filled"
    other = b.place(mkt("same", "AAA", "sell", 7))
    assert other.duplicate and "different fields" in other.reason
    assert b.on_bar(T0 + DAY, {"AAA": Bar(10.0, 10.0, 10.0, 10.0)}) == []
    assert len(b.fills_since()) == 1 and b.positions()[0].qty == 3.0


def test_replayed_bar_does_not_fill_twice():
    b = SimulatedBroker(PARAMS)
    b.place(mkt("o", "AAA", "buy", 1))
    bar = {"AAA": Bar(10.0, 10.0, 10.0, 10.0)}
    assert len(b.on_bar(T0, bar)) == 1
    b.place(mkt("p", "AAA", "buy", 1))
    assert b.on_bar(T0, bar) == [] and b.on_bar(T0 - DAY, bar) == []
    assert b.order("p").status == "submitted"


def test_state_round_trip_through_json_resumes_identically():
    # Arrange: a broker with a position, a working order, a rejected and a cancelled one
    b = SimulatedBroker(PARAMS)
    b.place(mkt(make_client_order_id("run", 1, "AAA"), "AAA", "buy", 7))
    b.place(mkt(make_client_order_id("run", 1, "BTC-USD"), "BTC-USD", "buy", 0.25))
    b.on_bar(T0, {"AAA": Bar(10.0, 11.0, 9.0, 10.5), "BTC-USD": Bar(40000.0, 41000.0, 39000.0, 40500.0)})
    b.place(lmt("work", "AAA", "buy", 2, 9.5, "gtc"))
    b.place(lmt("gone", "AAA", "buy", 2, 1.0, "gtc"))
    b.cancel("gone")
    # Act
    restored = SimulatedBroker.from_state(json.loads(json.dumps(b.state())))
    # Assert
    assert restored.state() == b.state()
    assert restored.account_values() == b.account_values()
    assert restored.place(lmt("work", "AAA", "buy", 2, 9.5, "gtc")).duplicate
    for broker in (b, restored):
        broker.place(mkt("next", "BTC-USD", "sell", 0.1))
        broker.on_bar(T0 + DAY, {"AAA": Bar(9.6, 9.8, 9.4, 9.7), "BTC-USD": Bar(41000.0, 42000.0, 40000.0, 41500.0)})
    assert restored.state() == b.state()
    assert [f.exec_id for f in restored.fills_since()] == ["sim-x1", "sim-x2", "sim-x3", "sim-x4"]


def test_state_version_is_checked():
    state = SimulatedBroker().state()
    with pytest.raises(BrokerError, match="version"):
        SimulatedBroker.from_state({**state, "version": 99})
    with pytest.raises(BrokerError, match="malformed"):
        SimulatedBroker.from_state({k: v for k, v in state.items() if k != "cash"})


def test_live_mode_fills_market_at_latest_price():
    b = SimulatedBroker(PARAMS, mode="live")
    early = b.place(mkt("early", "AAA", "buy", 2))
    assert early.status == "submitted"  # no price yet
    [f] = b.on_price(T0, {"AAA": 20.0})
    assert (f.client_order_id, f.price, f.ts) == ("early", fill_price_nb(20.0, 1, 10.0), T0)
    now = b.place(mkt("now", "AAA", "sell", 1))
    assert now.status == "filled" and now.avg_fill_price == fill_price_nb(20.0, -1, 10.0)
    resting = b.place(lmt("rest", "AAA", "buy", 1, 19.0, "gtc"))
    ioc = b.place(lmt("ioc", "AAA", "buy", 1, 19.0, "ioc"))
    assert resting.status == "submitted" and ioc.status == "cancelled"
    [g] = b.on_price(T0 + timedelta(minutes=1), {"AAA": 18.5})
    assert (g.client_order_id, g.price) == ("rest", fill_price_nb(18.5, 1, 10.0))
    with pytest.raises(BrokerError, match="on_price"):
        b.on_bar(T0, {"AAA": Bar(1.0, 1.0, 1.0, 1.0)})


def test_refusals_become_rejected_acks():
    b = SimulatedBroker(SimParams(lot_size=1.0, allow_short=False))
    assert b.place(mkt("frac", "AAA", "buy", 1.5)).status == "rejected"
    short = b.place(mkt("short", "AAA", "sell", 1))
    assert short.status == "rejected" and "short" in short.reason
    assert b.place(mkt("short", "AAA", "sell", 1)).duplicate  # a rejected id is known too
    assert b.place(mkt("whole", "AAA", "buy", 2)).status == "submitted"


def test_fills_since_time_and_exec_id():
    b = SimulatedBroker(PARAMS)
    for i in range(3):
        b.place(mkt(f"o{i}", "AAA", "buy", 1))
        b.on_bar(T0 + i * DAY, {"AAA": Bar(10.0, 10.0, 10.0, 10.0)})
    all_fills = b.fills_since()
    assert [f.client_order_id for f in b.fills_since(T0 + DAY)] == ["o1", "o2"]
    assert b.fills_since(all_fills[0].exec_id) == all_fills[1:]
    assert b.fills_since(all_fills[-1].exec_id) == []
    with pytest.raises(BrokerError, match="unknown exec id"):
        b.fills_since("nope")


def test_cancel_and_session():
    b = SimulatedBroker(PARAMS)
    b.place(lmt("l", "AAA", "buy", 1, 5.0, "gtc"))
    assert b.cancel("l").status == "cancelled"
    assert b.cancel("l").status == "cancelled"
    with pytest.raises(BrokerError, match="unknown client order id"):
        b.cancel("nope")
    b.disconnect()
    assert not b.is_connected()
    with pytest.raises(BrokerError, match="not connected"):
        b.positions()
    b.connect()
    assert b.positions() == [] and b.drain_events() == []
    assert isinstance(b, Broker)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(qty=0), "qty"),
        (dict(qty=float("nan")), "qty"),
        (dict(side="hold"), "side"),
        (dict(order_type="limit"), "limit_price"),
        (dict(limit_price=3.0), "market order has no limit_price"),
        (dict(order_type="stop"), "stop_price"),
        (dict(order_type="stop", stop_price=-1.0), "stop_price"),
        (dict(order_type="limit", limit_price=3.0, stop_price=2.0), "limit order has no stop_price"),
        (dict(tif="fok"), "tif"),
        (dict(client_order_id=""), "client_order_id"),
    ],
)
def test_malformed_orders_are_refused(kwargs, match):
    base = dict(client_order_id="x", symbol="AAA", side="buy", qty=1.0)
    with pytest.raises(OrderRejected, match=match):
        Order(**{**base, **kwargs})


def test_client_order_id_is_deterministic_and_distinct():
    a = make_client_order_id("run-abc", 3, "SPY")
    assert a == make_client_order_id("run-abc", 3, "SPY")
    assert len({a, make_client_order_id("run-abc", 4, "SPY"), make_client_order_id("run-abd", 3, "SPY"),
                make_client_order_id("run-abc", 3, "QQQ")}) == 4
    assert a.startswith("tc-3-SPY-") and len(a) <= 40
