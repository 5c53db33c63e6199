"""Replaying a period through the paper loop and the simulated broker reproduces `tcols backtest` over it: every fill
(time, symbol, side, quantity, price, fees, reason), the positions and the cash and equity at every bar."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from trader_cols.paper import PaperRequest, run_paper
from trader_cols.paper.journal import Journal
from trader_cols.pipeline.ingest import IngestRequest, ingest

from .conftest import BASE, HISTORY, SYMBOLS, backtest, paper_config

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

    # every order was decided once and sent once (no client order id repeats); a market order filled once; a
    # protective stop filled once or was cancelled by the next cycle, and only the last cycle's may still work
    orders = j.read("SELECT o.client_order_id, o.order_type, o.cycle, count(f.exec_id) AS fills, "
                    "bool_or(a.status = 'cancelled') AS cancelled FROM paper_orders o "
                    "LEFT JOIN paper_fills f USING (client_order_id) LEFT JOIN paper_acks a USING (client_order_id) "
                    "WHERE o.paper_id = $p GROUP BY ALL ORDER BY o.client_order_id")
    assert orders.height == orders["client_order_id"].n_unique() and orders["fills"].sum() == fills.height
    market, stops = orders.filter(pl.col("order_type") == "market"), orders.filter(pl.col("order_type") == "stop")
    assert market.height + stops.height == orders.height and (market["fills"] == 1).all()
    last = orders["cycle"].max()
    assert stops.filter((pl.col("fills") == 0) & ~pl.col("cancelled") & (pl.col("cycle") < last)).height == 0
    assert (stops["fills"] <= 1).all() and stops.filter((pl.col("fills") == 1) & pl.col("cancelled")).height == 0
    state = j.broker_state()
    assert len(state["orders"]) == orders.height and len(state["fills"]) == fills.height
    return expected


def test_replay_reproduces_the_backtest(wh):
    """The default config: position cap, leverage 1, stop loss, daily loss cut and drawdown limits set."""
    assert paper_config().risk.stop_loss_pct == 0.10
    replay_matches_backtest(wh, paper_config(), date(2020, 1, 1), date(2020, 1, 31))


def test_replay_reproduces_intrabar_and_gap_stops(wh):
    """A tight stop loss: positions are stopped out inside bars (at the stop level) and the stopped side is not
    re-entered until the target resets; protective stop orders at the simulated broker carry those exits."""
    cfg = paper_config(risk={"stop_loss_pct": 0.015})
    fills = replay_matches_backtest(wh, cfg, date(2020, 1, 1), date(2020, 3, 31))
    stops = fills.filter(pl.col("reason") == "stop_loss")
    bars = wh.query("SELECT symbol, ts, open FROM bars WHERE interval = '1d'")
    at = stops.join(bars, on=["symbol", "ts"], how="left")
    slip = cfg.engine.slippage_bps * 1e-4
    at_open = ((at["price"] - at["open"] * (1 - slip)).abs() < 1e-9 * at["open"]) | (
        (at["price"] - at["open"] * (1 + slip)).abs() < 1e-9 * at["open"])
    assert stops.height >= 3 and (~at_open).sum() >= 1, stops  # some inside a bar, at the stop level
    journal = wh.query("SELECT order_type, stop_price, reason FROM paper_orders WHERE order_type = 'stop'")
    assert journal.height > stops.height and (journal["reason"] == "stop_loss").all()
    assert (journal["stop_price"] > 0).all()


def test_replay_reproduces_forced_exits_caps_and_whole_shares(wh, webhook):
    """Tight limits so that the kernel's risk rules act: a daily loss cut, a drawdown halt with a cool-off, the gross
    cap scaling weights, a position trimmed to its cap; whole shares and a minimum commission. The halts and the
    fills are alerted."""
    cfg = paper_config(risk={"daily_loss_cut_pct": 0.004, "max_drawdown_pct": 0.008, "cooloff_bars": 3,
                             "max_gross_leverage": 0.3},
                       engine={"fractional_shares": False, "commission_min": 1.0})
    fills = replay_matches_backtest(wh, cfg, date(2020, 1, 1), date(2020, 2, 21), alerter=webhook.alerter())
    reasons = set(fills["reason"].to_list())
    assert {"daily_loss", "max_drawdown", "gross_cap", "position_cap"} <= reasons, reasons
    assert (fills["qty"] == fills["qty"].round(0)).all()
    titles = webhook.titles()
    assert "HALT: daily_loss" in titles and "HALT: max_drawdown" in titles and "Paper fills" in titles
    decisions = wh.query("SELECT rule, action FROM paper_risk_decisions WHERE scope = 'book' ORDER BY ALL")
    assert {("max_drawdown", "halt"), ("max_drawdown", "resume"), ("daily_loss", "flatten")} <= set(decisions.rows())


def test_replay_reproduces_a_stop_at_a_gapped_open(wh, tmp_path):
    """A bar that opens through a long position's stop: backtest and replay both exit at that open (the kernel's gap
    stop, which the loop plans as a market order sized at the open)."""
    # Arrange: AAA's history rewritten so that a bar it is held long into opens 8 % below the previous close
    cfg = paper_config(risk={"stop_loss_pct": 0.015})
    start, end = date(2020, 1, 1), date(2020, 3, 31)
    held = backtest(wh, cfg, start, end).oos.sim.positions.filter(pl.col("symbol") == "AAA").sort("ts")
    into = held.with_columns(pl.col("qty").shift(1).alias("before")).filter(pl.col("before") > 0)
    gap_ts = into["ts"][into.height // 2]
    bars = wh.query("SELECT ts, open, high, low, close, volume FROM bars WHERE interval = '1d' AND symbol = 'AAA' "
                    "ORDER BY ts")
    prev_close = bars.filter(pl.col("ts") < gap_ts)["close"][-1]
    gap_open = prev_close * 0.92
    bars = bars.with_columns(
        pl.when(pl.col("ts") == gap_ts).then(gap_open).otherwise(pl.col("open")).alias("open"),
        pl.when(pl.col("ts") == gap_ts).then(pl.min_horizontal("low", pl.lit(gap_open))).otherwise(pl.col("low"))
        .alias("low"),
    )
    path = tmp_path / "AAA.parquet"
    bars.write_parquet(path)
    ingest(wh, IngestRequest(symbols=("AAA",), start=HISTORY[0], end=HISTORY[1], source="parquet", path=str(path)),
           sanity_cfg=BASE.data_sanity, data_cfg=BASE.data).raise_for_failures()

    # Act / Assert: parity, and the exit at the gapped open is among the fills
    fills = replay_matches_backtest(wh, cfg, start, end)
    slip = cfg.engine.slippage_bps * 1e-4
    gap_exit = fills.filter((pl.col("symbol") == "AAA") & (pl.col("ts") == gap_ts) & (pl.col("reason") == "stop_loss"))
    assert gap_exit.height == 1 and gap_exit["price"][0] == pytest.approx(gap_open * (1 - slip), rel=1e-12)
