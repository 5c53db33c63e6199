"""Protective stops at a broker that reports a stop's fill a cycle late: the stopped side is still applied."""

from __future__ import annotations

import json
from datetime import date

import pytest

from trader_cols.paper import PaperRequest, run_paper, session_id
from trader_cols.paper.journal import Journal
from trader_cols.paper.simbroker import JournalledSimBroker
from trader_cols.sim import sim_params

from .conftest import SYMBOLS, backtest, paper_config

pytestmark = pytest.mark.timeout(120)


class StopFillsAsCancelled(JournalledSimBroker):
    """A broker where the first protective stop the loop cancels has just filled (at its stop): the loop learns of
    that fill only at the next cycle, two cycles after the one that placed the stop."""

    raced: str | None = None

    def cancel(self, client_order_id):
        tracked = self.inner._orders[client_order_id]
        if self.raced is None and tracked.order.order_type == "stop" and tracked.status == "submitted":
            self.raced = client_order_id
            self.inner._book(tracked, tracked.order.stop_price, self.inner.last_ts)
            self.inner._prune()
            self._save()
            return self.inner.order(client_order_id)
        return super().cancel(client_order_id)


def test_a_stop_fill_reported_a_cycle_late_still_marks_the_side_stopped(wh):
    # Arrange
    cfg = paper_config()
    start, end = date(2020, 1, 1), date(2020, 2, 29)
    run_id = backtest(wh, cfg, start, end).run_id
    req = PaperRequest(symbols=SYMBOLS, replay=(start, end), params_run=run_id)
    broker = StopFillsAsCancelled(Journal(wh, session_id(req, run_id)), sim_params(cfg.risk, cfg.engine))

    # Act
    out = run_paper(wh, req, cfg, broker=broker)

    # Assert: the raced stop's fill is journalled with the cycle that placed it, and applied two cycles later
    assert out.status == "finished" and broker.raced is not None
    j = Journal(wh, out.paper_id)
    [(placed, symbol, exec_id)] = j.read(
        "SELECT o.cycle, o.symbol, f.exec_id FROM paper_fills f JOIN paper_orders o USING (client_order_id) "
        "WHERE f.paper_id = $p AND o.client_order_id = $c", {"c": broker.raced}).rows()
    applied = j.read("SELECT cycle FROM paper_risk_decisions WHERE paper_id = $p AND rule = 'stop_loss' "
                     "AND action = 'flatten' AND symbol = $s AND cycle > $k ORDER BY cycle", {"s": symbol, "k": placed})
    assert applied["cycle"].to_list()[:1] == [placed + 2]
    state = json.loads(j.read("SELECT risk_state_json FROM paper_cycles WHERE paper_id = $p AND cycle = $k",
                              {"k": placed + 2})["risk_state_json"].item())
    assert exec_id in state["stop_execs"]
    later = json.loads(j.read("SELECT risk_state_json FROM paper_cycles WHERE paper_id = $p AND cycle = $k",
                              {"k": placed + 2 + 3})["risk_state_json"].item())
    assert exec_id not in later["stop_execs"]  # the applied list stays bounded to recent cycles
