"""A slow, obvious pure-Python simulator with the semantics of trader_cols.kernels.simulate (the test oracle).

Written for reading, not speed: plain floats and lists, one bar and one symbol at a time, and equity and gross
recomputed from scratch whenever they are needed instead of being carried along. See the kernel module
docstring for the rules; each step below names the rule it implements.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from trader_cols.kernels import records as R

NOISE_REL = 1e-10
FUND_TOL = 1e-12


def _on(pct: float) -> bool:
    return pct > 0.0 and pct < math.inf  # nan compares False


@dataclass
class Book:
    """Cash, positions and the per-position bookkeeping of one simulated account."""

    params: R.SimParams
    n: int
    cash: float = 0.0
    pos: list = field(default_factory=list)
    entry: list = field(default_factory=list)
    stopped: list = field(default_factory=list)  # +1 / -1: side stopped out and not yet released
    fills: list = field(default_factory=list)
    fees: float = 0.0
    turnover: float = 0.0
    unfunded: int = 0

    def __post_init__(self):
        self.cash = self.params.initial_capital
        self.pos = [0.0] * self.n
        self.entry = [math.nan] * self.n
        self.stopped = [0] * self.n

    def equity(self, prices) -> float:
        return self.cash + sum(q * p for q, p in zip(self.pos, prices, strict=True) if q != 0.0)

    def gross(self, prices) -> float:
        return sum(abs(q * p) for q, p in zip(self.pos, prices, strict=True) if q != 0.0)

    def fee(self, qty: float, price: float) -> float:
        p = self.params
        if qty == 0.0:
            return 0.0
        return max(
            p.commission_min,
            abs(qty) * price * p.commission_bps * 1e-4 + abs(qty) * p.commission_per_share,
        )

    def fill_price(self, ref: float, qty: float) -> float:
        side = 1 if qty > 0 else -1
        return ref * (1.0 + side * self.params.slippage_bps * 1e-4)

    def trade(self, bar: int, i: int, qty: float, ref: float, reason: int) -> None:
        price = self.fill_price(ref, qty)
        fee = self.fee(qty, price)
        old = self.pos[i]
        new = old + qty
        if new == 0.0:
            self.entry[i] = math.nan
        elif old == 0.0 or (old > 0) != (new > 0):
            self.entry[i] = price
        elif abs(new) > abs(old):
            self.entry[i] = (abs(old) * self.entry[i] + abs(qty) * price) / abs(new)
        self.pos[i] = new
        self.cash -= qty * price + fee
        self.fills.append((bar, i, 1 if qty > 0 else -1, reason, abs(qty), price, fee))
        self.fees += fee
        self.turnover += abs(qty) * price

    def stop_level(self, i: int) -> float:
        if self.pos[i] > 0:
            return self.entry[i] * (1.0 - self.params.stop_loss_pct)
        return self.entry[i] * (1.0 + self.params.stop_loss_pct)

    def stop_out(self, bar: int, i: int, ref: float) -> None:
        self.stopped[i] = 1 if self.pos[i] > 0 else -1
        self.trade(bar, i, -self.pos[i], ref, R.REASON_STOP_LOSS)


def round_lot(qty: float, lot: float) -> float:
    if lot <= 0.0:
        return qty
    units = math.floor(abs(qty) / lot) * lot
    return units if qty >= 0 else -units


def fundable(book: Book, headroom: float, ref: float) -> float:
    """Largest quantity whose gross and costs fit the headroom: a bisection on the monotone cost curve."""
    p = book.params
    lev = p.max_gross_leverage
    fill = ref * (1.0 + p.slippage_bps * 1e-4)

    def need(u: float) -> float:
        return u * ref + lev * (u * (fill - ref) + book.fee(u, fill))

    if headroom <= 0.0:
        return 0.0
    # need() is increasing for u > 0, with a jump at 0 when there is a minimum commission.
    hi = headroom / ref + 1.0
    while need(hi) <= headroom:
        hi *= 2.0
    lo = 0.0
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if need(mid) <= headroom:
            lo = mid
        else:
            hi = mid
    return lo


def execute(
    book: Book, bar: int, refs, marks, can, raw_targets, forced: int, exec_log: dict
) -> None:
    """One execution point: desired weights, caps, gross scaling, reductions first, funded increases after."""
    p = book.params
    n = book.n
    equity = book.equity(marks)
    exec_log["equity"] = equity
    if equity <= 0.0:
        forced = R.REASON_LIQUIDATION
    weights: dict[int, float] = {}
    reasons: dict[int, int] = {}
    for i in range(n):
        if not can[i]:
            continue
        if forced:
            weights[i], reasons[i] = 0.0, forced
            continue
        raw = raw_targets[i]
        if math.isnan(raw):
            if p.hold_on_nan:
                w = book.pos[i] * marks[i] / equity if book.pos[i] != 0.0 else 0.0
            else:
                w = 0.0
                book.stopped[i] = 0
        else:
            w = raw
            if book.stopped[i] != 0:
                if w * book.stopped[i] > 0:
                    w = 0.0  # no re-entry on the stopped side
                else:
                    book.stopped[i] = 0
        reason = R.REASON_REBALANCE
        if w < 0 and not p.allow_short:
            w, reason = 0.0, R.REASON_NO_SHORT
        if abs(w) > p.max_position_pct:
            w, reason = math.copysign(p.max_position_pct, w), R.REASON_POSITION_CAP
        weights[i], reasons[i] = w, reason

    if not forced and p.max_gross_leverage < math.inf:
        frozen = (
            sum(abs(book.pos[i] * marks[i]) for i in range(n) if not can[i] and book.pos[i] != 0.0)
            / equity
        )
        total = sum(abs(w) for w in weights.values())
        budget = p.max_gross_leverage - frozen
        if total > 0 and total > budget:
            factor = budget / total if budget > 0 else 0.0
            for i in weights:
                if weights[i] != 0.0:
                    weights[i] *= factor
                    reasons[i] = max(reasons[i], R.REASON_GROSS_CAP)

    orders: dict[int, float] = {}
    for i, w in weights.items():
        old = book.pos[i]
        if w == 0.0:
            d = -old
        else:
            want = w * equity / refs[i]
            d = want - old
            if abs(d) * refs[i] <= NOISE_REL * (max(abs(old), abs(want)) * refs[i] + abs(equity)):
                d = 0.0
            d = round_lot(d, p.lot_size)
        if d != 0.0:
            orders[i] = d

    def reduces(i: int, d: float) -> bool:
        old = book.pos[i]
        return old != 0.0 and (old > 0) != (d > 0) and abs(d) <= abs(old)

    reducing = {i for i, d in orders.items() if reduces(i, d)}
    for i in sorted(reducing):
        book.trade(bar, i, orders[i], refs[i], reasons[i])
    for i in sorted(set(orders) - reducing):
        d = orders[i]
        reason = reasons[i]
        size = abs(d)
        lev = p.max_gross_leverage
        if lev < math.inf:
            old = book.pos[i]
            flip = old != 0.0 and (old > 0) != (d > 0)
            eq_now = book.equity(marks)
            gross_now = book.gross(marks)
            headroom = lev * eq_now - gross_now + (2.0 * abs(old) * refs[i] if flip else 0.0)
            fill = book.fill_price(refs[i], d)
            need = size * refs[i] + lev * (size * abs(fill - refs[i]) + book.fee(size, fill))
            if need > headroom + FUND_TOL * abs(eq_now) * max(lev, 1.0):
                most = round_lot(fundable(book, headroom, refs[i]), p.lot_size)
                if flip and (most - abs(old)) * refs[i] <= NOISE_REL * (
                    abs(old) * refs[i] + abs(eq_now)
                ):
                    most = abs(old)
                if most < size:
                    size = most
                    reason = max(reason, R.REASON_FUNDING_CLIP)
                if size * refs[i] <= NOISE_REL * (abs(old) * refs[i] + abs(eq_now)):
                    book.unfunded += 1
                    continue
        book.trade(bar, i, math.copysign(size, d), refs[i], reason)
    exec_log["gross"] = book.gross(marks)


def forced_reason(halted: bool, daily_pending: bool, same_locked_session: bool) -> int:
    """The exit an execution is forced into: drawdown halt first, then the daily loss lock, else none (0)."""
    if halted:
        return R.REASON_MAX_DRAWDOWN
    if daily_pending or same_locked_session:
        return R.REASON_DAILY_LOSS
    return 0


def simulate_reference(
    open_, high, low, close, target, tradable, session_id, params: R.SimParams
) -> dict:
    """Run the reference over nested lists / arrays `[T][N]`; returns the kernel's outputs as plain Python."""
    p = params
    n_bars, n = len(close), len(close[0])
    book = Book(p, n)
    last_close = [math.nan] * n
    out = {k: [] for k in ("equity", "cash", "gross", "exec_equity", "exec_gross", "positions")}
    peak = p.initial_capital
    session_ref = p.initial_capital
    prev_equity = p.initial_capital
    halted, halt_until = False, math.inf
    daily_pending, daily_locked, lock_session = False, False, None
    stat_peak, max_dd = p.initial_capital, 0.0

    for t in range(n_bars):
        if t > 0 and session_id[t] != session_id[t - 1]:
            session_ref = prev_equity
            daily_locked = False
        if halted and t >= halt_until:
            halted = False
            peak = prev_equity

        def finite_pos(x: float) -> bool:
            return 0.0 < x < math.inf

        priced = [all(finite_pos(a[t][i]) for a in (open_, high, low, close)) for i in range(n)]
        can = [priced[i] and bool(tradable[t][i]) for i in range(n)]

        # Gap stops at the open.
        if _on(p.stop_loss_pct):
            for i in range(n):
                if can[i] and book.pos[i] != 0.0:
                    level = book.stop_level(i)
                    o = open_[t][i]
                    if (book.pos[i] > 0 and o <= level) or (book.pos[i] < 0 and o >= level):
                        book.stop_out(t, i, o)

        log: dict = {}
        if not p.fill_on_close:
            forced = forced_reason(
                halted, daily_pending, daily_locked and session_id[t] == lock_session
            )
            daily_pending = False
            marks = [open_[t][i] if priced[i] else last_close[i] for i in range(n)]
            raw = [target[t - 1][i] for i in range(n)] if t > 0 else [math.nan] * n
            execute(book, t, [open_[t][i] for i in range(n)], marks, can, raw, forced, log)

        # Intrabar stops.
        if _on(p.stop_loss_pct):
            for i in range(n):
                if can[i] and book.pos[i] != 0.0:
                    level = book.stop_level(i)
                    if book.pos[i] > 0 and low[t][i] <= level:
                        book.stop_out(t, i, min(level, open_[t][i]))
                    elif book.pos[i] < 0 and high[t][i] >= level:
                        book.stop_out(t, i, max(level, open_[t][i]))

        for i in range(n):
            if priced[i]:
                last_close[i] = close[t][i]
        equity = book.equity(last_close)

        if not halted:
            peak = max(peak, equity)
            if _on(p.max_drawdown_pct) and equity <= peak * (1.0 - p.max_drawdown_pct):
                halted = True
                halt_until = t + p.cooloff_bars + 1 if p.cooloff_bars > 0 else math.inf
            elif (
                _on(p.daily_loss_cut_pct)
                and not daily_locked
                and equity <= session_ref * (1.0 - p.daily_loss_cut_pct)
            ):
                daily_pending, daily_locked, lock_session = True, True, session_id[t]

        if p.fill_on_close:
            forced = forced_reason(
                halted, daily_pending, daily_locked and session_id[t] == lock_session
            )
            daily_pending = False
            raw = [target[t][i] for i in range(n)]
            execute(
                book, t, [close[t][i] for i in range(n)], list(last_close), can, raw, forced, log
            )
            equity = book.equity(last_close)

        out["equity"].append(equity)
        out["cash"].append(book.cash)
        out["gross"].append(book.gross(last_close))
        out["exec_equity"].append(log["equity"])
        out["exec_gross"].append(log["gross"])
        out["positions"].append(list(book.pos))
        prev_equity = equity
        stat_peak = max(stat_peak, equity)
        if stat_peak > 0:
            max_dd = max(max_dd, 1.0 - equity / stat_peak)

    out["fills"] = book.fills
    out["stats"] = [float(len(book.fills)), book.fees, book.turnover, float(book.unfunded), max_dd,
                    *round_trip_stats(book.fills)]
    return out


def round_trip_stats(fills: list) -> list[float]:
    """[closed trades, winners, sum of returns] from the fill log: a trade runs from flat to flat (a flip ends one
    and starts the next, its fee split by quantity); return = (cash flow - fees) / (largest |position| x the
    average price of the fills that grew the position)."""
    open_: dict[int, dict] = {}
    held: dict[int, float] = {}
    rets = []
    for _bar, i, side, _reason, qty, price, fee in fills:
        legs = []
        before = held.get(i, 0.0)
        after = before + side * qty
        if before != 0.0 and (before > 0) != (after > 0) and after != 0.0:
            legs = [(-before, fee * abs(before) / qty), (after, fee * abs(after) / qty)]
        else:
            legs = [(side * qty, fee)]
        for signed, leg_fee in legs:
            q0 = held.get(i, 0.0)
            q1 = q0 + signed
            tr = open_.setdefault(i, {"flow": 0.0, "fees": 0.0, "max": 0.0, "value": 0.0, "qty": 0.0})
            tr["flow"] -= signed * price
            tr["fees"] += leg_fee
            if abs(q1) > abs(q0):
                tr["max"] = max(tr["max"], abs(q1))
                tr["value"] += abs(signed) * price
                tr["qty"] += abs(signed)
            held[i] = q1
            if q1 == 0.0:
                t = open_.pop(i)
                rets.append((t["flow"] - t["fees"]) / (t["max"] * t["value"] / t["qty"]))
    return [float(len(rets)), float(sum(r > 0 for r in rets)), float(sum(rets))]
