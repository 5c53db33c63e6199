"""Go/no-go before paper trading: config, warehouse, data freshness and sanity, broker, risk limits, and the latest
walkforward against the gate. Every failed check is a reason; any reason is NO-GO."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import polars as pl

from trader_cols.calendars import asset_classes
from trader_cols.config import Config
from trader_cols.errors import TraderColsError
from trader_cols.paper.decide import ChosenRun, find_runs, history_start, load_run
from trader_cols.paper.journal import read_catalog
from trader_cols.sanity import validate
from trader_cols.sanity.checks import bar_end
from trader_cols.warehouse import Warehouse

# How old the latest complete bar may be before the data counts as stale (weekends and a holiday for markets
# with sessions; a day's slack for crypto).
SESSION_STALE = timedelta(days=4, hours=12)
CRYPTO_STALE_DAILY = timedelta(days=2)
INTRADAY_STALE_BARS = 6


@dataclass(frozen=True)
class Check:
    """One preflight check. A failed blocking check is a NO-GO reason; a note never blocks."""

    name: str
    ok: bool
    detail: str
    blocking: bool = True


@dataclass
class PreflightReport:
    """Every check in order, and the run whose parameters would decide (None if none qualifies)."""

    checks: list[Check] = field(default_factory=list)
    run: ChosenRun | None = None

    @property
    def go(self) -> bool:
        """True when no blocking check failed."""
        return all(c.ok for c in self.checks if c.blocking)

    @property
    def reasons(self) -> list[str]:
        """The NO-GO reasons, one per failed blocking check."""
        return [f"{c.name}: {c.detail}" for c in self.checks if c.blocking and not c.ok]

    def text(self) -> str:
        """GO or NO-GO, then one line per check."""
        lines = ["GO" if self.go else "NO-GO"]
        for c in self.checks:
            mark = "ok  " if c.ok else ("FAIL" if c.blocking else "note")
            lines.append(f"  {mark} {c.name}: {c.detail}")
        return "\n".join(lines)


def stale_after(interval: str, asset_class: str) -> timedelta:
    """How old a symbol's latest complete bar may be (its end to now) before its data is stale."""
    from trader_cols.paper.market import STEP

    step = STEP.get(interval, timedelta(days=1))
    if asset_class == "crypto":
        return CRYPTO_STALE_DAILY if step >= timedelta(days=1) else max(step * INTRADAY_STALE_BARS, timedelta(hours=1))
    return max(SESSION_STALE, step * 2)


def freshness(wh: Warehouse, cfg: Config, symbols: Sequence[str], interval: str, now: datetime) -> list[str]:
    """Problems with the data's age at `now`: a symbol without bars, or whose latest complete bar is stale."""
    # the last bars of each symbol up to now: enough to see its calendar (weekend bars = crypto) and its age
    bars = wh.scan_bars(list(symbols), interval, None, now).group_by("symbol", maintain_order=True).tail(30).collect()
    classes = asset_classes(bars, cfg.asset_classes, symbols)
    problems = []
    if bars.height:
        crypto = [s for s, c in classes.items() if c == "crypto"]
        ends = (bars.with_columns(bar_end(pl.col("ts"), pl.col("symbol").is_in(crypto), interval).alias("end"))
                .filter(pl.col("end") <= now).group_by("symbol").agg(pl.col("end").max()))
        last = dict(zip(ends["symbol"].to_list(), ends["end"].to_list(), strict=True))
    else:
        last = {}
    for s in symbols:
        if s not in last:
            problems.append(f"{s} has no complete {interval} bar stored before {now:%Y-%m-%d %H:%M} UTC")
            continue
        age, limit = now - last[s], stale_after(interval, classes.get(s, "equity"))
        if age > limit:
            problems.append(f"{s}'s latest bar ended {_age(age)} ago (stale after {_age(limit)})")
    return problems


def coverage(wh: Warehouse, symbols: Sequence[str], interval: str, first: datetime, start: date, end: date) -> list[str]:
    """Problems with stored bars for a replay of [start, end] whose panel reads from `first`."""
    problems = []
    bars = wh.read_bars(list(symbols), interval, first, datetime.combine(end, datetime.min.time(), UTC)
                        + timedelta(days=1))
    got = bars.group_by("symbol").agg(pl.col("ts").min().alias("f"), pl.col("ts").max().alias("l"))
    span = {r["symbol"]: (r["f"], r["l"]) for r in got.iter_rows(named=True)}
    for s in symbols:
        if s not in span:
            problems.append(f"{s} has no stored {interval} bars between {first.date()} and {end}")
            continue
        f, last = span[s]
        if f.date() > start:
            problems.append(f"{s}'s stored bars start {f.date()}, after the replay start {start}")
        elif f > first + timedelta(days=14):
            problems.append(f"{s}'s stored bars start {f.date()}: the warm-up needs them from {first.date()}")
        if last.date() < end - timedelta(days=7):
            problems.append(f"{s}'s stored bars end {last.date()}, before the replay end {end}")
    return problems


def preflight(
    wh: Warehouse | None,
    cfg: Config | None,
    *,
    symbols: Sequence[str],
    interval: str,
    now: datetime,
    replay: tuple[date, date] | None = None,
    params_run: str | None = None,
    connect_broker: Callable[[], str] | None = None,
    config_error: str | None = None,
) -> PreflightReport:
    """Run every check. `connect_broker()` connects (and checks the account is paper) and returns a description,
    raising a TraderColsError otherwise; `config_error` is the message of a config that failed to load."""
    rep = PreflightReport()
    add = rep.checks.append
    if config_error or cfg is None:
        add(Check("config", False, config_error or "no config"))
        return rep
    problems = []
    if not symbols:
        problems.append("no symbols (--symbols or tickers in the config)")
    if cfg.engine.fill_on != "next_open":
        problems.append(f"engine.fill_on is {cfg.engine.fill_on!r}: fills at the deciding bar's close cannot be "
                        "traded; paper trading fills at the next open (set next_open)")
    add(Check("config", not problems, "; ".join(problems) or f"valid ({len(symbols)} symbols, {interval} bars)"))

    # warehouse
    run: ChosenRun | None = None
    readable = False
    if wh is None:
        add(Check("warehouse", False, "no warehouse"))
    else:
        try:
            files = _bar_files(wh, interval, symbols)
            readable = True
            add(Check("warehouse", True, f"{wh.root} readable ({files} bar files for these symbols)"))
        except TraderColsError as exc:
            add(Check("warehouse", False, f"not readable: {exc}"))

    # the run whose parameters decide, and the gate
    if readable:
        run = _run_checks(rep, wh, cfg, symbols, interval, params_run)

    # data: fresh (live) or covering the window (replay), then DataSanity
    if readable:
        try:
            if replay is None:
                issues = freshness(wh, cfg, symbols, interval, now)
                detail = "fresh: every symbol's latest bar is within its stale limit"
            else:
                first = history_start(run) if run else datetime.combine(replay[0], datetime.min.time(), UTC)
                issues = coverage(wh, symbols, interval, first, *replay)
                detail = f"stored bars cover {replay[0]} .. {replay[1]} with warm-up"
            add(Check("data", not issues, "; ".join(issues) or detail))
            add(_sanity_check(wh, cfg, symbols, interval, now, run, replay))
        except TraderColsError as exc:
            add(Check("data", False, str(exc)))

    # broker
    if connect_broker is None:
        add(Check("broker", False, "no broker to check"))
    else:
        try:
            add(Check("broker", True, connect_broker()))
        except TraderColsError as exc:
            add(Check("broker", False, str(exc)))

    # risk limits
    r = cfg.risk
    unset = [name for name in ("max_position_pct", "max_gross_leverage", "daily_loss_cut_pct", "max_drawdown_pct")
             if not (isinstance(getattr(r, name), float) and math.isfinite(getattr(r, name)) and getattr(r, name) > 0)]
    add(Check("risk_limits", not unset, f"not set: {', '.join(unset)}" if unset else
              f"max position {r.max_position_pct:.0%}, gross leverage {r.max_gross_leverage:g}, daily loss cut "
              f"{r.daily_loss_cut_pct:.1%}, max drawdown {r.max_drawdown_pct:.0%}"))
    if r.stop_loss_pct is not None:
        add(Check("stop_loss", True, f"stop_loss_pct {r.stop_loss_pct:.0%}: every position gets a protective stop "
                  "order at the broker, renewed each cycle", blocking=False))
    return rep


def _bar_files(wh: Warehouse, interval: str, symbols: Sequence[str]) -> int:
    with wh.connect(views=False) as con:
        return int(con.execute("SELECT count(*) FROM bar_files WHERE interval = $i AND list_contains($s, symbol)",
                               {"i": interval, "s": list(symbols)}).fetchone()[0])


def _run_checks(rep: PreflightReport, wh: Warehouse, cfg: Config, symbols, interval: str,
                params_run: str | None) -> ChosenRun | None:
    add = rep.checks.append
    read = functools.partial(read_catalog, wh)
    try:
        if params_run is None:
            runs = find_runs(read, cfg, interval, symbols)
            walkforwards = runs.filter(pl.col("kind") == "walkforward") if runs.height else runs
            if not walkforwards.height:
                add(Check("walkforward", False, f"no finished walkforward over {interval} bars covering "
                          f"{', '.join(symbols)} with this config's composer/features/regimes (run `tcols walkforward`)"))
                return None
            params_run = walkforwards["run_id"][0]
        run = load_run(read, cfg, params_run, symbols=symbols, interval=interval)
    except TraderColsError as exc:
        add(Check("walkforward", False, str(exc)))
        return None
    rep.run = run
    add(Check("walkforward", True, f"{run.kind} {run.run_id} (finished, last fold {run.last_fold} tested "
              f"{run.test_start:%Y-%m-%d} .. {run.test_end:%Y-%m-%d})"))
    g = cfg.paper.gate
    fails = []
    if run.sharpe is None or not math.isfinite(run.sharpe) or run.sharpe < g.min_sharpe:
        fails.append(f"out-of-sample Sharpe {_fmt(run.sharpe)} < {g.min_sharpe:g}")
    if run.max_drawdown is None or not math.isfinite(run.max_drawdown) or run.max_drawdown > g.max_drawdown_pct:
        fails.append(f"max drawdown {_fmt(run.max_drawdown, pct=True)} > {g.max_drawdown_pct:.0%}")
    if run.trades is None or not math.isfinite(run.trades) or run.trades < g.min_trades:
        fails.append(f"{_fmt(run.trades)} trades < {g.min_trades}")
    add(Check("gate", not fails, "; ".join(fails) or f"Sharpe {run.sharpe:.2f} >= {g.min_sharpe:g}, max drawdown "
              f"{run.max_drawdown:.1%} <= {g.max_drawdown_pct:.0%}, {run.trades:g} trades >= {g.min_trades}"))
    return run


def _sanity_check(wh: Warehouse, cfg: Config, symbols, interval: str, now: datetime, run: ChosenRun | None,
                  replay: tuple[date, date] | None) -> Check:
    if replay is not None:
        first = history_start(run) if run else datetime.combine(replay[0], datetime.min.time(), UTC) - timedelta(days=400)
        last = datetime.combine(replay[1], datetime.min.time(), UTC) + timedelta(days=1) - timedelta(microseconds=1)
        as_of = last + timedelta(days=1)
    else:
        first = history_start(run) if run else now - timedelta(days=400)
        last = as_of = now
    bars = wh.read_bars(list(symbols), interval, first, last)
    if not bars.height:
        return Check("data_sanity", False, "no bars to check")
    report = validate(bars, cfg.data_sanity, as_of=as_of, asset_classes=cfg.asset_classes, mode="enforce",
                      interval=interval, ordered_input=True)
    if report.ok():
        return Check("data_sanity", True, f"clean ({bars.height} bars, profile {report.profile}; "
                                          f"{report.findings.height} warning(s))")
    return Check("data_sanity", False, report.summary(max_rows=2).replace("\n", " | "))


def _fmt(v: float | None, *, pct: bool = False) -> str:
    if v is None or not math.isfinite(v):
        return "n/a"
    return f"{v:.1%}" if pct else f"{v:.2f}"


def _age(d: timedelta) -> str:
    hours = d.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} h"
