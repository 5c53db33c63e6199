"""Target weights and the broker's book → the orders of one execution, by the simulation kernel's own rules.

`plan_execution` is one execution step of `kernels/simulate.py` (next-open mode) for a book the broker holds:
gap stops at the reference price, forced exits (daily loss, drawdown halt, liquidation), the per-symbol rules
(no shorts, ±max_position_pct), the pro-rata gross scale, target quantity = weight × equity / reference price
(rounded to lots, float noise ignored), reducing orders first (symbol order) and then the increasing ones, each
clipped to what max_gross_leverage can fund. It uses the kernels' scalar functions (`kernels/fills.py`,
`kernels/risk.py`) and predicts each fill as the simulated broker books it, so a replay through that broker
reproduces the backtest's fills. Pure: no I/O.

The kernel's intrabar stop (a position exits at its stop level inside the bar) becomes a protective stop order per
position after the execution (`protective_stops`): the stop level from the predicted average fill price, as the
kernel computes it; the simulated broker fills it by the kernel's intrabar rule.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from trader_cols.kernels.fills import fees_nb, fill_price_nb, max_fundable_qty_nb, round_lot_nb
from trader_cols.kernels.records import (
    REASON_FUNDING_CLIP,
    REASON_GROSS_CAP,
    REASON_LIQUIDATION,
    REASON_NAMES,
    REASON_REBALANCE,
    REASON_STOP_LOSS,
    SimParams,
)
from trader_cols.kernels.risk import (
    gap_stop_hit_nb,
    gross_scale_nb,
    limit_on_nb,
    shape_weight_nb,
    stop_price_nb,
)
from trader_cols.kernels.simulate import FUND_TOL, NOISE_REL

_HOLD = -2  # a held position, untouched unless the gross scale moves it
INF = math.inf


@dataclass(frozen=True)
class PlannedOrder:
    """One order of an execution: signed `qty` of `symbol` sized at `ref_price`, and the rule that shaped it."""

    symbol: str
    qty: float
    ref_price: float
    reason: str
    kind: Literal["stop", "exec", "protect"] = "exec"  # stop: a gap stop at the reference; protect: a stop order
    stop_price: float | None = None  # the trigger of a "protect" order

    @property
    def side(self) -> Literal["buy", "sell"]:
        """buy for a positive quantity, sell for a negative one."""
        return "buy" if self.qty > 0 else "sell"


@dataclass(frozen=True)
class Decision:
    """One decision of the risk layer, journalled with its reason."""

    scope: Literal["book", "order"]
    rule: str
    action: str  # allow | shape | flatten | halt | resume | skip | refuse
    reason: str
    symbol: str | None = None
    value: float | None = None
    limit_value: float | None = None


@dataclass
class Plan:
    """The orders of one execution in placement order, the decisions behind them and the predicted book after it."""

    orders: list[PlannedOrder]
    decisions: list[Decision]
    exec_equity: float  # E the orders were sized from: cash + positions at reference prices
    forced: int  # the forced-exit reason code in force (0 = none)
    stopped: dict[str, int]
    cash_after: float  # cash once every order has filled at its reference price (+ slippage and fees)
    qty_after: dict[str, float] = field(default_factory=dict)
    avg_after: dict[str, float] = field(default_factory=dict)  # predicted average fill price of each position


def _priced(price: float | None) -> bool:
    return price is not None and math.isfinite(price) and price > 0.0


def plan_execution(
    symbols: Sequence[str],
    cash: float,
    qty: Mapping[str, float],
    avg_cost: Mapping[str, float],
    targets: Mapping[str, float],
    ref: Mapping[str, float],
    last_close: Mapping[str, float],
    params: SimParams,
    *,
    forced: int = 0,
    stopped: Mapping[str, int] | None = None,
) -> Plan:
    """Plan one execution.

    `symbols`: the book's symbols (sorted here: the kernel's symbol order). `qty`/`avg_cost`: the broker's signed
    positions and average fill prices. `targets`: the weight decided for each symbol (NaN or absent = no decision:
    hold when `params.hold_on_nan`, else 0). `ref`: the reference price of each symbol that can trade at this
    execution (absent = it cannot: held and valued at `last_close`). `forced`: the risk state's forced-exit code.
    `stopped`: symbol → side a stop closed (updated copy returned in the plan).
    """
    names = sorted(symbols)
    p = params
    slip, lev, cap, lot = p.slippage_bps, p.max_gross_leverage, p.max_position_pct, p.lot_size
    stop_on = limit_on_nb(p.stop_loss_pct)
    pos = {s: float(qty.get(s, 0.0)) for s in names}
    entry = {s: float(avg_cost.get(s, math.nan)) for s in names}
    stopped_out = dict(stopped or {})
    orders: list[PlannedOrder] = []
    decisions: list[Decision] = []

    def book(symbol: str, d: float, px: float, reason: int, kind: str = "exec") -> tuple[float, float, float]:
        """Predict the fill of signed `d` at reference `px`: (cash delta, equity cost, gross delta)."""
        side = 1 if d > 0.0 else -1
        price = fill_price_nb(px, side, slip)
        fee = fees_nb(d, price, p.commission_bps, p.commission_per_share, p.commission_min)
        x = pos[symbol]
        new = x + d
        if new == 0.0:
            entry[symbol] = math.nan
        elif x == 0.0 or x * new < 0.0:
            entry[symbol] = price
        elif abs(new) > abs(x):
            entry[symbol] = (abs(x) * entry[symbol] + abs(d) * price) / abs(new)
        pos[symbol] = new
        orders.append(PlannedOrder(symbol, d, px, REASON_NAMES[reason], kind))  # type: ignore[arg-type]
        return -d * price - fee, abs(d) * abs(price - px) + fee, (abs(new) - abs(x)) * px

    # ---- the open: gap stops, and the book's value at reference prices
    held = gross = frozen = 0.0
    val: dict[str, float] = {}
    hits: list[tuple[str, float]] = []
    for s in names:
        px = ref.get(s)
        can = _priced(px)
        x = pos[s]
        if stop_on and can and x != 0.0:
            level = stop_price_nb(x, entry[s], p.stop_loss_pct)
            if gap_stop_hit_nb(x, level, px):
                hits.append((s, px))
                x = 0.0
        mark = px if can else last_close.get(s, 0.0)
        v = x * mark if x != 0.0 else 0.0
        held += v
        gross += abs(v)
        if not can:
            frozen += abs(v)
        val[s] = v
    for s, px in hits:
        stopped_out[s] = 1 if pos[s] > 0.0 else -1
        decisions.append(Decision("order", "stop_loss", "flatten", f"reference {px:g} at or through the stop of "
                                  f"the {'long' if pos[s] > 0 else 'short'} position (average cost {entry[s]:g})", s,
                                  px, stop_price_nb(pos[s], entry[s], p.stop_loss_pct)))
        cd, _cost, _gd = book(s, -pos[s], px, REASON_STOP_LOSS, "stop")
        cash += cd
    equity = cash + held
    equity_pre = equity
    if equity <= 0.0:
        forced = REASON_LIQUIDATION
        decisions.append(Decision("book", "liquidation", "flatten", f"equity {equity:.2f} is not positive", None,
                                  equity, 0.0))

    # ---- desired weights
    w: dict[str, float] = {}
    why: dict[str, int] = {}
    sum_w = hold_abs = 0.0
    for s in names:
        if not _priced(ref.get(s)):
            continue
        x = pos[s]
        if forced != 0:
            if x != 0.0:
                w[s], why[s] = 0.0, forced
            continue
        raw = float(targets.get(s, math.nan)) if targets.get(s) is not None else math.nan
        if raw != raw:
            if p.hold_on_nan:
                v = val[s]
                if abs(v) <= cap * equity and (v >= 0.0 or p.allow_short):
                    why[s] = _HOLD
                    hold_abs += abs(v)
                    continue
                raw = v / equity
            else:
                raw = 0.0
                stopped_out.pop(s, None)
        elif stopped_out.get(s, 0) != 0:
            if raw * stopped_out[s] > 0.0:
                decisions.append(Decision("order", "stop_loss", "skip", f"target {raw:g} would re-enter the side "
                                          "a stop closed; waiting for the target to reset", s, raw, 0.0))
                raw = 0.0
            else:
                stopped_out.pop(s)
        wi, r = shape_weight_nb(raw, p.allow_short, cap)
        if r != REASON_REBALANCE:
            decisions.append(Decision("order", REASON_NAMES[r], "shape", f"target {raw:g} → {wi:g}", s, raw,
                                      0.0 if REASON_NAMES[r] == "no_short" else cap))
        if wi == 0.0 and x == 0.0:
            continue
        w[s], why[s] = wi, r
        sum_w += abs(wi)
    scale = 1.0
    if forced == 0:
        scale = gross_scale_nb(sum_w * equity + hold_abs, frozen, lev * equity)
        if scale < 1.0:
            decisions.append(Decision("book", "gross_cap", "shape", f"weights scaled by {scale:.6f} to fit "
                                      f"max_gross_leverage {lev:g}", None, (sum_w * equity + hold_abs + frozen)
                                      / equity if equity else INF, lev))

    # ---- pass 1: size; reducing orders fill first (symbol order), the others queue
    reducing: list[tuple[str, float]] = []
    pending: list[tuple[str, float]] = []
    for s in names:
        r = why.get(s)
        if r is None:
            continue
        if r == _HOLD:
            if scale == 1.0:
                continue
            wi = val[s] / equity_pre * scale
            r = REASON_GROSS_CAP
        else:
            wi = w[s]
            if scale < 1.0 and wi != 0.0:
                wi *= scale
                r = max(r, REASON_GROSS_CAP)
        why[s] = r
        x = pos[s]
        px = ref[s]
        if wi == 0.0:
            d = -x
        else:
            qstar = wi * equity_pre / px
            d = qstar - x
            if abs(d) * px <= NOISE_REL * (max(abs(x), abs(qstar)) * px + abs(equity_pre)):
                continue
            d = round_lot_nb(d, lot)
        if d == 0.0:
            continue
        if x != 0.0 and d * x < 0.0 and abs(d) <= abs(x):
            reducing.append((s, d))
        else:
            pending.append((s, d))
    for s, d in reducing:
        cd, cost, gd = book(s, d, ref[s], why[s])
        cash += cd
        equity -= cost
        gross += gd

    # ---- pass 2: increasing or flipping orders, each clipped to what can be funded
    for s, d in pending:
        x = pos[s]
        px = ref[s]
        u = abs(d)
        r = why[s]
        if lev < INF:
            headroom = lev * equity - gross
            if x != 0.0 and x * d < 0.0:
                headroom += 2.0 * abs(x) * px
            fee = fees_nb(u, fill_price_nb(px, 1 if d > 0.0 else -1, slip), p.commission_bps,
                          p.commission_per_share, p.commission_min)
            need = px * (1.0 + lev * slip * 1e-4) * u + lev * fee
            if need > headroom + FUND_TOL * abs(equity) * max(lev, 1.0):
                umax = round_lot_nb(
                    max_fundable_qty_nb(headroom, px, slip, lev, p.commission_bps, p.commission_per_share,
                                        p.commission_min),
                    lot,
                )
                noise = NOISE_REL * (abs(x) * px + abs(equity))
                if x != 0.0 and x * d < 0.0 and (umax - abs(x)) * px <= noise:
                    umax = abs(x)  # closing the old side is always allowed; a noise-sized new side is not
                if umax < u:
                    decisions.append(Decision("order", "funding_clip", "shape", f"quantity {u:g} → {umax:g}: "
                                              f"max_gross_leverage {lev:g} leaves {max(headroom, 0.0):.2f}", s, u,
                                              umax))
                    u = umax
                    r = max(r, REASON_FUNDING_CLIP)
                if u * px <= noise:
                    decisions.append(Decision("order", "funding_clip", "skip", "nothing can be funded", s, 0.0,
                                              0.0))
                    continue
        cd, cost, gd = book(s, u if d > 0.0 else -u, px, r)
        cash += cd
        equity -= cost
        gross += gd
    return Plan(orders, decisions, equity_pre, forced, stopped_out, cash, {s: q for s, q in pos.items() if q != 0.0},
                {s: entry[s] for s, q in pos.items() if q != 0.0})


def protective_stops(qty: Mapping[str, float], avg_cost: Mapping[str, float], params: SimParams) -> list[PlannedOrder]:
    """One stop order per position (symbol order) that closes it where the kernel's intrabar stop would: the level is
    `stop_price_nb` of the position and its average fill price. Empty when `stop_loss_pct` is off."""
    if not limit_on_nb(params.stop_loss_pct):
        return []
    out = []
    for s in sorted(qty):
        x = float(qty[s])
        level = stop_price_nb(x, float(avg_cost.get(s, math.nan)), params.stop_loss_pct) if x != 0.0 else math.nan
        if math.isfinite(level) and level > 0.0:
            out.append(PlannedOrder(s, -x, level, REASON_NAMES[REASON_STOP_LOSS], "protect", level))
    return out
