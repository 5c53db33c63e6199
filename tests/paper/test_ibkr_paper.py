"""A live paper cycle through IBKR, end to end against the loopback fake gateway: orders reach it, fills are
journalled and alerted; a gateway restart mid-cycle is survived, journalled and alerted; a gateway that stays down
fails the cycle with an error event and alert."""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta

import polars as pl
import pytest

from trader_cols.brokers.ibkr import IbkrBroker
from trader_cols.config import IBKRConfig
from trader_cols.errors import BrokerError
from trader_cols.paper import ManualClock, PaperRequest, run_paper
from trader_cols.paper.journal import Journal
from trader_cols.pipeline.ingest import IngestRequest, ingest
from trader_cols.warehouse import Warehouse

from .conftest import BASE, TOKEN_SUFFIX, backtest, fake_gateway_module, paper_config

pytestmark = pytest.mark.timeout(120)
ETFS = ("QQQ", "SPY")  # contracts the fake gateway knows
FakeGateway = fake_gateway_module().FakeGateway


@pytest.fixture(autouse=True)
def no_decoder_errors():
    """ib_async logs (and swallows) what it cannot decode: any such ERROR fails the test."""
    with fake_gateway_module().decoder_error_guard():
        yield


class RestartAfterFirstOrder:
    """The IBKR broker, with the gateway restarted right after the first order it accepts (a daily restart or a
    network flap in the middle of a cycle)."""

    def __init__(self, inner: IbkrBroker, gateway, downtime_s: float):
        self.inner, self.gateway, self.downtime_s, self.restarted = inner, gateway, downtime_s, False

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def place(self, order):
        ack = self.inner.place(order)
        if not self.restarted:
            self.restarted = True
            self.gateway.restart(downtime_s=self.downtime_s)
        return ack


class DownAtSnapshot(RestartAfterFirstOrder):
    """The gateway goes away for good when the cycle reads the positions."""

    def positions(self):
        if not self.restarted:
            self.restarted = True
            self.gateway.restart(downtime_s=60.0)
        return self.inner.positions()


@pytest.fixture(scope="module")
def etf_history(tmp_path_factory):
    root = tmp_path_factory.mktemp("ibkr") / "wh"
    wh = Warehouse(root)
    ingest(wh, IngestRequest(symbols=ETFS, start=date(2019, 1, 1), end=date(2020, 6, 30), seed=4),
           sanity_cfg=BASE.data_sanity, data_cfg=BASE.data).raise_for_failures()
    return root


def test_a_live_cycle_through_the_fake_gateway_survives_a_restart(etf_history, tmp_path, webhook):
    # Arrange: parameters from a backtest; a decision bar where both ETFs want a long position (no shorts); prices at its close
    shutil.copytree(etf_history, tmp_path / "wh")
    wh = Warehouse(tmp_path / "wh")
    cfg = paper_config(engine={"fractional_shares": False})
    res = backtest(wh, cfg, date(2020, 1, 1), date(2020, 6, 30), symbols=ETFS)
    wanted = (res.oos.decisions.filter(pl.col("target_weight") > 0.01).group_by("ts").len()
              .filter(pl.col("len") == 2).sort("ts"))
    day = wanted["ts"][len(wanted) // 2]
    closes = dict(wh.read_bars(list(ETFS), "1d", day, day).select("symbol", "close").iter_rows())
    gw = FakeGateway(prices={s: round(p, 2) for s, p in closes.items()}).start()
    try:
        inner = IbkrBroker(IBKRConfig(port=gw.port, timeout_s=2.0), allowed_ports={gw.port}, backoff_s=0.05,
                           max_backoff_s=0.2, max_reconnect_attempts=20, commission_wait_s=1.0)
        broker = RestartAfterFirstOrder(inner, gw, downtime_s=0.3)
        clock = ManualClock(day + timedelta(hours=22))  # after the ETFs' close at 16:00 New York
        req = PaperRequest(symbols=ETFS, broker="ibkr", once=True, refresh_data=False, params_run=res.run_id,
                           fill_wait_s=5.0)

        # Act
        out = run_paper(wh, req, cfg, clock=clock, broker=broker, alerter=webhook.alerter())

        # Assert: the orders reached the gateway under their client order ids, and their fills are journalled; each
        # new position got a protective stop (STP) at stop_loss_pct below its planned entry, working at the gateway
        j = Journal(wh, out.paper_id)
        every = j.read("SELECT client_order_id, symbol, side, qty, order_type, stop_price, ref_price FROM paper_orders "
                       "WHERE paper_id = $p ORDER BY seq")
        orders = every.filter(pl.col("order_type") == "market")
        stops = every.filter(pl.col("order_type") == "stop")
        assert out.status == "stopped" and orders.height == 2 and stops.height == 2 and broker.restarted
        at_gateway = {o["ref"]: o for o in gw.orders()}
        assert set(at_gateway) == set(every["client_order_id"]) and len(gw.placed) == 4  # nothing sent twice
        assert all(at_gateway[c]["status"] == "Filled" for c in orders["client_order_id"])
        for stop in stops.iter_rows(named=True):
            sent = at_gateway[stop["client_order_id"]]
            assert (sent["type"], sent["status"], sent["action"], sent["aux"]) == ("STP", "Submitted", "SELL",
                                                                                  stop["stop_price"])
            entry = orders.filter(pl.col("symbol") == stop["symbol"]).row(0, named=True)
            assert stop["qty"] == entry["qty"] and stop["stop_price"] == pytest.approx(
                entry["ref_price"] * (1 + cfg.engine.slippage_bps * 1e-4) * (1 - cfg.risk.stop_loss_pct), rel=1e-12)
        fills = j.read("SELECT client_order_id, symbol, qty, price, commission FROM paper_fills WHERE paper_id = $p "
                       "ORDER BY symbol")
        assert fills.height == 2 and set(fills["client_order_id"]) == set(orders["client_order_id"])
        assert fills["price"].to_list() == [round(closes[s], 2) for s in fills["symbol"]]
        assert (fills["commission"] >= 1.0).all()  # the gateway's commission reports arrived
        signed = dict(zip(orders["symbol"], [q if s == "buy" else -q for s, q in zip(orders["side"], orders["qty"],
                                                                                      strict=True)], strict=True))
        assert gw.positions() == signed
        # the restart: journalled, alerted, and the cycle finished
        kinds = j.read("SELECT kind FROM paper_events WHERE paper_id = $p ORDER BY event_at")["kind"].to_list()
        assert "disconnected" in kinds and "reconnected" in kinds
        assert j.last_cycle()["status"] == "done"
        titles = webhook.titles()
        assert "Paper fills" in titles and "Broker connection" in titles

        # Act 2: the next day the gateway goes down in the middle of the cycle and stays down
        inner.max_reconnect_attempts = 2
        clock.at += timedelta(days=1)
        with pytest.raises(BrokerError, match="reconnect attempts"):
            run_paper(wh, req, cfg, clock=clock, broker=DownAtSnapshot(inner, gw, 0), alerter=webhook.alerter())
        events = j.read("SELECT kind, message FROM paper_events WHERE paper_id = $p ORDER BY event_at")
        assert {"reconnect_failed", "error"} <= set(events["kind"].to_list())
        assert "Error" in webhook.titles()
        assert j.session()["status"] == "failed"
        # the webhook's secret never reaches the journal
        dump = json.dumps([j.read(f"SELECT * FROM {t}").rows() for t in ("paper_events", "paper_sessions")],
                          default=str)
        assert TOKEN_SUFFIX not in dump
    finally:
        gw.stop()
