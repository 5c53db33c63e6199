"""The paper loop's book-level risk state: the kernel's daily loss cut and drawdown halt, bar by bar, as JSON-able data.

The rules are those of `trader_cols/kernels/simulate.py` (docs/kernel.md), driven one bar at a time:

- `begin_bar(bar_no, session)` at the start of a bar: a new session takes the previous close's equity as its
  reference and lifts the daily lock; a drawdown halt whose cool-off has run out is lifted and the peak
  restarts from the previous close's equity.
- `forced_exit()` at that bar's execution: `max_drawdown` while halted, `daily_loss` when a daily cut is pending
  or the session is locked; a pending cut is consumed.
- `close_bar(bar_no, session, equity)` at the bar's close: peak update, then the drawdown check (halt), else the
  daily-loss check (flatten at the next execution, no new risk for the rest of the session).

Pure: no clock and no I/O; the loop persists `to_dict()` in the journal with every cycle.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from trader_cols.kernels.records import REASON_DAILY_LOSS, REASON_MAX_DRAWDOWN
from trader_cols.kernels.risk import limit_on_nb, loss_hit_nb

NEVER = -1  # halt_until when a drawdown halt is for good (cooloff_bars = 0)


@dataclass
class RiskState:
    """Where the book stands against its loss limits. Bars are numbered from 0 in the order the session saw them.

    `stopped` maps a symbol to the side (+1 long, -1 short) a stop loss closed; it is not re-entered on that side
    until its target passes through zero or changes sign (the kernel's rule).
    """

    initial_equity: float
    peak: float
    session_ref: float
    prev_equity: float
    prev_session: int | None = None
    begun: int = -1  # the last bar begun
    closed: int = -1  # the last bar closed
    halted: bool = False
    halt_until: int = NEVER
    daily_pending: bool = False
    daily_locked: bool = False
    lock_session: int = 0
    stopped: dict[str, int] = field(default_factory=dict)
    stop_execs: list[str] = field(default_factory=list)  # protective-stop fills already applied (recent cycles)

    @classmethod
    def start(cls, equity: float) -> RiskState:
        """A fresh book with `equity` (the initial capital, or the account's equity at the first cycle)."""
        return cls(initial_equity=equity, peak=equity, session_ref=equity, prev_equity=equity)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (floats stay exact through JSON)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RiskState:
        """Inverse of `to_dict`."""
        return cls(**{**d, "stopped": {k: int(v) for k, v in d.get("stopped", {}).items()}})

    # ------------------------------------------------------------------ the kernel's bar events

    def begin_bar(self, bar_no: int, session: int, cooloff_bars: int) -> list[tuple[str, str]]:
        """Start bar `bar_no` of `session`. Returns the book events it caused as (rule, reason) pairs."""
        events: list[tuple[str, str]] = []
        if bar_no <= self.begun:
            return events
        if self.prev_session is not None and session != self.prev_session:
            self.session_ref = self.prev_equity
            self.daily_locked = False
        if self.halted and self.halt_until != NEVER and bar_no >= self.halt_until:
            self.halted = False
            self.peak = self.prev_equity
            events.append(("max_drawdown", f"cool-off of {cooloff_bars} bars over: trading resumes, peak restarts "
                                           f"at {self.prev_equity:.2f}"))
        self.begun = bar_no
        return events

    def forced_exit(self, session: int) -> int:
        """The forced-exit reason code of this bar's execution (0 = none); consumes a pending daily cut."""
        forced = 0
        if self.halted:
            forced = REASON_MAX_DRAWDOWN
        elif self.daily_pending or (self.daily_locked and session == self.lock_session):
            forced = REASON_DAILY_LOSS
        self.daily_pending = False
        return forced

    def close_bar(
        self, bar_no: int, session: int, equity: float, *, max_drawdown_pct: float, daily_loss_cut_pct: float,
        cooloff_bars: int,
    ) -> list[tuple[str, str]]:
        """Close bar `bar_no` at `equity`: the peak, then the drawdown check, else the daily-loss check."""
        events: list[tuple[str, str]] = []
        if bar_no <= self.closed:
            return events
        if not self.halted:
            if equity > self.peak:
                self.peak = equity
            if limit_on_nb(max_drawdown_pct) and loss_hit_nb(equity, self.peak, max_drawdown_pct):
                self.halted = True
                self.halt_until = bar_no + cooloff_bars + 1 if cooloff_bars > 0 else NEVER
                until = "for good" if cooloff_bars == 0 else f"for {cooloff_bars} bars"
                events.append(("max_drawdown", f"equity {equity:.2f} is {1 - equity / self.peak:.2%} below its peak "
                                               f"{self.peak:.2f} (limit {max_drawdown_pct:.2%}): flatten and halt {until}"))
            elif (limit_on_nb(daily_loss_cut_pct) and not self.daily_locked
                  and loss_hit_nb(equity, self.session_ref, daily_loss_cut_pct)):
                self.daily_pending = True
                self.daily_locked = True
                self.lock_session = session
                events.append(("daily_loss", f"equity {equity:.2f} is {1 - equity / self.session_ref:.2%} below the "
                                             f"session's reference {self.session_ref:.2f} (limit "
                                             f"{daily_loss_cut_pct:.2%}): flatten, no new risk this session"))
        self.prev_equity = equity
        self.prev_session = session
        self.closed = bar_no
        return events

    def drawdown(self, equity: float) -> float:
        """Drawdown of `equity` from the peak, as a positive fraction."""
        return 0.0 if not (self.peak > 0 and math.isfinite(equity)) else max(0.0, 1.0 - equity / self.peak)
