"""`tcols paper status`: a session's positions, P&L today, drawdown, last cycle, halts and recent events, read from
the journal."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl

from trader_cols.errors import WarehouseError
from trader_cols.paper.journal import Journal, read_catalog
from trader_cols.warehouse import Warehouse


def pick_session(wh: Warehouse, paper_id: str | None = None) -> dict[str, Any]:
    """The session `paper_id`, else the one with the latest heartbeat (live sessions first)."""
    if paper_id:
        row = Journal(wh, paper_id).session()
        if row is None:
            raise WarehouseError(f"no paper session {paper_id!r} (see `tcols paper status --list`)")
        return row
    df = read_catalog(wh, "SELECT * FROM paper_sessions ORDER BY (mode = 'live') DESC, updated_at DESC, paper_id "
                          "LIMIT 1")
    if not df.height:
        raise WarehouseError("no paper session in this warehouse yet (run `tcols paper`)")
    return df.row(0, named=True)


def list_sessions(wh: Warehouse) -> pl.DataFrame:
    """Every session, newest heartbeat first."""
    return read_catalog(wh, "SELECT paper_id, mode, broker, status, symbols, interval, params_run_id, updated_at "
                            "FROM paper_sessions ORDER BY updated_at DESC, paper_id")


@dataclass
class Status:
    """What `paper status` shows."""

    session: dict[str, Any]
    last_cycle: dict[str, Any] | None
    positions: pl.DataFrame
    equity: float | None
    pnl_today: float | None
    drawdown: float | None
    risk: dict[str, Any] = field(default_factory=dict)
    events: pl.DataFrame = field(default_factory=pl.DataFrame)

    def lines(self) -> list[str]:
        """The headline as text lines."""
        s = self.session
        out = [f"session {s['paper_id']}: {s['mode']} on {s['broker']}, {s['status']}, {', '.join(s['symbols'])} "
               f"({s['interval']}), parameters of run {s['params_run_id'] or '(latest walkforward)'}",
               f"heartbeat {_t(s['updated_at'])}" + (f"; {s['message']}" if s.get("message") else "")]
        c = self.last_cycle
        if c is None:
            out.append("no cycle yet")
            return out
        out.append(f"last cycle {c['cycle']}: bar {_t(c['decision_ts'])}, {c['status']}, {c['n_orders']} order(s)"
                   + (f", forced {c['forced']}" if c["forced"] else "") + f", decided at {_t(c['clock_ts'])}")
        if self.equity is not None:
            out.append(f"equity {self.equity:,.2f}, P&L today {self.pnl_today:+,.2f}, drawdown {self.drawdown:.2%}")
        r = self.risk
        halts = []
        if r.get("halted"):
            until = "for good" if r.get("halt_until", -1) < 0 else f"until bar {r['halt_until']}"
            halts.append(f"HALTED by max drawdown {until}")
        if r.get("daily_locked") or r.get("daily_pending"):
            halts.append("daily loss cut: flat for the rest of the session")
        if r.get("stopped"):
            halts.append("stopped out, waiting for the target to reset: " + ", ".join(sorted(r["stopped"])))
        out.append("halts: " + ("; ".join(halts) if halts else "none"))
        return out


def read_status(wh: Warehouse, paper_id: str | None = None, *, events: int = 8) -> Status:
    """The status of one session (default: the most recently active)."""
    s = pick_session(wh, paper_id)
    j = Journal(wh, s["paper_id"])
    last = j.last_cycle()
    if last is None:
        return Status(s, None, pl.DataFrame(), None, None, None)
    risk = json.loads(last["risk_state_json"])
    cash = j.read("SELECT cycle, ts, cash, equity FROM paper_cash WHERE paper_id = $p ORDER BY cycle DESC LIMIT 1")
    equity = pnl = dd = None
    positions = pl.DataFrame(schema={"symbol": pl.String, "qty": pl.Float64, "mark": pl.Float64, "value": pl.Float64})
    if cash.height:
        snap = cash.row(0, named=True)
        equity = snap["equity"]
        before = j.read("SELECT equity FROM paper_cash WHERE paper_id = $p AND ts < date_trunc('day', $t) "
                        "ORDER BY ts DESC LIMIT 1", {"t": snap["ts"]})
        start = before["equity"].item() if before.height else risk.get("initial_equity", equity)
        pnl = equity - start
        dd = max(0.0, 1.0 - equity / risk["peak"]) if risk.get("peak") else 0.0
        held = j.read("SELECT symbol, qty, mark FROM paper_positions WHERE paper_id = $p AND cycle = $k ORDER BY "
                      "symbol", {"k": snap["cycle"]})
        later = j.read("SELECT symbol, sum(CASE WHEN side = 'buy' THEN qty ELSE -qty END) AS d FROM paper_fills "
                       "WHERE paper_id = $p AND cycle >= $k GROUP BY symbol ORDER BY symbol", {"k": snap["cycle"]})
        positions = (
            held.join(later, on="symbol", how="full", coalesce=True)
            .with_columns((pl.col("qty").fill_null(0.0) + pl.col("d").fill_null(0.0)).alias("qty"))
            .filter(pl.col("qty").abs() > 0).with_columns((pl.col("qty") * pl.col("mark")).alias("value"))
            .select("symbol", "qty", "mark", "value").sort("symbol")
        )
    ev = j.read("SELECT event_at, cycle, kind, message FROM paper_events WHERE paper_id = $p ORDER BY event_at DESC "
                "LIMIT $n", {"n": events})
    return Status(s, last, positions, equity, pnl, dd, risk, ev)


def _t(value: datetime | None) -> str:
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")
