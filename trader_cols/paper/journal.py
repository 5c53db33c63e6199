"""The paper journal in the warehouse catalog: sessions, cycles, targets, orders, acks, fills, snapshots, risk
decisions, events and the simulated broker's state — every step one transaction (sql/schema/015…025)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import polars as pl

from trader_cols.brokers.base import Ack, Fill, Order, Position
from trader_cols.errors import ConfigError, WarehouseError
from trader_cols.paper.orders import Decision
from trader_cols.schema import UTC_TS
from trader_cols.warehouse import Warehouse


def read_catalog(wh: Warehouse, sql: str, params: Mapping[str, Any] | None = None) -> pl.DataFrame:
    """Run read-only SQL on the catalog without the result views (cheap); only the `$name` params it uses."""
    with wh.connect(views=False) as con:
        return _query(con, sql, params)


def _query(con: Any, sql: str, params: Mapping[str, Any] | None) -> pl.DataFrame:
    args = {k: v for k, v in (params or {}).items() if f"${k}" in sql}
    try:
        rel = con.sql(sql, params=args or None)
    except Exception as exc:  # duckdb's errors are the warehouse's business: report them typed
        raise WarehouseError(f"query failed: {str(exc).splitlines()[0]}") from exc
    return rel.pl() if rel is not None else pl.DataFrame()


@dataclass(frozen=True)
class SessionSpec:
    """What a paper session is: its id and what it trades where."""

    paper_id: str
    mode: str  # live | replay
    broker: str
    symbols: tuple[str, ...]
    interval: str
    config_hash: str
    params_run_id: str | None = None
    replay_start: datetime | None = None
    replay_end: datetime | None = None


@dataclass(frozen=True)
class Snapshot:
    """The book at a decision bar's close: positions marked at that close, cash and equity."""

    ts: datetime
    positions: tuple[Position, ...]
    marks: Mapping[str, float]
    cash: float
    equity: float
    gross: float
    broker_equity: float | None = None


def _ts(value: datetime | None) -> pl.Series:
    return pl.Series([value], dtype=UTC_TS)


def _num(value: float | None) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


class Journal:
    """One session's journal. Every `record_*`/`commit_*` call is one transaction under the writer lock; reads use
    short read-only connections, so `tcols paper status` can read while the loop runs."""

    def __init__(self, wh: Warehouse, paper_id: str, *, now: Callable[[], datetime] | None = None):
        self.wh = wh
        self.paper_id = paper_id
        self._now = now or (lambda: datetime.now(UTC))
        self._con: Any = None

    # ------------------------------------------------------------------ plumbing

    @contextmanager
    def held(self) -> Iterator[Journal]:
        """Keep one write connection (and the writer lock) for a stretch of work: every step is still its own
        transaction, but no connection is opened per step. Other processes cannot open the catalog meanwhile,
        nor can this one through the warehouse: read through `read` while held."""
        if self._con is not None:
            yield self
            return
        with self.wh.writer(), self.wh.connect(write=True, views=False) as con:
            self._con = con
            try:
                yield self
            finally:
                self._con = None

    def _write(self, work: Callable[[Any], None]) -> None:
        with self.held():
            con = self._con
            con.execute("BEGIN TRANSACTION")
            try:
                work(con)
                con.execute("COMMIT")
            except Exception:
                con.execute("ROLLBACK")
                raise

    def read(self, sql: str, params: Mapping[str, Any] | None = None) -> pl.DataFrame:
        """Run a read-only query (the session's id is `$p`)."""
        args = {"p": self.paper_id, **(params or {})}
        if self._con is None:
            return read_catalog(self.wh, sql, args)
        return _query(self._con, sql, args)

    def _stamp(self) -> datetime:
        return self._now()

    # ------------------------------------------------------------------ session

    def session(self) -> dict[str, Any] | None:
        """The session row, or None if it does not exist."""
        df = self.read("SELECT * FROM paper_sessions WHERE paper_id = $p")
        return df.row(0, named=True) if df.height else None

    def open_session(self, spec: SessionSpec) -> tuple[dict[str, Any], bool]:
        """Create the session row if needed; returns (row, created). Status becomes running."""
        existing = self.session()
        now = self._stamp()
        if existing is not None:
            theirs = (existing["mode"], existing["broker"], tuple(existing["symbols"]), existing["interval"])
            ours = (spec.mode, spec.broker, tuple(spec.symbols), spec.interval)
            if theirs != ours:
                raise ConfigError(f"session {spec.paper_id} trades {theirs[2]} ({theirs[3]}) in {theirs[0]} mode on "
                                  f"{theirs[1]}, not {ours[2]} ({ours[3]}) in {ours[0]} mode on {ours[1]}: "
                                  "use another --name")
        if existing is None:
            row = pl.DataFrame({
                "paper_id": [spec.paper_id], "created_at": _ts(now), "updated_at": _ts(now), "mode": [spec.mode],
                "broker": [spec.broker], "symbols": [list(spec.symbols)], "interval": [spec.interval],
                "params_run_id": [spec.params_run_id], "replay_start": _ts(spec.replay_start),
                "replay_end": _ts(spec.replay_end), "config_hash": [spec.config_hash], "status": ["running"],
                "message": pl.Series([None], dtype=pl.String),
            })
            self._write(lambda con: Warehouse.insert(con, "paper_sessions", row))
        else:
            self.set_status("running", None)
        return self.session() or {}, existing is None

    def set_status(self, status: str, message: str | None) -> None:
        """Session status (running, stopped, finished, no_go, failed) and heartbeat."""
        self._write(lambda con: con.execute(
            "UPDATE paper_sessions SET status = $s, message = $m, updated_at = $t WHERE paper_id = $p",
            {"s": status, "m": message, "t": self._stamp(), "p": self.paper_id}))

    def heartbeat(self) -> None:
        """Mark the loop alive now."""
        self._write(lambda con: con.execute("UPDATE paper_sessions SET updated_at = $t WHERE paper_id = $p",
                                            {"t": self._stamp(), "p": self.paper_id}))

    # ------------------------------------------------------------------ cycles

    def last_cycle(self) -> dict[str, Any] | None:
        """The newest cycle row, or None."""
        df = self.read("SELECT * FROM paper_cycles WHERE paper_id = $p ORDER BY cycle DESC LIMIT 1")
        return df.row(0, named=True) if df.height else None

    def commit_cycle(
        self,
        row: Mapping[str, Any],
        targets: pl.DataFrame,
        decisions: Sequence[Decision],
        orders: Sequence[tuple[Order, float, str]],
    ) -> None:
        """The cycle's decisions in one transaction: its row, targets, risk decisions and orders (before sending).

        `orders` are (order, reference price, reason) in placement order.
        """
        k = int(row["cycle"])
        now = self._stamp()
        cycle = pl.DataFrame({
            "paper_id": [self.paper_id], "cycle": pl.Series([k], dtype=pl.Int32),
            "bar_no": pl.Series([row["bar_no"]], dtype=pl.Int64), "decision_ts": _ts(row["decision_ts"]),
            "exec_ts": _ts(row.get("exec_ts")), "clock_ts": _ts(row["clock_ts"]), "status": [row["status"]],
            "params_run_id": pl.Series([row.get("params_run_id")], dtype=pl.String),
            "data_version": pl.Series([row.get("data_version")], dtype=pl.String),
            "forced": pl.Series([row.get("forced")], dtype=pl.String),
            "exec_equity": pl.Series([_num(row.get("exec_equity"))], dtype=pl.Float64),
            "n_orders": pl.Series([len(orders)], dtype=pl.Int32),
            "risk_state_json": [json.dumps(row["risk_state"], sort_keys=True)],
            "note": pl.Series([row.get("note")], dtype=pl.String), "created_at": _ts(now),
            "finished_at": _ts(now if row["status"] == "done" else None),
        })
        tgt = targets.with_columns(pl.lit(self.paper_id).alias("paper_id"), pl.lit(k, pl.Int32).alias("cycle"))
        dec = self._decisions(k, row["decision_ts"], decisions)
        ords = pl.DataFrame({
            "paper_id": [self.paper_id] * len(orders),
            "cycle": pl.Series([k] * len(orders), dtype=pl.Int32),
            "seq": pl.Series(list(range(len(orders))), dtype=pl.Int32),
            "client_order_id": [o.client_order_id for o, _, _ in orders],
            "symbol": [o.symbol for o, _, _ in orders], "side": [o.side for o, _, _ in orders],
            "qty": pl.Series([float(o.qty) for o, _, _ in orders], dtype=pl.Float64),
            "order_type": [o.order_type for o, _, _ in orders],
            "limit_price": pl.Series([o.limit_price for o, _, _ in orders], dtype=pl.Float64),
            "stop_price": pl.Series([o.stop_price for o, _, _ in orders], dtype=pl.Float64),
            "tif": [o.tif for o, _, _ in orders],
            "ref_price": pl.Series([float(r) for _, r, _ in orders], dtype=pl.Float64),
            "reason": [why for _, _, why in orders],
            "created_at": pl.Series([now] * len(orders), dtype=UTC_TS),
        }, schema_overrides={"client_order_id": pl.String, "symbol": pl.String, "side": pl.String,
                             "order_type": pl.String, "tif": pl.String, "reason": pl.String, "paper_id": pl.String})

        def work(con) -> None:
            for table in ("paper_cycles", "paper_targets", "paper_risk_decisions", "paper_orders"):
                con.execute(f"DELETE FROM {table} WHERE paper_id = $p AND cycle = $k", {"p": self.paper_id, "k": k})
            Warehouse.insert(con, "paper_cycles", cycle)
            Warehouse.insert(con, "paper_targets", tgt)
            Warehouse.insert(con, "paper_risk_decisions", dec)
            Warehouse.insert(con, "paper_orders", ords)
            con.execute("UPDATE paper_sessions SET updated_at = $t WHERE paper_id = $p", {"t": now, "p": self.paper_id})

        self._write(work)

    def finish_cycle(self, cycle: int, status: str, note: str | None = None) -> None:
        """Move a cycle to `sent` or `done`."""
        self._write(lambda con: con.execute(
            "UPDATE paper_cycles SET status = $s, note = coalesce($n, note), finished_at = $t "
            "WHERE paper_id = $p AND cycle = $k",
            {"s": status, "n": note, "t": self._stamp(), "p": self.paper_id, "k": cycle}))

    def orders_of(self, cycle: int) -> list[tuple[Order, float, str]]:
        """The journalled orders of a cycle in placement order: (order, reference price, reason)."""
        df = self.read("SELECT * FROM paper_orders WHERE paper_id = $p AND cycle = $k ORDER BY seq", {"k": cycle})
        return [
            (Order(r["client_order_id"], r["symbol"], r["side"], r["qty"], r["order_type"], r["limit_price"],
                   r["tif"], r["stop_price"]), r["ref_price"], r["reason"])
            for r in df.iter_rows(named=True)
        ]

    def acked(self, cycle: int) -> set[str]:
        """Client order ids of a cycle that have an ack journalled."""
        df = self.read("SELECT DISTINCT client_order_id FROM paper_acks WHERE paper_id = $p AND cycle = $k "
                       "ORDER BY client_order_id", {"k": cycle})
        return set(df["client_order_id"].to_list()) if df.height else set()

    def order_cycles(self) -> dict[str, int]:
        """Client order id → cycle, for every order of the session."""
        df = self.read("SELECT client_order_id, cycle FROM paper_orders WHERE paper_id = $p ORDER BY cycle, seq")
        return dict(zip(df["client_order_id"].to_list(), df["cycle"].to_list(), strict=True)) if df.height else {}

    def stop_fills(self, first_cycle: int, last_cycle: int) -> list[tuple[str, str, str, float]]:
        """(exec id, symbol, side, price) of every fill of the stop orders decided in cycles first..last, in
        execution order."""
        df = self.read("SELECT f.exec_id, f.symbol, f.side, f.price FROM paper_fills f JOIN paper_orders o "
                       "USING (client_order_id) WHERE f.paper_id = $p AND o.cycle BETWEEN $a AND $b "
                       "AND o.order_type = 'stop' ORDER BY f.ts, f.exec_id", {"a": first_cycle, "b": last_cycle})
        return list(df.iter_rows())

    # ------------------------------------------------------------------ broker answers

    def record_ack(self, cycle: int, ack: Ack) -> None:
        """One broker answer about an order."""
        row = pl.DataFrame({
            "paper_id": [self.paper_id], "cycle": pl.Series([cycle], dtype=pl.Int32),
            "client_order_id": [ack.client_order_id], "order_id": [ack.order_id], "status": [ack.status],
            "filled_qty": [float(ack.filled_qty)],
            "avg_fill_price": pl.Series([_num(ack.avg_fill_price)], dtype=pl.Float64),
            "duplicate": [bool(ack.duplicate)], "reason": pl.Series([ack.reason or None], dtype=pl.String),
            "code": pl.Series([ack.code], dtype=pl.Int32), "recorded_at": _ts(self._stamp()),
        })
        self._write(lambda con: Warehouse.insert(con, "paper_acks", row))

    def exec_ids(self) -> set[str]:
        """Exec ids already journalled."""
        df = self.read("SELECT exec_id FROM paper_fills WHERE paper_id = $p ORDER BY exec_id")
        return set(df["exec_id"].to_list()) if df.height else set()

    def record_fills_and_snapshot(
        self, cycle: int, fills: Sequence[tuple[Fill, int]], snapshot: Snapshot | None
    ) -> None:
        """New fills (each with the cycle of its order) and the book at the cycle's decision bar, one transaction.

        A snapshot replaces an earlier one of the same cycle (a restart redoes it)."""
        now = self._stamp()
        frame = pl.DataFrame({
            "paper_id": [self.paper_id] * len(fills), "exec_id": [f.exec_id for f, _ in fills],
            "client_order_id": [f.client_order_id for f, _ in fills],
            "cycle": pl.Series([c for _, c in fills], dtype=pl.Int32), "symbol": [f.symbol for f, _ in fills],
            "side": [f.side for f, _ in fills], "qty": pl.Series([f.qty for f, _ in fills], dtype=pl.Float64),
            "price": pl.Series([f.price for f, _ in fills], dtype=pl.Float64),
            "commission": pl.Series([_num(f.commission) for f, _ in fills], dtype=pl.Float64),
            "ts": pl.Series([f.ts for f, _ in fills], dtype=UTC_TS),
            "recorded_at": pl.Series([now] * len(fills), dtype=UTC_TS),
        }, schema_overrides={"paper_id": pl.String, "exec_id": pl.String, "client_order_id": pl.String,
                             "symbol": pl.String, "side": pl.String})
        pos = cash = None
        if snapshot is not None:
            ps = snapshot.positions
            pos = pl.DataFrame({
                "paper_id": [self.paper_id] * len(ps), "cycle": pl.Series([cycle] * len(ps), dtype=pl.Int32),
                "ts": pl.Series([snapshot.ts] * len(ps), dtype=UTC_TS), "symbol": [p.symbol for p in ps],
                "qty": pl.Series([p.qty for p in ps], dtype=pl.Float64),
                "avg_cost": pl.Series([_num(p.avg_cost) for p in ps], dtype=pl.Float64),
                "mark": pl.Series([_num(snapshot.marks.get(p.symbol)) for p in ps], dtype=pl.Float64),
                "value": pl.Series([_num(p.qty * snapshot.marks[p.symbol]) if p.symbol in snapshot.marks else None
                                    for p in ps], dtype=pl.Float64),
            }, schema_overrides={"paper_id": pl.String, "symbol": pl.String})
            cash = pl.DataFrame({
                "paper_id": [self.paper_id], "cycle": pl.Series([cycle], dtype=pl.Int32), "ts": _ts(snapshot.ts),
                "cash": [snapshot.cash], "equity": [snapshot.equity], "gross_exposure": [snapshot.gross],
                "broker_equity": pl.Series([_num(snapshot.broker_equity)], dtype=pl.Float64),
            })

        def work(con) -> None:
            if frame.height:
                con.register("_new_fills", frame)
                con.execute("INSERT INTO paper_fills BY NAME SELECT * FROM _new_fills n WHERE NOT EXISTS "
                            "(SELECT 1 FROM paper_fills f WHERE f.paper_id = n.paper_id AND f.exec_id = n.exec_id)")
                con.unregister("_new_fills")
            if snapshot is not None:
                for table in ("paper_positions", "paper_cash"):
                    con.execute(f"DELETE FROM {table} WHERE paper_id = $p AND cycle = $k",
                                {"p": self.paper_id, "k": cycle})
                Warehouse.insert(con, "paper_positions", pos)
                Warehouse.insert(con, "paper_cash", cash)

        self._write(work)

    # ------------------------------------------------------------------ risk, events, broker state

    def _decisions(self, cycle: int, ts: datetime, decisions: Iterable[Decision]) -> pl.DataFrame:
        ds = list(decisions)
        return pl.DataFrame({
            "paper_id": [self.paper_id] * len(ds), "cycle": pl.Series([cycle] * len(ds), dtype=pl.Int32),
            "ts": pl.Series([ts] * len(ds), dtype=UTC_TS), "scope": [d.scope for d in ds],
            "symbol": pl.Series([d.symbol for d in ds], dtype=pl.String), "rule": [d.rule for d in ds],
            "action": [d.action for d in ds], "reason": [d.reason for d in ds],
            "value": pl.Series([_num(d.value) for d in ds], dtype=pl.Float64),
            "limit_value": pl.Series([_num(d.limit_value) for d in ds], dtype=pl.Float64),
        }, schema_overrides={"paper_id": pl.String, "scope": pl.String, "rule": pl.String, "action": pl.String,
                             "reason": pl.String})

    def record_event(self, kind: str, message: str, detail: Mapping[str, Any] | None = None,
                     cycle: int | None = None) -> None:
        """A session event (start, restart, reconciled, disconnected, reconnected, halt, no_go, error, …)."""
        row = pl.DataFrame({
            "paper_id": [self.paper_id], "event_at": _ts(self._stamp()), "cycle": pl.Series([cycle], dtype=pl.Int32),
            "kind": [kind], "message": [message],
            "detail_json": pl.Series([json.dumps(detail, sort_keys=True, default=str) if detail else None],
                                     dtype=pl.String),
        })
        self._write(lambda con: Warehouse.insert(con, "paper_events", row))

    def save_broker_state(self, state: Mapping[str, Any], archive: Sequence[tuple[str, str, int, Any]] = ()) -> None:
        """Replace the simulated broker's saved state and append `archive` — (kind 'order' | 'fill', key, seq, item)
        rows of finished orders and fills, which never change again — in one transaction."""
        text = json.dumps(state, sort_keys=True)
        log = pl.DataFrame(
            {"paper_id": [self.paper_id] * len(archive), "kind": [a[0] for a in archive],
             "key": [a[1] for a in archive], "seq": pl.Series([a[2] for a in archive], dtype=pl.Int64),
             "item_json": [json.dumps(a[3], sort_keys=True) for a in archive]},
            schema_overrides={"paper_id": pl.String, "kind": pl.String, "key": pl.String, "item_json": pl.String},
        )

        def work(con) -> None:
            seq = con.execute("SELECT coalesce(max(seq), 0) FROM paper_broker_state WHERE paper_id = $p",
                              {"p": self.paper_id}).fetchone()[0]
            con.execute("DELETE FROM paper_broker_state WHERE paper_id = $p", {"p": self.paper_id})
            con.execute("INSERT INTO paper_broker_state VALUES ($p, $s, $t, $j)",
                        {"p": self.paper_id, "s": seq + 1, "t": self._stamp(), "j": text})
            Warehouse.insert(con, "paper_broker_log", log)

        self._write(work)

    def broker_state(self) -> dict[str, Any] | None:
        """The simulated broker's saved state with its archived orders and fills merged back in (archived first, each
        kind in its seq order), or None."""
        df = self.read("SELECT state_json FROM paper_broker_state WHERE paper_id = $p")
        if not df.height:
            return None
        state = json.loads(df["state_json"].item())
        log = self.read("SELECT kind, item_json FROM paper_broker_log WHERE paper_id = $p ORDER BY kind, seq")
        for kind, key in (("order", "orders"), ("fill", "fills")):
            items = [json.loads(t) for t in log.filter(pl.col("kind") == kind)["item_json"].to_list()]
            state[key] = items + list(state.get(key, []))
        return state

    def broker_archive(self) -> tuple[set[str], set[str]]:
        """(client order ids, exec ids) already in the broker's archive."""
        log = self.read("SELECT kind, key FROM paper_broker_log WHERE paper_id = $p ORDER BY kind, key")
        keys = {k: set(log.filter(pl.col("kind") == k)["key"].to_list()) for k in ("order", "fill")}
        return keys["order"], keys["fill"]

