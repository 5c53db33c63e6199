"""The paper-trading loop: each cycle brings bars up to date, decides targets with the walkforward's own code, turns
them into orders by the kernel's rules and risk limits, sends them and journals every step.

A cycle is one decision bar (cycle number = bar number of the session). Its steps, each committed on its own:
1. the simulated broker is fed the bar (orders of the previous cycle fill at its open) and saves its state;
2. fills the journal does not have yet are reconciled from the broker; the book at the bar's close is journalled;
3. the risk state closes the bar (drawdown halt, daily loss cut) and begins the execution bar;
4. the protective stops of the previous cycle that did not fill are cancelled; targets are composed, the orders
   planned (`orders.plan_execution`) and checked, and a protective stop order is added for every position the
   execution leaves (`orders.protective_stops`, when stop_loss_pct is set); the cycle row, targets, risk decisions
   and orders are committed together, before anything is sent;
5. each order is placed under its client order id (`make_client_order_id(session, cycle, symbol)`) and its ack
   journalled; the cycle is then marked sent (done when it had nothing to send).
After a kill at any point a restart resumes from the journal: an interrupted cycle re-sends its journalled orders
(the broker knows their ids and creates nothing twice), fills the broker has and the journal lacks are recorded,
and the next cycle follows.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl

from trader_cols.alerts import (
    DiscordAlerter,
    disconnect_alert,
    error_alert,
    fills_alert,
    halt_alert,
    no_go_alert,
)
from trader_cols.brokers.base import Ack, Broker, Fill, Order, Position, make_client_order_id
from trader_cols.config import Config, config_hash
from trader_cols.errors import ConfigError, OrderRejected, TraderColsError
from trader_cols.kernels.records import REASON_NAMES
from trader_cols.logs import get_logger
from trader_cols.paper.decide import (
    TARGET_COLUMNS,
    ChosenRun,
    compose_targets,
    find_runs,
    history_start,
    load_run,
)
from trader_cols.paper.journal import Journal, SessionSpec, Snapshot, read_catalog
from trader_cols.paper.market import STEP, Clock, LiveMarket, ReplayMarket, Step, SystemClock
from trader_cols.paper.orders import Decision, Plan, PlannedOrder, plan_execution, protective_stops
from trader_cols.paper.preflight import PreflightReport, preflight
from trader_cols.paper.risk import RiskState
from trader_cols.paper.simbroker import JournalledSimBroker
from trader_cols.sanity import raise_on_errors, validate
from trader_cols.sim import sim_params
from trader_cols.strategies import Strategy
from trader_cols.warehouse import Warehouse

log = get_logger(__name__)
EVERY = {"1d": timedelta(days=1), "1h": timedelta(hours=1), "15m": timedelta(minutes=15)}
WAKE_OFFSET = timedelta(minutes=1)  # wake a minute after each period boundary (bars close on the boundary)
STOP_FILL_CYCLES = 3  # a protective stop's fill is looked for this many cycles after the one that placed it
CHECK_TOL = 1e-9  # relative slack of the pre-send limit check over the planner's own arithmetic


@dataclass(frozen=True)
class PaperRequest:
    """What to paper trade. `replay=(start, end)` replays stored history through the simulated broker; otherwise the
    loop trades live bars, once (`once`) or every `every` (default: config paper.every)."""

    symbols: tuple[str, ...]
    interval: str = "1d"
    broker: str = "sim"
    replay: tuple[date, date] | None = None
    once: bool = False
    every: str | None = None
    params_run: str | None = None
    refresh_data: bool = True  # live: ingest from the configured source before each cycle
    name: str | None = None
    max_cycles: int | None = None
    fill_wait_s: float = 10.0  # live, real broker: how long a cycle waits for its market orders to fill
    preflight: bool = True


@dataclass
class PaperResult:
    """How a call of the loop ended."""

    paper_id: str
    status: str  # finished | stopped | no_go | idle
    cycles: int = 0
    preflight: PreflightReport | None = None
    message: str = ""


def session_id(req: PaperRequest, params_run: str | None) -> str:
    """The session's id: `--name`, else a hash of what it trades (a replay also of its window and parameters)."""
    if req.name:
        return req.name
    key: dict[str, Any] = {"broker": req.broker, "symbols": sorted(req.symbols), "interval": req.interval}
    if req.replay:
        key |= {"replay": [str(req.replay[0]), str(req.replay[1])], "run": params_run}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:10]
    return f"paper-{'replay' if req.replay else req.broker}-{digest}"


def make_broker(kind: str, cfg: Config, journal: Journal, on_step: Callable[[str], None] | None = None) -> Broker:
    """The configured broker: the journalled simulated broker, or IBKR (imports the IBKR library only then)."""
    if kind == "sim":
        return JournalledSimBroker(journal, sim_params(cfg.risk, cfg.engine), on_step=on_step)
    if kind == "ibkr":
        from trader_cols.brokers.ibkr import IbkrBroker

        return IbkrBroker(cfg.paper.ibkr, asset_classes=cfg.asset_classes)
    raise ConfigError(f"broker {kind!r} is not sim or ibkr", key="paper.broker")


def next_wake(now: datetime, every: str) -> datetime:
    """The first time after `now` that is a period boundary (UTC, epoch-aligned) plus WAKE_OFFSET."""
    period = EVERY[every]
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    wake = epoch + ((now - epoch) // period) * period + WAKE_OFFSET
    return wake if wake > now else wake + period


class PaperLoop:
    """One paper session. Inject `clock`, `broker` and `alerter` to drive it from tests; `on_step(name)` is called
    after every committed step (progress, and kill points for the crash tests)."""

    def __init__(
        self,
        wh: Warehouse,
        req: PaperRequest,
        cfg: Config,
        *,
        clock: Clock | None = None,
        broker: Broker | None = None,
        alerter: DiscordAlerter | None = None,
        on_step: Callable[[str], None] | None = None,
        strategies: Sequence[Strategy] | None = None,
    ):
        if req.broker not in ("sim", "ibkr"):
            raise ConfigError(f"broker {req.broker!r} is not sim or ibkr", key="--broker")
        if req.replay and req.broker != "sim":
            raise ConfigError("--replay runs through the simulated broker (--broker sim)", key="--broker")
        self.wh, self.req, self.cfg = wh, req, cfg
        self.clock = clock or SystemClock()
        self.broker: Broker | None = broker
        self._owns_broker = broker is None
        self.alerter = alerter or DiscordAlerter(cfg.alerts.discord)
        self._on_step = on_step or (lambda _name: None)
        self.strategies = strategies
        self.params = sim_params(cfg.risk, cfg.engine)
        self.symbols = tuple(sorted(dict.fromkeys(req.symbols)))
        self.journal: Journal | None = None
        self.run_: ChosenRun | None = None
        self.risk: RiskState | None = None
        self._known_fills: set[str] = set()
        self._order_cycles: dict[str, int] = {}
        self._data_version: str | None = None

    # ------------------------------------------------------------------ entry

    def run(self) -> PaperResult:
        """Preflight, then cycles until the replay ends, `once`/`max_cycles` is reached, or the process stops."""
        req = self.req
        report = self._preflight()
        if not report.go:
            return self._no_go(report)
        self.run_ = report.run
        paper_id = session_id(req, self.run_.run_id if self.run_ else None)
        self.journal = Journal(self.wh, paper_id, now=self.clock.now)
        spec = SessionSpec(
            paper_id, "replay" if req.replay else "live", req.broker, self.symbols, req.interval,
            config_hash(self.cfg), self.run_.run_id if req.replay else None,
            _day(req.replay[0]) if req.replay else None, _day(req.replay[1]) if req.replay else None,
        )
        if req.replay:
            stored = self.journal.session()
            if stored and stored["params_run_id"] and stored["params_run_id"] != self.run_.run_id:
                raise ConfigError(f"session {paper_id} replays with run {stored['params_run_id']}, not "
                                  f"{self.run_.run_id} (use another --name)")
        _row, created = self.journal.open_session(spec)
        self._event("start" if created else "restart",
                    f"{'replay' if req.replay else 'live'} session {paper_id} "
                    f"{'started' if created else 'restarted'} with run {self.run_.run_id}",
                    {"symbols": list(self.symbols), "broker": req.broker})
        if self.broker is None:
            self.broker = make_broker(req.broker, self.cfg, self.journal, self._on_step)
        self.broker.connect()
        self._known_fills = self.journal.exec_ids()
        self._order_cycles = self.journal.order_cycles()
        try:
            if req.replay:
                with self.journal.held():  # a replay is a batch job: one connection for all its steps
                    self._recover()
                    n = self._replay()
            else:
                with self.journal.held():
                    self._recover()
                n = self._live()
        except KeyboardInterrupt:
            self.journal.set_status("stopped", "interrupted")
            return PaperResult(paper_id, "stopped", 0, report, "interrupted")
        except Exception as exc:
            self._error(exc)
            self.journal.set_status("failed", str(exc)[:2000])
            raise
        finally:
            self._drain_events(None)
            self._release_broker()
        status = "finished" if req.replay and n[1] else "stopped"
        self.journal.set_status(status, None)
        return PaperResult(paper_id, status, n[0], report)

    def _release_broker(self) -> None:
        """Disconnect a broker this loop created (an injected one is the caller's)."""
        if self._owns_broker and self.broker is not None:
            try:
                self.broker.disconnect()
            except TraderColsError as exc:
                log.warning("disconnecting the broker: %s", exc)

    def _preflight(self) -> PreflightReport:
        req = self.req
        if not req.preflight:
            read = lambda sql, params=None: read_catalog(self.wh, sql, params)  # noqa: E731
            run_id = req.params_run
            if run_id is None:
                runs = find_runs(read, self.cfg, req.interval, self.symbols)
                runs = runs.filter(pl.col("kind") == "walkforward") if runs.height else runs
                if not runs.height:
                    raise ConfigError("no finished walkforward for this config and these symbols")
                run_id = runs["run_id"][0]
            return PreflightReport([], load_run(read, self.cfg, run_id, symbols=self.symbols, interval=req.interval))

        def connect() -> str:
            if self.broker is None:
                if req.broker == "sim":
                    return "simulated broker (in process, always a paper account)"
                from trader_cols.brokers.ibkr import IbkrBroker

                self.broker = IbkrBroker(self.cfg.paper.ibkr, asset_classes=self.cfg.asset_classes)
            self.broker.connect()
            account = getattr(self.broker, "account", None)
            return f"{self.broker.name} connected" + (f", paper account {account}" if account else "")

        return preflight(self.wh, self.cfg, symbols=self.symbols, interval=req.interval, now=self.clock.now(),
                         replay=req.replay, params_run=req.params_run, connect_broker=connect)

    def _no_go(self, report: PreflightReport) -> PaperResult:
        paper_id = session_id(self.req, report.run.run_id if report.run else None)
        log.error("preflight: NO-GO: %s", "; ".join(report.reasons))
        self._release_broker()
        self.alerter.send(no_go_alert(report.reasons, ts=self.clock.now()))
        try:
            j = Journal(self.wh, paper_id, now=self.clock.now)
            if j.session() is not None:
                j.set_status("no_go", "; ".join(report.reasons)[:2000])
                j.record_event("no_go", "preflight said NO-GO", {"reasons": report.reasons})
        except TraderColsError as exc:  # an unreadable warehouse is one of the reasons already
            log.warning("could not journal the NO-GO: %s", exc)
        return PaperResult(paper_id, "no_go", 0, report, "; ".join(report.reasons))

    # ------------------------------------------------------------------ drivers

    def _replay(self) -> tuple[int, bool]:
        start, end = self.req.replay  # type: ignore[misc]
        market = ReplayMarket(self.wh, self.symbols, self.req.interval, history_start(self.run_), start, end)
        # NOTE: stored history is validated once, as of the window's last bar (each cycle reads a prefix of it)
        last_ts = market.index[-1]
        report = validate(market.frame, self.cfg.data_sanity, as_of=last_ts + STEP.get(self.req.interval, timedelta(
            days=1)), asset_classes=self.cfg.asset_classes, mode="enforce", interval=self.req.interval,
            ordered_input=True)
        raise_on_errors(report)
        last = self.journal.last_cycle()
        k = 0 if last is None else int(last["cycle"]) + 1
        n = 0
        while k < len(market):
            if self.req.max_cycles is not None and n >= self.req.max_cycles:
                return n, False
            self._cycle(k, market.step(k))
            k += 1
            n += 1
        return n, True

    def _live(self) -> tuple[int, bool]:
        market = LiveMarket(self.wh, self.cfg, self.symbols, self.req.interval, history_start(self.run_),
                            refresh=self.req.refresh_data)
        every = self.req.every or self.cfg.paper.every
        n = 0
        while True:
            now = self.clock.now()
            self.journal.heartbeat()
            failed = market.update(now)
            if failed:
                self._event("data", f"ingest failed for {', '.join(failed)}: deciding on the stored bars", None)
            last = self.journal.last_cycle()
            after = last["decision_ts"] if last else None
            steps = market.steps(now, after, int(last["bar_no"]) + 1 if last else 0)
            if not steps:
                log.info("no new complete %s bar since %s", self.req.interval, after)
            for step in steps:
                try:
                    with self.journal.held():
                        self._cycle(step.bar_no, step)
                except Exception as exc:  # a live loop outlives a failed cycle: journal, alert, retry next wake
                    if self.req.once or not isinstance(exc, TraderColsError | OSError | ValueError):
                        raise
                    self._error(exc, step.bar_no)
                    break
                n += 1
            if self.req.once or (self.req.max_cycles is not None and n >= self.req.max_cycles):
                return n, False
            wake = next_wake(self.clock.now(), every)
            self.clock.sleep((wake - self.clock.now()).total_seconds())

    # ------------------------------------------------------------------ one cycle

    def _cycle(self, k: int, step: Step) -> None:
        broker, journal = self.broker, self.journal
        # 1. the simulated broker trades the bar (the previous cycle's orders fill at its open)
        if isinstance(broker, JournalledSimBroker):
            broker.on_bar(step.ts, step.at_ts)
        self._step("synced")
        # 2. reconcile fills, journal the book at the close
        fills = self._new_fills()
        snap = self._snapshot(step)
        journal.record_fills_and_snapshot(k, fills, snap)
        self._known_fills.update(f.exec_id for f, _ in fills)
        self._step("recorded")
        if fills:
            self.alerter.send(fills_alert([f for f, _ in fills], ts=step.clock))
        # 3. the risk state closes the bar
        if self.risk is None:
            self.risk = RiskState.start(snap.equity)
        state = RiskState.from_dict(self.risk.to_dict())
        r = self.cfg.risk
        book: list[Decision] = []
        # the kernel's intrabar stop: a stopped side is not re-entered until the target resets. A stop order lives
        # one cycle, but a real broker can report its fill a cycle late (it filled as the next cycle cancelled it).
        recent = journal.stop_fills(k - STOP_FILL_CYCLES, k - 1) if k > 0 else []
        applied = set(state.stop_execs)
        for exec_id, symbol, side, price in recent:
            if exec_id not in applied:
                state.stopped[symbol] = 1 if side == "sell" else -1
                book.append(Decision("order", "stop_loss", "flatten", f"protective stop filled at {price:g}", symbol,
                                     price))
        state.stop_execs = [r[0] for r in recent]
        for rule, why in state.begin_bar(step.bar_no, step.session, r.cooloff_bars):
            book.append(Decision("book", rule, "resume", why))
        for rule, why in state.close_bar(step.bar_no, step.session, snap.equity, max_drawdown_pct=r.max_drawdown_pct,
                                         daily_loss_cut_pct=r.daily_loss_cut_pct, cooloff_bars=r.cooloff_bars):
            book.append(Decision("book", rule, "halt" if rule == "max_drawdown" else "flatten", why, None,
                                 snap.equity, state.peak if rule == "max_drawdown" else state.session_ref))
            self.alerter.send(halt_alert(rule, {"reason": why, "cycle": k, "bar": step.ts}, ts=step.clock))
            self._event("halt", why, {"rule": rule}, k)
        row: dict[str, Any] = {
            "cycle": k, "bar_no": step.bar_no, "decision_ts": step.ts, "exec_ts": step.exec_ts, "clock_ts": step.clock,
            "params_run_id": self.run_.run_id, "data_version": self._version(),
        }
        if not step.executes:
            row |= {"status": "done", "risk_state": state.to_dict(), "note": "no execution follows this bar"}
            journal.commit_cycle(row, _empty_targets(), book, [])
            self.risk = state
            self._step("cycle_done")
            return
        # 4. decide: validate, compose, plan, check, commit before sending
        self._validate(step)
        for rule, why in state.begin_bar(step.bar_no + 1, step.exec_session, r.cooloff_bars):
            book.append(Decision("book", rule, "resume", why))
        forced = state.forced_exit(step.exec_session)
        if forced:
            book.append(Decision("book", REASON_NAMES[forced], "flatten", "positions are closed and no new risk is "
                                 "taken at this execution"))
        book += self._cancel_stale(k)
        targets = compose_targets(step.bars, self.run_, self.cfg, step.ts, strategies=self.strategies)
        wanted = {t["symbol"]: (math.nan if t["target_weight"] is None else t["target_weight"])
                  for t in targets.iter_rows(named=True)}
        positions = self._positions()
        cash = broker.account_values().cash
        plan = plan_execution(
            self.symbols, cash, {p.symbol: p.qty for p in positions}, {p.symbol: p.avg_cost for p in positions},
            wanted, step.ref, step.closes, self.params, forced=forced, stopped=state.stopped,
        )
        state.stopped = plan.stopped
        planned = self._orders(k, plan.orders)
        orders = list(planned)
        decisions = book + plan.decisions + self._check(
            plan, orders, {p.symbol: p.qty for p in positions}, {**step.closes, **step.ref})
        after = self._book_after(plan, planned, orders, positions)
        orders += self._orders(k, protective_stops(*after, self.params))
        row |= {"status": "planned" if orders else "done", "risk_state": state.to_dict(),
                "forced": REASON_NAMES[plan.forced] if plan.forced else None, "exec_equity": plan.exec_equity}
        journal.commit_cycle(row, targets.select(TARGET_COLUMNS), decisions, orders)
        self.risk = state
        self._order_cycles.update({o.client_order_id: k for o, _, _ in orders})
        self._step("planned")
        if not orders:
            self._step("cycle_done")
            return
        # 5. send (a bar-driven simulated broker fills them at the next bar: the cycle is done once they are sent)
        self._send(k, orders)
        journal.finish_cycle(k, "done" if isinstance(broker, JournalledSimBroker) else "sent")
        self._after_send(k)
        self._step("cycle_done")

    # ------------------------------------------------------------------ steps

    def _step(self, name: str) -> None:
        log.debug("journal: %s", name)
        self._on_step(name)

    def _version(self) -> str:
        if self._data_version is None or not self.req.replay:
            rows = self.journal.read("SELECT symbol, version, content_hash FROM bar_files WHERE interval = $i "
                                     "AND list_contains($s, symbol) ORDER BY symbol",
                                     {"i": self.req.interval, "s": list(self.symbols)})
            self._data_version = hashlib.sha256(rows.write_csv().encode()).hexdigest()[:16]
        return self._data_version

    def _validate(self, step: Step) -> None:
        """DataSanity in enforce mode over the bars the cycle decides on: an error finding stops the cycle (a
        replay validated its whole window up front)."""
        if self.req.replay:
            return
        report = validate(step.bars, self.cfg.data_sanity, as_of=step.clock, asset_classes=self.cfg.asset_classes,
                          mode="enforce", interval=self.req.interval, ordered_input=True)
        raise_on_errors(report)

    def _positions(self) -> list[Position]:
        mine = [p for p in self.broker.positions() if p.symbol in self.symbols]
        return sorted(mine, key=lambda p: p.symbol)

    def _snapshot(self, step: Step) -> Snapshot:
        """The book at the decision bar's close, valued as the kernel values it (cash + Σ qty × last close)."""
        positions = self._positions()
        acct = self.broker.account_values()
        held = gross = 0.0
        for p in positions:
            mark = step.closes.get(p.symbol, p.avg_cost)
            held += p.qty * mark
            gross += abs(p.qty * mark)
        return Snapshot(step.ts, tuple(positions), step.closes, acct.cash, acct.cash + held, gross, acct.equity)

    def _new_fills(self) -> list[tuple[Fill, int]]:
        """Fills at the broker that the journal lacks, with the cycle of their order (other orders' fills skipped)."""
        out = []
        for f in self.broker.fills_since(None):
            if f.exec_id in self._known_fills:
                continue
            cycle = self._order_cycles.get(f.client_order_id)
            if cycle is None:
                log.warning("fill %s of order %s is not this session's: not journalled", f.exec_id, f.client_order_id)
                continue
            out.append((f, cycle))
        return out

    def _orders(self, k: int, planned: Sequence[PlannedOrder]) -> list[tuple[Order, float, str]]:
        """(order, reference price, reason) of planned orders; the client order id keys on (session and kind, cycle,
        symbol). A protective stop is a good-till-cancelled stop order (the next cycle replaces it)."""
        out = []
        for o in planned:
            key = self.journal.paper_id if o.kind == "exec" else f"{self.journal.paper_id}:{o.kind}"
            coid = make_client_order_id(key, k, o.symbol)
            if o.kind == "protect":
                order = Order(coid, o.symbol, o.side, abs(o.qty), "stop", tif="gtc", stop_price=o.stop_price)
            else:
                order = Order(coid, o.symbol, o.side, abs(o.qty))
            out.append((order, o.ref_price, o.reason))
        return out

    def _book_after(self, plan: Plan, planned: Sequence[tuple[Order, float, str]],
                    kept: Sequence[tuple[Order, float, str]],
                    positions: Sequence[Position]) -> tuple[dict[str, float], dict[str, float]]:
        """(quantity, average fill price) per symbol once the orders that passed the pre-send check (`kept`, a subset
        of `planned`, which pairs with plan.orders) have filled: the plan's prediction, except for a symbol with a
        refused order (its start, plus its orders that passed)."""
        qty, avg = dict(plan.qty_after), dict(plan.avg_after)
        ids = {o.client_order_id for o, _, _ in kept}
        pairs = list(zip(plan.orders, planned, strict=True))
        refused = {p.symbol for p, (o, _, _) in pairs if o.client_order_id not in ids}
        start = {p.symbol: p for p in positions}
        for s in refused:
            q = (start[s].qty if s in start else 0.0) + sum(
                p.qty for p, (o, _, _) in pairs if p.symbol == s and o.client_order_id in ids)
            qty.pop(s, None)
            avg.pop(s, None)
            if q != 0.0:
                qty[s], avg[s] = q, start[s].avg_cost if s in start else math.nan
        return qty, avg

    def _check(self, plan: Plan, orders: list[tuple[Order, float, str]], start: dict[str, float],
               marks: dict[str, float]) -> list[Decision]:
        """The limits, checked again on the planned book before anything is sent: an order that grows a position
        above max_position_pct, or the book above max_gross_leverage, is refused (removed from `orders`)."""
        r, e = self.cfg.risk, plan.exec_equity
        out: list[Decision] = []
        if not orders:
            return out
        gross = sum(abs(q) * marks.get(s, 0.0) for s, q in plan.qty_after.items())
        held = dict(start)
        keep = []
        for (order, ref, why), planned in zip(orders, plan.orders, strict=True):
            before = held.get(order.symbol, 0.0)
            q_after = held[order.symbol] = before + planned.qty
            grows = abs(q_after) > abs(before)
            weight = abs(q_after) * ref / e if e > 0 else math.inf
            if grows and weight > r.max_position_pct * (1 + CHECK_TOL) + CHECK_TOL:
                out.append(Decision("order", "position_cap", "refuse", f"would hold {weight:.4%} of equity",
                                    order.symbol, weight, r.max_position_pct))
                continue
            if grows and gross > r.max_gross_leverage * e * (1 + CHECK_TOL) + CHECK_TOL:
                out.append(Decision("order", "gross_cap", "refuse", f"gross {gross:.2f} over "
                                    f"{r.max_gross_leverage:g} x equity {e:.2f}", order.symbol, gross / e,
                                    r.max_gross_leverage))
                continue
            out.append(Decision("order", why, "allow", f"{order.side} {order.qty:g} @ ~{ref:g}", order.symbol,
                                planned.qty, None))
            keep.append((order, ref, why))
        orders[:] = keep
        return out

    def _cancel_stale(self, k: int) -> list[Decision]:
        """Orders of earlier cycles still working are cancelled before this cycle sizes its own (the book they would
        change is the one this cycle starts from): protective stops, which this cycle renews, and at a real broker
        market orders that did not fill (a bar-driven simulated broker fills those at the bar this cycle fed it)."""
        sim = isinstance(self.broker, JournalledSimBroker)
        out = []
        for a in self.broker.open_orders():
            cycle = self._order_cycles.get(a.client_order_id)
            stop = a.order.order_type == "stop"
            if cycle is None or cycle >= k or (sim and not stop):
                continue
            ack = self.broker.cancel(a.client_order_id)
            self.journal.record_ack(cycle, ack)
            rule, why = ("stop_loss", "protective stop") if stop else ("stale_order", "order")
            out.append(Decision("order", rule, "cancel", f"{why} {a.client_order_id} of cycle {cycle} was still "
                                f"working ({ack.status} now)", a.order.symbol, a.order.qty - a.filled_qty))
        self._drain_events(k)
        return out

    def _send(self, k: int, orders: Sequence[tuple[Order, float, str]]) -> None:
        acked = self.journal.acked(k)
        for order, _ref, _why in orders:
            if order.client_order_id in acked:
                continue
            try:
                ack = self.broker.place(order)
            except OrderRejected as exc:
                ack = Ack(order, "", "rejected", reason=str(exc))
            self._step("placed")
            self.journal.record_ack(k, ack)
            self._step("acked")
            if ack.status == "rejected":
                log.warning("order %s rejected: %s", order.client_order_id, ack.reason)
            self._drain_events(k)

    def _after_send(self, k: int) -> None:
        """A real broker: wait (bounded) for the market orders to fill, then journal the fills."""
        if isinstance(self.broker, JournalledSimBroker):
            return
        mine = set(self.journal.acked(k))
        deadline = time.monotonic() + self.req.fill_wait_s  # a real wait for a real broker, whatever the clock
        while time.monotonic() < deadline and any(  # protective stops keep working: no wait for them
                a.client_order_id in mine and a.order.order_type != "stop" for a in self.broker.open_orders()):
            time.sleep(0.1)
        fills = self._new_fills()
        if fills:
            self.journal.record_fills_and_snapshot(k, fills, None)
            self._known_fills.update(f.exec_id for f, _ in fills)
            self.alerter.send(fills_alert([f for f, _ in fills], ts=self.clock.now()))
        self._drain_events(k)
        self.journal.finish_cycle(k, "done")

    # ------------------------------------------------------------------ restart

    def _recover(self) -> None:
        """Resume after a stop or a kill: the risk state of the last cycle, its unsent orders re-sent (or abandoned
        when a newer bar has made them stale), working orders and unjournalled fills reconciled."""
        last = self.journal.last_cycle()
        if last is None:
            return
        self.risk = RiskState.from_dict(json.loads(last["risk_state_json"]))
        k = int(last["cycle"])
        open_orders = [a for a in self.broker.open_orders() if a.client_order_id in self._order_cycles]
        missing = self._new_fills()
        detail: dict[str, Any] = {"last_cycle": k, "status": last["status"],
                                  "open_orders": [a.client_order_id for a in open_orders],
                                  "fills_not_journalled": [f.exec_id for f, _ in missing]}
        if missing:
            self.journal.record_fills_and_snapshot(k, missing, None)
            self._known_fills.update(f.exec_id for f, _ in missing)
        if last["status"] in ("planned", "sent"):
            orders = self.journal.orders_of(k)
            unsent = [o for o in orders if o[0].client_order_id not in self.journal.acked(k)]
            detail["unacknowledged"] = [o.client_order_id for o, _, _ in unsent]
            stale = not self.req.replay and self.clock.now() - _utc(last["clock_ts"]) > STEP.get(
                self.req.interval, timedelta(days=1))
            if stale:
                # a decision older than a bar is not sent late: its unsent orders are abandoned
                for order, _ref, _why in unsent:
                    self.journal.record_ack(k, Ack(order, "", "cancelled", reason="not sent: the decision went "
                                                   "stale while the loop was down"))
                detail["abandoned"] = detail.pop("unacknowledged")
            self._send(k, orders)
            self.journal.finish_cycle(k, "done" if isinstance(self.broker, JournalledSimBroker) else "sent")
            self._after_send(k)
        self._event("reconciled", f"resumed after cycle {k} ({last['status']}): {len(detail.get('unacknowledged', []))}"
                    f" order(s) re-sent, {len(missing)} fill(s) recorded, {len(open_orders)} working", detail, k)

    # ------------------------------------------------------------------ events and alerts

    def _event(self, kind: str, message: str, detail: dict | None, cycle: int | None = None) -> None:
        log.info("%s: %s", kind, message)
        self.journal.record_event(kind, message, detail, cycle)
        self._step(f"event:{kind}")

    def _drain_events(self, cycle: int | None) -> None:
        if self.broker is None or self.journal is None:
            return
        try:
            events = self.broker.drain_events()
        except TraderColsError:
            return
        for ev in events:
            self._event(ev.kind, ev.message, ev.detail, cycle)
            self.alerter.send(disconnect_alert(ev.message, ev.detail, ts=self.clock.now()))

    def _error(self, exc: Exception, cycle: int | None = None) -> None:
        log.error("paper cycle failed: %s", exc)
        self._drain_events(cycle)
        if self.journal is not None:
            try:
                self._event("error", str(exc), {"type": type(exc).__name__}, cycle)
            except TraderColsError:
                pass
        self.alerter.send(error_alert(str(exc), {"type": type(exc).__name__, "cycle": cycle}, ts=self.clock.now()))


def run_paper(wh: Warehouse, req: PaperRequest, cfg: Config, **kwargs: Any) -> PaperResult:
    """Run a paper session (see PaperLoop)."""
    return PaperLoop(wh, req, cfg, **kwargs).run()


def _empty_targets() -> pl.DataFrame:
    from trader_cols.schema import UTC_TS

    return pl.DataFrame(schema={"symbol": pl.String, "ts": UTC_TS, "asset_class": pl.String, "regime": pl.String,
                                "signal": pl.Float64, "target_weight": pl.Float64})


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _day(d: date) -> datetime:
    return datetime.combine(d, datetime.min.time(), UTC)

