"""Replaying a period through the paper loop and the simulated broker reproduces `tcols backtest` over it: every fill
(time, symbol, side, quantity, price, fees, reason), the positions and the cash and equity at every bar."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from trader_cols.paper import PaperRequest, run_paper
from trader_cols.paper.journal import Journal

from .conftest import SYMBOLS, backtest, paper_config

pytestmark = pytest.mark.timeout(120)
TOL = 1e-9


def replay_matches_backtest(wh, cfg, start: date, end: date, **loop) -> pl.DataFrame:
    """Backtest, replay with the backtest's parameters, assert parity; returns the backtest's fills."""
    # Arrange: the backtest run whose chosen parameters the replay trades
    res = backtest(wh, cfg, start, end)
    sim = res.oos.sim

    # Act
    out = run_paper(wh, PaperRequest(symbols=SYMBOLS, replay=(start, end), params_run=res.run_id), cfg, **loop)

    # Assert
    assert out.status == "finished" and out.cycles == sim.equity.height
    j = Journal(wh, out.paper_id)
    fills = j.read(
        "SELECT f.ts, f.symbol, f.side, f.qty, f.price, f.commission AS fees, o.reason FROM paper_fills f "
        "JOIN paper_orders o USING (client_order_id) WHERE f.paper_id = $p "
        "ORDER BY f.ts, CAST(substr(f.exec_id, 6) AS INTEGER)"  # sim-x<n>: the broker's execution order
    )
    expected = sim.fills.select("ts", "symbol", "side", "qty", "price", "fees", "reason")
    assert fills.height == expected.height > 10
    assert_frame_equal(fills, expected, check_exact=False, rel_tol=TOL, abs_tol=TOL)

    cash = j.read("SELECT ts, equity, cash FROM paper_cash WHERE paper_id = $p ORDER BY ts")
    assert_frame_equal(cash, sim.equity.select("ts", "equity", "cash"), check_exact=False, rel_tol=TOL, abs_tol=TOL)

    held = j.read("SELECT symbol, ts, qty FROM paper_positions WHERE paper_id = $p ORDER BY symbol, ts")
    kernel = sim.positions.filter(pl.col("qty") != 0).select("symbol", "ts", "qty").sort("symbol", "ts")
    assert_frame_equal(held, kernel, check_exact=False, rel_tol=TOL, abs_tol=TOL)

    # every order was decided once, sent once and filled once; no client order id repeats
    orders = j.read("SELECT client_order_id FROM paper_orders WHERE paper_id = $p ORDER BY client_order_id")
    assert orders.height == fills.height == orders["client_order_id"].n_unique()
    state = j.broker_state()
    assert len(state["orders"]) == orders.height and len(state["fills"]) == fills.height
    return expected


def test_replay_reproduces_the_backtest(wh):
    """The default config (stop losses off): position cap, leverage 1, daily loss cut and drawdown limits set."""
    replay_matches_backtest(wh, paper_config(), date(2020, 1, 1), date(2020, 1, 31))


def test_replay_reproduces_forced_exits_caps_and_whole_shares(wh, webhook):
    """Tight limits so that the kernel's risk rules act: a daily loss cut, a drawdown halt with a cool-off, the gross
    cap scaling weights, a position trimmed to its cap; whole shares and a minimum commission. The halts and the
    fills are alerted."""
    cfg = paper_config(risk={"daily_loss_cut_pct": 0.004, "max_drawdown_pct": 0.01, "cooloff_bars": 3,
                             "max_gross_leverage": 0.3},
                       engine={"fractional_shares": False, "commission_min": 1.0})
    fills = replay_matches_backtest(wh, cfg, date(2020, 1, 1), date(2020, 2, 14), alerter=webhook.alerter())
    reasons = set(fills["reason"].to_list())
    assert {"daily_loss", "max_drawdown", "gross_cap", "position_cap"} <= reasons, reasons
    assert (fills["qty"] == fills["qty"].round(0)).all()
    titles = webhook.titles()
    assert "HALT: daily_loss" in titles and "HALT: max_drawdown" in titles and "Paper fills" in titles
    decisions = wh.query("SELECT rule, action FROM paper_risk_decisions WHERE scope = 'book' ORDER BY ALL")
    assert {("max_drawdown", "halt"), ("max_drawdown", "resume"), ("daily_loss", "flatten")} <= set(decisions.rows())
