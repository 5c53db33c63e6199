"""The live loop on a manual clock: it wakes every day, ingests the new bars from the configured source, decides
once every bar of a time is complete, the simulated broker fills at the next bar's open, missed bars are caught up."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import polars as pl
import pytest

from trader_cols.errors import BrokerError
from trader_cols.paper import ManualClock, PaperRequest, run_paper, session_id
from trader_cols.paper.journal import Journal
from trader_cols.paper.orders import plan_execution
from trader_cols.paper.simbroker import JournalledSimBroker
from trader_cols.paper.status import read_status
from trader_cols.sim import sim_params

from .conftest import SYMBOLS, backtest, paper_config

pytestmark = pytest.mark.timeout(120)


def test_daily_wakes_ingest_decide_fill_and_catch_up(wh):
    # Arrange: parameters from a backtest of January to April; the loop starts on Wednesday 2020-05-06 (the
    # synthetic source, seed 11 as stored, answers every ingest; bars later than the clock are never read)
    cfg = paper_config(engine={"seed": 11})
    run_id = backtest(wh, cfg, date(2020, 1, 1), date(2020, 4, 30)).run_id
    clock = ManualClock(datetime(2020, 5, 6, 0, 30, tzinfo=UTC))
    req = PaperRequest(symbols=SYMBOLS, broker="sim", every="1d", max_cycles=3, params_run=run_id)
    ingests = "SELECT count(*) AS n FROM ingest_log"
    before = wh.query(ingests)["n"].item()

    # Act: three daily wakes
    out = run_paper(wh, req, cfg, clock=clock)

    # Assert
    j = Journal(wh, out.paper_id)
    cycles = j.read("SELECT cycle, decision_ts, clock_ts, status FROM paper_cycles WHERE paper_id = $p ORDER BY cycle")
    assert out.status == "stopped" and cycles["cycle"].to_list() == [0, 1, 2]
    assert [t.date() for t in cycles["decision_ts"]] == [date(2020, 5, 5), date(2020, 5, 6), date(2020, 5, 7)]
    assert [(t.hour, t.minute) for t in cycles["clock_ts"]] == [(0, 30), (0, 1), (0, 1)]  # then woke at 00:01 UTC
    assert (cycles["status"] == "done").all()
    assert wh.query(ingests)["n"].item() == before + 3 * len(SYMBOLS)  # each wake brought the bars up to date
    orders = j.read("SELECT client_order_id, cycle FROM paper_orders WHERE paper_id = $p AND order_type = 'market' "
                    "ORDER BY cycle, seq")
    fills = j.read("SELECT client_order_id, cycle, ts FROM paper_fills WHERE paper_id = $p ORDER BY ts")
    assert orders.height >= 2 and fills.height >= 1
    # a cycle's orders fill at the open of the next bar, which the next cycle feeds the simulated broker
    decided = dict(zip(cycles["cycle"], cycles["decision_ts"], strict=True))
    for f in fills.iter_rows(named=True):
        assert f["ts"] > decided[f["cycle"]]
    assert set(orders.filter(pl.col("cycle") < 2)["client_order_id"]) <= set(fills["client_order_id"])

    # Act 2: the loop was down four days; one run catches up bar by bar and trades only the latest
    clock.at = datetime(2020, 5, 12, 0, 30, tzinfo=UTC)
    again = run_paper(wh, PaperRequest(symbols=SYMBOLS, broker="sim", once=True, params_run=run_id), cfg, clock=clock)
    cycles = j.read("SELECT cycle, decision_ts, note FROM paper_cycles WHERE paper_id = $p AND cycle > 2 ORDER BY cycle")
    assert again.cycles == 4 and [t.day for t in cycles["decision_ts"]] == [8, 9, 10, 11]
    assert cycles["note"].to_list()[:3] == ["no execution follows this bar"] * 3 and cycles["note"][3] is None
    st = read_status(wh, out.paper_id)
    assert st.last_cycle["cycle"] == 6 and st.equity is not None and st.positions.height >= 1


def test_a_gap_through_the_stop_exits_and_blocks_re_entry_until_the_target_resets():
    params = sim_params(paper_config(risk={"stop_loss_pct": 0.1}).risk, paper_config().engine)
    common = dict(symbols=["AAA"], qty={"AAA": 100.0}, avg_cost={"AAA": 10.0}, last_close={"AAA": 9.5},
                  params=params)
    plan = plan_execution(cash=1_000.0, targets={"AAA": 0.2}, ref={"AAA": 8.9}, **common)
    assert [(o.kind, o.reason, o.qty, o.ref_price) for o in plan.orders] == [("stop", "stop_loss", -100.0, 8.9)]
    assert plan.stopped == {"AAA": 1}
    flat = dict(common, qty={}, avg_cost={})
    again = plan_execution(cash=1_885.0, targets={"AAA": 0.2}, ref={"AAA": 9.0}, stopped=plan.stopped, **flat)
    assert again.orders == [] and again.stopped == {"AAA": 1}  # same side: stays out
    reset = plan_execution(cash=1_885.0, targets={"AAA": 0.0}, ref={"AAA": 9.0}, stopped=again.stopped, **flat)
    assert reset.stopped == {}
    back = plan_execution(cash=1_885.0, targets={"AAA": 0.2}, ref={"AAA": 9.0}, stopped=reset.stopped, **flat)
    assert [o.reason for o in back.orders] == ["rebalance"] and back.orders[0].qty > 0
    # above the stop and within the 25 % cap: a held position is left alone
    calm = plan_execution(cash=10_000.0, targets={"AAA": float("nan")}, ref={"AAA": 9.2}, **common)
    assert calm.orders == [] and calm.stopped == {}
    # equity gone: liquidation
    gone = plan_execution(cash=-2_000.0, targets={"AAA": 0.2}, ref={"AAA": 9.2}, **common)
    assert [o.reason for o in gone.orders] == ["liquidation"] and gone.forced == 8


def test_a_decision_left_unsent_by_a_crash_is_abandoned_once_stale(wh):
    cfg = paper_config(engine={"seed": 11})
    run_id = backtest(wh, cfg, date(2020, 1, 1), date(2020, 4, 30)).run_id
    req = PaperRequest(symbols=SYMBOLS, broker="sim", once=True, refresh_data=False, params_run=run_id)
    clock = ManualClock(datetime(2020, 5, 6, 0, 30, tzinfo=UTC))
    j = Journal(wh, session_id(req, None), now=clock.now)

    class LinkLost(JournalledSimBroker):
        def place(self, order):
            raise BrokerError("connection lost while sending", broker="sim")

    with pytest.raises(BrokerError):
        run_paper(wh, req, cfg, clock=clock, broker=LinkLost(j, sim_params(cfg.risk, cfg.engine)))
    planned = j.last_cycle()
    assert planned["status"] == "planned" and planned["n_orders"] >= 1 and j.acked(0) == set()

    clock.at = datetime(2020, 5, 8, 0, 30, tzinfo=UTC)  # back two days later: the decision of 05-05 is stale
    run_paper(wh, req, cfg, clock=clock)
    acks = j.read("SELECT status, reason FROM paper_acks WHERE paper_id = $p AND cycle = 0 ORDER BY ALL")
    assert acks.height == planned["n_orders"] and (acks["status"] == "cancelled").all()
    assert acks["reason"][0].startswith("not sent: the decision went stale")
    assert j.read("SELECT count(*) AS n FROM paper_fills WHERE paper_id = $p AND cycle = 0")["n"].item() == 0
    reconciled = j.read("SELECT detail_json FROM paper_events WHERE paper_id = $p AND kind = 'reconciled'")
    assert len(json.loads(reconciled["detail_json"].item())["abandoned"]) == planned["n_orders"]
    assert j.last_cycle()["cycle"] == 2 and j.last_cycle()["decision_ts"].day == 7
