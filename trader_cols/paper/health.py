"""`tcols health`: warehouse, config, data freshness, broker connectivity and the paper loop's liveness, as checks
with a level each; the exit code is the worst level (0 OK, 1 WARN, 2 CRIT), the convention cron and monitoring
plugins understand."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from trader_cols.calendars import classify_symbol
from trader_cols.config import Config
from trader_cols.errors import TraderColsError
from trader_cols.paper.journal import Journal, read_catalog
from trader_cols.paper.preflight import freshness, stale_after
from trader_cols.warehouse import Warehouse

Level = Literal["ok", "warn", "crit"]
EXIT_CODES: dict[str, int] = {"ok": 0, "warn": 1, "crit": 2}
EVERY = {"1d": timedelta(days=1), "1h": timedelta(hours=1), "15m": timedelta(minutes=15)}
HEARTBEAT_SLACK = timedelta(minutes=10)


@dataclass(frozen=True)
class HealthCheck:
    """One check's verdict."""

    name: str
    level: Level
    detail: str


def exit_code(checks: Sequence[HealthCheck]) -> int:
    """The worst level's exit code (0 when there is nothing to check)."""
    return max((EXIT_CODES[c.level] for c in checks), default=0)


def health(
    wh: Warehouse | None,
    cfg: Config | None,
    *,
    now: datetime,
    symbols: Sequence[str] = (),
    interval: str = "1d",
    session: dict[str, Any] | None = None,
    probe_broker: Callable[[], str] | None = None,
    config_error: str | None = None,
) -> list[HealthCheck]:
    """Every check. `session` is the paper session to judge (None: none exists); `probe_broker()` connects and
    disconnects (raising a TraderColsError when it cannot)."""
    out: list[HealthCheck] = []
    if cfg is None:
        return [HealthCheck("config", "crit", config_error or "no config")]
    out.append(HealthCheck("config", "ok", "valid"))
    if wh is None:
        return [*out, HealthCheck("warehouse", "crit", "no warehouse")]
    try:
        read_catalog(wh, "SELECT count(*) AS n FROM schema_version")
        out.append(HealthCheck("warehouse", "ok", f"{wh.root} readable"))
    except TraderColsError as exc:
        return [*out, HealthCheck("warehouse", "crit", str(exc))]

    if session is not None:
        symbols, interval = tuple(session["symbols"]), session["interval"]
    if symbols:
        try:
            problems = freshness(wh, cfg, symbols, interval, now)
            out.append(HealthCheck("data", "crit" if problems else "ok", "; ".join(problems) or
                                   f"fresh ({len(symbols)} symbols, {interval})"))
        except TraderColsError as exc:
            out.append(HealthCheck("data", "crit", str(exc)))
    else:
        out.append(HealthCheck("data", "warn", "no symbols to check (no session; pass --symbols)"))

    if probe_broker is not None:
        try:
            out.append(HealthCheck("broker", "ok", probe_broker()))
        except TraderColsError as exc:
            out.append(HealthCheck("broker", "crit", str(exc)))

    out.extend(_loop_checks(wh, cfg, session, now, symbols, interval))
    return out


def _loop_checks(wh: Warehouse, cfg: Config, session, now: datetime, symbols, interval: str) -> list[HealthCheck]:
    if session is None:
        return [HealthCheck("paper", "warn", "no paper session in this warehouse")]
    out = []
    sid, status = session["paper_id"], session["status"]
    if status in ("failed", "no_go"):
        out.append(HealthCheck("paper", "crit", f"session {sid} is {status}: {session.get('message') or ''}".strip()))
    elif session["mode"] == "live" and status == "running":
        every = EVERY.get(cfg.paper.every, timedelta(days=1))
        age = now - _utc(session["updated_at"])
        level: Level = "ok" if age <= 2 * every + HEARTBEAT_SLACK else "crit"
        out.append(HealthCheck("paper", level, f"session {sid} running, heartbeat {_age(age)} ago"))
    else:
        out.append(HealthCheck("paper", "ok", f"session {sid} is {status}"))
    last = Journal(wh, sid).last_cycle()
    if last is None:
        out.append(HealthCheck("last_cycle", "warn", "no cycle yet"))
        return out
    age = now - _utc(last["created_at"])
    limit = max(stale_after(interval, classify_symbol(s, cfg.asset_classes) or "equity") for s in symbols) if symbols \
        else timedelta(days=4)
    limit += EVERY.get(cfg.paper.every, timedelta(days=1))
    if session["mode"] != "live":
        level = "ok"
        detail = f"cycle {last['cycle']} ({last['status']}) of a replay, bar {last['decision_ts']:%Y-%m-%d}"
    else:
        level = "ok" if age <= limit else "crit"
        detail = f"cycle {last['cycle']} ({last['status']}) {_age(age)} ago (limit {_age(limit)})"
    if last["status"] != "done" and session["mode"] == "live" and age > timedelta(minutes=30):
        level, detail = "warn" if level == "ok" else level, detail + "; it never finished (a restart resumes it)"
    out.append(HealthCheck("last_cycle", level, detail))
    risk = json.loads(last["risk_state_json"])
    if risk.get("halted"):
        out.append(HealthCheck("risk", "warn", "halted by the max drawdown limit: flat, no new risk"))
    elif risk.get("daily_locked"):
        out.append(HealthCheck("risk", "warn", "daily loss cut: flat for the rest of the session"))
    return out


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _age(d: timedelta) -> str:
    s = d.total_seconds()
    if s >= 2 * 86400:
        return f"{s / 86400:.1f} days"
    if s >= 3600:
        return f"{s / 3600:.1f} h"
    return f"{s / 60:.0f} min"
