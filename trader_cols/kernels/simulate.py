"""The order-simulation kernels: target weights over [T, N] price arrays → fills, positions, cash and equity.

Semantics (shared by every entry point; the slow reference is tests/kernels/reference.py)
==========================================================================================

Shapes and units. `open_`, `high`, `low`, `close` and `target` are C-contiguous float64 `[T, N]` (bars × symbols),
`tradable` is bool `[T, N]`, `session_id` int64 `[T]`. Prices are in account currency per unit; `target[t, i]` is
the signed weight (fraction of equity) decided at bar t's close. Quantities are units (shares), signed.

Priced bars and NaN. A bar of a symbol is *priced* when its open, high, low and close are all finite and > 0.
A symbol trades at bar t only if the bar is priced and `tradable[t, i]`; otherwise it holds: no fill of any
kind (no rebalance, no stop, no forced exit), and its position is valued at its last priced close.
A NaN target keeps the position (`hold_on_nan=True`) or means weight 0 (`hold_on_nan=False`). Targets must be
finite or NaN.

Timing. With `fill_on_close=False` (default) the targets of bar t-1 execute at bar t's open, with the open as
reference price; the last bar's targets never execute. With `fill_on_close=True` the targets of bar t execute at
bar t's close: optimistic, since the close that decided them is also the price they trade at.

One bar, next-open mode:
  1. gap stops: a position held into the bar whose stop lies at or beyond the open exits at the open;
  2. execution at the open (below);
  3. intrabar stops: a position whose stop the bar's low (long) or high (short) reaches exits at the stop
     (never at a better price than the open);
  4. mark at the close: equity = cash + Σ position × last priced close; gross = Σ |position × price|;
  5. loss checks on that equity (below) arm the forced exits of the next execution.
Close mode runs 1, 3, 4, 5, then executes at the close (so a loss check acts at once) and marks again.

Execution. E = cash + Σ position × mark, the mark being the reference price (or the last priced close for a
symbol that cannot trade). Desired weight per tradable symbol: the target (NaN → hold = its current weight), a
negative weight becomes 0 if `allow_short` is off, then it is clipped to ±`max_position_pct`. If Σ|w| over
the tradable symbols exceeds what `max_gross_leverage` leaves after the untradable positions, all tradable
weights are scaled down pro rata. Target quantity = w × E / reference price (unslipped); the order is the
difference to the position, ignored when worth <= 1e-10 of (the larger of the position and target value +
equity: float noise), rounded toward zero to `lot_size`
(a zero weight always closes the position exactly). Orders that only reduce a position execute first (symbol
order), then the ones that increase or flip it, each clipped so that after its fill gross ≤
`max_gross_leverage` × equity, both at reference prices (with leverage 1 and no shorts: cash never goes below 0).
A held position whose weight drifted above a cap is trimmed: the caps apply at every execution, not only when
a new target arrives.

Costs. Buys fill at ref × (1 + slippage_bps/1e4), sells at ref × (1 − slippage_bps/1e4). Commission per fill =
max(commission_min, qty × fill price × commission_bps/1e4 + qty × commission_per_share). Both are paid in cash.

Stop loss (`stop_loss_pct`). The stop of a position is its average fill price × (1 − pct) for a long,
× (1 + pct) for a short (a flip restarts it). After a stop, the symbol is not re-entered on the same side until
its target passes through zero or changes sign (a NaN target that holds keeps it out).

Daily loss (`daily_loss_cut_pct`). A session is a run of bars with the same `session_id`; its reference is the
equity at the last close of the previous session (the initial capital for the first). When a close's equity is
at or below reference × (1 − pct), every position is flattened at the next execution (the next open, or this
close in close mode) and no new risk is taken at any execution of the same session, nor at the flattening one.
For daily bars each bar is its own session, so the rule reads: a close-to-close loss of pct flattens at the next
open and sits out that one bar; the targets of the bar after resume.

Max drawdown (`max_drawdown_pct`). When a close's equity is at or below peak × (1 − pct), every position is
flattened at the next execution and trading halts: for good if `cooloff_bars` is 0, otherwise for the
`cooloff_bars` bars after the trigger bar, after which the peak restarts from the current equity. The peak is the
highest close equity since the start (or the restart), marked before any close-mode trade of that bar.

Liquidation. If equity at an execution is ≤ 0, every position is flattened and nothing new is opened.

Forced exits carry their reason (records.REASON_*); see records.py for the codes and their priority.

Outputs. equity, cash and gross exposure per bar after everything of the bar, positions `[T, N]`, the fills
(records.FILL_DTYPE) written into the caller's buffer, and per-run statistics (records.STAT_*; the closed
round trips are counted from the fills by kernels/roundtrips.py: by the batch for each set, by the caller
otherwise, since those kernels leave them NaN). Diagnostics
`exec_equity[t]` (the E the targets were sized from) and `exec_gross[t]` (gross right after the execution, at
reference prices) back the invariant tests. No allocation happens per bar; the loops are time-outer, so symbols
share cash and limits; `simulate_independent_nb` runs each symbol alone (its own capital) symbol-outer over the
long layout with the same per-bar code, and `simulate_batch_nb` runs P target sets in parallel.
"""

from __future__ import annotations

import numpy as np
from numba import literally, njit, prange

from trader_cols.kernels.fills import fees_nb, fill_price_nb, max_fundable_qty_nb, round_lot_nb
from trader_cols.kernels.records import (
    FILL_DTYPE,
    N_STATS,
    REASON_DAILY_LOSS,
    REASON_FUNDING_CLIP,
    REASON_GROSS_CAP,
    REASON_LIQUIDATION,
    REASON_MAX_DRAWDOWN,
    REASON_STOP_LOSS,
    STAT_FEES,
    STAT_FILLS,
    STAT_MAX_DRAWDOWN,
    STAT_TRADES,
    STAT_TURNOVER,
    STAT_UNFUNDED,
)
from trader_cols.kernels.risk import (
    gap_stop_hit_nb,
    gross_scale_nb,
    intrabar_stop_hit_nb,
    intrabar_stop_ref_nb,
    limit_on_nb,
    loss_hit_nb,
    shape_weight_nb,
    stop_price_nb,
)
from trader_cols.kernels.roundtrips import round_trip_stats_nb

# An order worth <= NOISE_REL of (position or target value + equity) is float noise and is ignored.
NOISE_REL = 1e-10
# Relative slack of the funding check, so that an exactly fundable order is not clipped by rounding.
FUND_TOL = 1e-12
NEVER = np.iinfo(np.int64).max
SKIP = -1  # why[i]: no order for symbol i at this execution
HOLD = -2  # why[i]: a held position, untouched unless the gross scale moves it
WIDE = 32  # from this many symbols the passes are calls (see run_nb)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _fill_nb(t, i, col, d, ref, params, pos, entry, fills, n_fills, stats, reason):
    """Book a fill of signed `d` units of symbol i at reference `ref`; returns (cash delta, equity cost, gross delta)."""
    side = 1 if d > 0.0 else -1
    price = fill_price_nb(ref, side, params.slippage_bps)
    fee = fees_nb(
        d, price, params.commission_bps, params.commission_per_share, params.commission_min
    )
    x = pos[i]
    new = x + d
    if new == 0.0:
        entry[0, i] = np.nan
    elif x == 0.0 or x * new < 0.0:
        entry[0, i] = price
    elif abs(new) > abs(x):
        entry[0, i] = (abs(x) * entry[0, i] + abs(d) * price) / abs(new)
    pos[i] = new
    entry[1, i] = stop_price_nb(
        new, entry[0, i], params.stop_loss_pct
    )  # NaN while flat or with no stop
    k = n_fills + int(stats[STAT_FILLS])
    if k < fills.shape[0]:
        rec = fills[k]
        rec["bar"] = t
        rec["col"] = col
        rec["side"] = side
        rec["reason"] = reason
        rec["qty"] = abs(d)
        rec["price"] = price
        rec["fees"] = fee
    stats[STAT_FILLS] += 1.0
    stats[STAT_FEES] += fee
    stats[STAT_TURNOVER] += abs(d) * price
    return -d * price - fee, abs(d) * abs(price - ref) + fee, (abs(new) - abs(x)) * ref


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _stop_nb(t, i, col, ref, params, pos, entry, stopped, fills, n_fills, stats):
    """Exit symbol i at `ref` for its stop loss; returns the cash delta."""
    stopped[i] = 1 if pos[i] > 0.0 else -1
    cd, cost, gd = _fill_nb(
        t, i, col, -pos[i], ref, params, pos, entry, fills, n_fills, stats, REASON_STOP_LOSS
    )
    return cd


@njit(cache=True, nogil=True, error_model="numpy")
def _open_pass_nb(
    t,
    trow,
    open_,
    high,
    low,
    close,
    tradable,
    target,
    pos,
    entry,
    last_close,
    pc,
    val,
    hits,
    real,
    stop_on,
    value,
    gather,
):
    """Phase 0 of a wide book over the symbols of bar t (the open); see run_nb.

    Writes pc (price class) and, if `value`, val (position value at the open after gap stops); appends gap
    stops to hits and, if `gather`, the symbols that can trade and have a target in row `trow` to real.
    Without branches on the position: a hit is appended by writing the slot and moving the count by it.
    Returns (n_hits, held, gross, frozen, n_real, max_abs, min_val): Σ value, Σ |value|, Σ |value| of the
    symbols that cannot trade, then the largest |value| and the lowest value (with 0) when gathering.
    """
    n = close.shape[1]
    n_hits = np.uint64(0)  # unsigned: no wraparound code on hits[n_hits]
    held = 0.0
    gross = 0.0
    frozen = 0.0
    n_real = np.uint64(0)
    max_abs = 0.0
    min_val = 0.0
    for i in range(n):
        o = open_[t, i]
        h = high[t, i]
        lo = low[t, i]
        c = close[t, i]
        ok = (min(min(o, h), min(lo, c)) > 0.0) & (o + h + lo + c < np.inf)  # NaN: the sum is NaN
        ci = ok & tradable[t, i]
        pc[i] = ok + ci
        x = pos[i]
        if stop_on:
            hit = ci & gap_stop_hit_nb(x, entry[1, i], o)
            hits[n_hits] = i
            n_hits += np.uint64(hit)
            x = 0.0 if hit else x
        if value:
            lc = last_close[i]
            v = x * (o if ok else lc)
            held += v
            av = abs(v)
            gross += av
            if not ci:
                frozen += av
            val[i] = v
            if gather:
                raw = target[trow, i]
                real[n_real] = i
                n_real += np.uint64(ci & (raw == raw))
                max_abs = max(max_abs, av)
                min_val = min(min_val, v)
    return np.int64(n_hits), held, gross, frozen, np.int64(n_real), max_abs, min_val


@njit(cache=True, nogil=True, error_model="numpy")
def _close_pass_nb(
    t,
    high,
    low,
    close,
    target,
    pos,
    entry,
    last_close,
    pc,
    val,
    hits,
    real,
    positions,
    stop_on,
    keep_pos,
    value,
    gather,
):
    """Phase 1 of a wide book over the symbols of bar t (the close); see run_nb.

    Intrabar stops to hits, last_close, positions row t (if `keep_pos`) and, if `value` (close mode: an
    execution follows), val, frozen and the gathering of `_open_pass_nb`. `value` is compiled apart (literal):
    next-open mode runs the lean loop. Same return tuple as `_open_pass_nb`.
    """
    value = literally(value)  # compiled apart: next-open mode needs no val, frozen nor real here
    n = close.shape[1]
    n_hits = np.uint64(0)  # unsigned: no wraparound code on hits[n_hits]
    held = 0.0
    gross = 0.0
    frozen = 0.0
    n_real = np.uint64(0)
    max_abs = 0.0
    min_val = 0.0
    for i in range(n):
        x = pos[i]
        cls = pc[i]
        ci = cls == 2
        if stop_on:
            hit = ci & intrabar_stop_hit_nb(x, entry[1, i], high[t, i], low[t, i])
            hits[n_hits] = i
            n_hits += np.uint64(hit)
            x = 0.0 if hit else x
        c = close[t, i]
        lc = last_close[i]
        last = c if cls != 0 else lc
        last_close[i] = last
        v = x * last
        held += v
        av = abs(v)
        gross += av
        if keep_pos:
            positions[t, i] = x
        if value:
            if not ci:
                frozen += av
            val[i] = v
            if gather:
                raw = target[t, i]
                real[n_real] = i
                n_real += np.uint64(ci & (raw == raw))
                max_abs = max(max_abs, av)
                min_val = min(min_val, v)
    return np.int64(n_hits), held, gross, frozen, np.int64(n_real), max_abs, min_val


@njit(cache=True, nogil=True, error_model="numpy")
def run_nb(
    open_,
    high,
    low,
    close,
    target,
    tradable,
    session_id,
    params,
    col_base,
    equity_out,
    cash_out,
    gross_out,
    exec_equity,
    exec_gross,
    positions,
    fills,
    n_fills,
    stats,
):
    """Simulate one book over `[T, N]` arrays into preallocated outputs; returns the total fill count.

    The semantics are those of the module docstring. `positions`, `exec_equity` and `exec_gross` are written
    only when they have T rows (pass zero-row arrays to skip them). Fills are written from index `n_fills` of
    `fills` while it has room; the returned count includes the ones that did not fit, so a caller can retry
    with a larger buffer. `stats` (length N_STATS) receives this run's statistics. Symbol i is recorded as
    column `col_base + i`. All state lives in arrays allocated once here: nothing is allocated per bar.

    Layout of a bar: phase 0 (the open) and phase 1 (the close), each a pass over the symbols; the execution
    follows phase 0 in next-open mode and phase 1 in close mode. A narrow book (fewer than WIDE symbols) runs
    the passes inline: a call costs ~30 atomic reference-count updates (a pair per array argument), which
    more than doubled the time of a single-symbol run. A wide book calls `_open_pass_nb` and `_close_pass_nb`,
    the same passes written without branches on the position (flat, long and short interleave at random
    across symbols, so such branches mispredict): with registers to themselves they run ~1/3 faster than the
    same loop inline in this large function, and a call is nothing next to hundreds of symbols. Their pass
    before an execution also lists the symbols that have a target, so that the desired weights skip the NaN
    (hold) ones (the fast path below).
    """
    n_bars, n = close.shape
    pos = np.zeros(n)
    entry = np.full((2, n), np.nan)  # [0]: average fill price, [1]: stop level; NaN while flat
    last_close = np.zeros(n)  # 0 until the first priced close: a position never exists before it
    stopped = np.zeros(
        n, np.int8
    )  # +1 / -1: the side stopped out, not re-entered until the target resets
    # Price class at the current bar: 0 not priced, 1 priced, 2 priced and tradable (the symbol can trade).
    pc = np.zeros(n, np.int8)
    val = np.zeros(n)  # position value at the current valuation point
    w = np.empty(n)  # desired weight; after pass 1, the quantity of a reducing order
    dq = np.empty(n)  # quantities of the queued increasing orders
    why = np.empty(n, np.int8)  # SKIP, HOLD or the reason code of the symbol's order
    act = np.empty(n, np.int64)  # symbols with an order to size, in symbol order
    red = np.empty(n, np.int64)  # reducing orders, in symbol order
    pend = np.empty(n, np.int64)  # increasing orders, in symbol order
    hits = np.empty(n, np.int64)  # stops hit in the current pass
    real = np.empty(n, np.int64)  # wide books: symbols that can trade and have a target, in order
    keep_pos = positions.shape[0] == n_bars
    keep_exec = exec_equity.shape[0] == n_bars
    stop_on = limit_on_nb(params.stop_loss_pct)
    daily_on = limit_on_nb(params.daily_loss_cut_pct)
    dd_on = limit_on_nb(params.max_drawdown_pct)
    on_close = params.fill_on_close
    hold_on_nan = params.hold_on_nan
    wide = n >= WIDE
    lev = params.max_gross_leverage
    cap = params.max_position_pct
    slip = params.slippage_bps

    cash = params.initial_capital
    equity = cash
    gross = 0.0
    peak = cash
    session_ref = cash
    prev_equity = cash
    stat_peak = cash
    max_dd = 0.0
    halted = False
    halt_until = NEVER
    daily_pending = False
    daily_locked = False
    lock_session = 0
    for t in range(n_bars):
        if t > 0 and session_id[t] != session_id[t - 1]:
            session_ref = prev_equity
            daily_locked = False
        if halted and t >= halt_until:
            halted = False
            peak = prev_equity

        for phase in range(2):
            # A flat position has a NaN entry (its stop test is False) and is worth 0. The wide passes also
            # list the symbols that can trade and have a target (in real) and note the largest |value| and the
            # lowest value of all positions (max_abs, min_val) for the desired weights' fast path.
            n_hits = 0
            held = 0.0
            gross = 0.0
            frozen = 0.0
            n_real = 0
            max_abs = 0.0
            min_val = 0.0
            if phase == 0:
                # The open: priced and tradable, gap stops (filled after the loop, in symbol order) and, in
                # next-open mode, the book's value at the open.
                trow = t - 1
                gathered = wide and hold_on_nan and not on_close and trow >= 0
                if wide:
                    n_hits, held, gross, frozen, n_real, max_abs, min_val = _open_pass_nb(
                        t,
                        trow,
                        open_,
                        high,
                        low,
                        close,
                        tradable,
                        target,
                        pos,
                        entry,
                        last_close,
                        pc,
                        val,
                        hits,
                        real,
                        stop_on,
                        not on_close,
                        gathered,
                    )
                else:  # _open_pass_nb inline, with branches (predictable over a few symbols)
                    for i in range(n):
                        o = open_[t, i]
                        h = high[t, i]
                        lo = low[t, i]
                        c = close[t, i]
                        ok = (
                            (o > 0.0)
                            & (h > 0.0)
                            & (lo > 0.0)
                            & (c > 0.0)
                            & (o + h + lo + c < np.inf)
                        )
                        ci = ok & tradable[t, i]
                        pc[i] = ok + ci
                        x = pos[i]
                        if stop_on and ci and gap_stop_hit_nb(x, entry[1, i], o):
                            hits[n_hits] = i
                            n_hits += 1
                            x = 0.0
                        if not on_close:
                            lc = last_close[i]
                            v = x * (o if ok else lc)
                            held += v
                            av = abs(v)
                            gross += av
                            if not ci:
                                frozen += av
                            val[i] = v
                for k in range(n_hits):
                    i = hits[k]
                    cash += _stop_nb(
                        t,
                        i,
                        col_base + i,
                        open_[t, i],
                        params,
                        pos,
                        entry,
                        stopped,
                        fills,
                        n_fills,
                        stats,
                    )
                if on_close:
                    continue
                forced = 0
                if halted:
                    forced = REASON_MAX_DRAWDOWN
                elif daily_pending or (daily_locked and session_id[t] == lock_session):
                    forced = REASON_DAILY_LOSS
                daily_pending = False
                equity = cash + held
                at_open = True
            else:
                # The close: intrabar stops (filled after the loop), then the mark at the close.
                trow = t
                gathered = wide and hold_on_nan and on_close
                if wide:
                    if on_close:
                        n_hits, held, gross, frozen, n_real, max_abs, min_val = _close_pass_nb(
                            t,
                            high,
                            low,
                            close,
                            target,
                            pos,
                            entry,
                            last_close,
                            pc,
                            val,
                            hits,
                            real,
                            positions,
                            stop_on,
                            keep_pos and not on_close,
                            True,
                            gathered,
                        )
                    else:
                        n_hits, held, gross, frozen, n_real, max_abs, min_val = _close_pass_nb(
                            t,
                            high,
                            low,
                            close,
                            target,
                            pos,
                            entry,
                            last_close,
                            pc,
                            val,
                            hits,
                            real,
                            positions,
                            stop_on,
                            keep_pos and not on_close,
                            False,
                            gathered,
                        )
                else:  # _close_pass_nb inline, with branches (predictable over a few symbols)
                    for i in range(n):
                        x = pos[i]
                        cls = pc[i]
                        ci = cls == 2
                        if stop_on and ci:
                            ref = intrabar_stop_ref_nb(
                                x, entry[1, i], open_[t, i], high[t, i], low[t, i]
                            )
                            if ref == ref:
                                hits[n_hits] = i
                                n_hits += 1
                                x = 0.0
                        last = close[t, i] if cls != 0 else last_close[i]
                        last_close[i] = last
                        v = x * last
                        held += v
                        av = abs(v)
                        gross += av
                        if not ci:
                            frozen += av
                        val[i] = v
                        if keep_pos and not on_close:
                            positions[t, i] = x
                for k in range(n_hits):
                    i = hits[k]
                    stop = entry[1, i]
                    o = open_[t, i]
                    ref = min(stop, o) if pos[i] > 0.0 else max(stop, o)  # as intrabar_stop_ref_nb
                    cash += _stop_nb(
                        t,
                        i,
                        col_base + i,
                        ref,
                        params,
                        pos,
                        entry,
                        stopped,
                        fills,
                        n_fills,
                        stats,
                    )
                equity = cash + held

                # Loss checks on the close equity.
                if not halted:
                    if equity > peak:
                        peak = equity
                    if dd_on and loss_hit_nb(equity, peak, params.max_drawdown_pct):
                        halted = True
                        halt_until = (
                            t + params.cooloff_bars + 1 if params.cooloff_bars > 0 else NEVER
                        )
                    elif (
                        daily_on
                        and not daily_locked
                        and loss_hit_nb(equity, session_ref, params.daily_loss_cut_pct)
                    ):
                        daily_pending = True
                        daily_locked = True
                        lock_session = session_id[t]
                if not on_close:
                    break
                forced = 0
                if halted:
                    forced = REASON_MAX_DRAWDOWN
                elif daily_pending or (daily_locked and session_id[t] == lock_session):
                    forced = REASON_DAILY_LOSS
                daily_pending = False
                at_open = False

            # ---- Execution at reference prices (the open, or in close mode the close) of bar t.
            equity_pre = equity
            if keep_exec:
                exec_equity[t] = equity_pre
            if equity <= 0.0:
                forced = REASON_LIQUIDATION

            # Desired weights. A held position (NaN target) is kept as its value in val and costs nothing
            # unless a cap or the gross scale moves it: then its weight is val / equity, as for any other.
            # Fast path: no forced exit and every NaN-target symbol is a HOLD (all positions within the cap,
            # none short unless allowed), so only the symbols with a target are shaped, in symbol order, as
            # the full pass would. If the gross scale may then move the holds, the full pass runs instead.
            fast = (
                forced == 0
                and gathered
                and max_abs <= cap * equity
                and (params.allow_short or min_val >= 0.0)
            )
            if fast:
                sum_w = 0.0
                real_abs = 0.0
                n_act = 0
                for k in range(n_real):
                    i = real[k]
                    raw = target[trow, i]
                    x = pos[i]
                    real_abs += abs(val[i])
                    if stopped[i] != 0:
                        if raw * stopped[i] > 0.0:
                            raw = 0.0  # no re-entry on the stopped side
                        else:
                            stopped[i] = 0
                    wi, r = shape_weight_nb(raw, params.allow_short, cap)
                    if wi == 0.0 and x == 0.0:
                        continue
                    w[i] = wi
                    why[i] = r
                    sum_w += abs(wi)
                    act[n_act] = i
                    n_act += 1
                # The holds' gross, from the pass's sums: within rounding of the full pass's serial sum,
                # so the scale is 1 for certain when it fits with a margin far above that rounding.
                hold_abs = gross - frozen - real_abs
                limit = lev * equity
                fast = limit == np.inf or (
                    sum_w * equity + hold_abs + 1e-9 * (gross + sum_w * abs(equity))
                    <= limit - frozen
                )
                scale = 1.0
            if not fast:
                sum_w = 0.0
                hold_abs = 0.0
                n_act = 0
                for i in range(n):
                    why[i] = SKIP
                    if pc[i] != 2:
                        continue
                    x = pos[i]
                    if forced != 0:
                        if x != 0.0:
                            w[i] = 0.0
                            why[i] = forced
                            act[n_act] = i
                            n_act += 1
                        continue
                    raw = target[trow, i] if trow >= 0 else np.nan
                    if raw != raw:
                        if params.hold_on_nan:
                            v = val[i]  # 0 when flat: a flat hold is a HOLD that pass 1 skips
                            if abs(v) <= cap * equity and (v >= 0.0 or params.allow_short):
                                why[i] = HOLD
                                hold_abs += abs(v)
                                continue
                            raw = v / equity
                        else:
                            raw = 0.0
                            stopped[i] = 0
                    elif stopped[i] != 0:
                        if raw * stopped[i] > 0.0:
                            raw = 0.0  # no re-entry on the stopped side
                        else:
                            stopped[i] = 0
                    wi, r = shape_weight_nb(raw, params.allow_short, cap)
                    if wi == 0.0 and x == 0.0:
                        continue
                    w[i] = wi
                    why[i] = r
                    sum_w += abs(wi)
                    act[n_act] = i
                    n_act += 1
                scale = 1.0
                if forced == 0:
                    scale = gross_scale_nb(sum_w * equity + hold_abs, frozen, lev * equity)

            # Pass 1: size the orders. Those that only reduce a position (queued in red) fill first, in
            # symbol order; those that increase or flip one queue in pend/dq for pass 2.
            every_symbol = scale < 1.0  # holds move too: walk all symbols, not only act
            n_pend = 0
            n_red = 0
            for k in range(n if every_symbol else n_act):
                i = k if every_symbol else act[k]
                r = why[i]
                if r == SKIP:
                    continue
                if r == HOLD:
                    if scale == 1.0:
                        continue
                    wi = val[i] / equity_pre * scale
                    r = REASON_GROSS_CAP
                else:
                    wi = w[i]
                    if scale < 1.0 and wi != 0.0:
                        wi *= scale
                        if r < REASON_GROSS_CAP:
                            r = REASON_GROSS_CAP
                why[i] = r
                x = pos[i]
                px = open_[t, i] if at_open else close[t, i]
                if wi == 0.0:
                    d = -x
                else:
                    qstar = wi * equity_pre / px
                    d = qstar - x
                    if abs(d) * px <= NOISE_REL * (max(abs(x), abs(qstar)) * px + abs(equity_pre)):
                        continue
                    d = round_lot_nb(d, params.lot_size)
                if d == 0.0:
                    continue
                if x != 0.0 and d * x < 0.0 and abs(d) <= abs(x):
                    red[n_red] = i
                    w[i] = d
                    n_red += 1
                else:
                    pend[n_pend] = i
                    dq[n_pend] = d
                    n_pend += 1
            for k in range(n_red):
                i = red[k]
                px = open_[t, i] if at_open else close[t, i]
                cd, cost, gd = _fill_nb(
                    t, i, col_base + i, w[i], px, params, pos, entry, fills, n_fills, stats, why[i]
                )
                cash += cd
                equity -= cost
                gross += gd

            # Pass 2: orders that increase or flip a position, each clipped to what can be funded.
            for k in range(n_pend):
                i = pend[k]
                d = dq[k]
                x = pos[i]
                px = open_[t, i] if at_open else close[t, i]
                u = abs(d)
                r = why[i]
                if lev < np.inf:
                    headroom = lev * equity - gross
                    if x != 0.0 and x * d < 0.0:
                        headroom += 2.0 * abs(x) * px
                    fee = fees_nb(
                        u,
                        fill_price_nb(px, 1 if d > 0.0 else -1, slip),
                        params.commission_bps,
                        params.commission_per_share,
                        params.commission_min,
                    )
                    need = px * (1.0 + lev * slip * 1e-4) * u + lev * fee
                    if need > headroom + FUND_TOL * abs(equity) * max(lev, 1.0):
                        umax = round_lot_nb(
                            max_fundable_qty_nb(
                                headroom,
                                px,
                                slip,
                                lev,
                                params.commission_bps,
                                params.commission_per_share,
                                params.commission_min,
                            ),
                            params.lot_size,
                        )
                        noise = NOISE_REL * (abs(x) * px + abs(equity))
                        if x != 0.0 and x * d < 0.0 and (umax - abs(x)) * px <= noise:
                            # closing the old side is always allowed; a noise-sized new side is not
                            umax = abs(x)
                        if umax < u:
                            u = umax
                            if r < REASON_FUNDING_CLIP:
                                r = REASON_FUNDING_CLIP
                        if u * px <= noise:
                            stats[STAT_UNFUNDED] += 1.0
                            continue
                cd, cost, gd = _fill_nb(
                    t,
                    i,
                    col_base + i,
                    u if d > 0.0 else -u,
                    px,
                    params,
                    pos,
                    entry,
                    fills,
                    n_fills,
                    stats,
                    r,
                )
                cash += cd
                equity -= cost
                gross += gd
            if keep_exec:
                exec_gross[t] = gross

            if phase == 1:
                # Close mode: the bar ends with the mark after its own close trades.
                held = 0.0
                gross = 0.0
                for i in range(n):
                    x = pos[i]
                    v = x * last_close[i]
                    held += v
                    gross += abs(v)
                    if keep_pos:
                        positions[t, i] = x
                equity = cash + held

        equity_out[t] = equity
        cash_out[t] = cash
        gross_out[t] = gross
        prev_equity = equity
        if equity > stat_peak:
            stat_peak = equity
        elif equity < stat_peak * (1.0 - max_dd):
            max_dd = 1.0 - equity / stat_peak
    stats[STAT_MAX_DRAWDOWN] = max_dd
    return n_fills + int(stats[STAT_FILLS])


@njit(cache=True, nogil=True, error_model="numpy")
def simulate_nb(open_, high, low, close, target, tradable, session_id, params, fills):
    """Simulate one book whose symbols share cash and limits (time-outer loop). See the module docstring.

    Args: `[T, N]` C-contiguous float64 prices and targets, bool `tradable [T, N]`, int64 `session_id [T]`,
    `params` a records.SimParams, `fills` a preallocated records.FILL_DTYPE buffer.
    Returns (equity [T], cash [T], gross [T], exec_equity [T], exec_gross [T], positions [T, N], n_fills,
    stats [N_STATS]). If n_fills > len(fills), the buffer was too small: rerun with one of n_fills records.
    """
    n_bars, n = close.shape
    equity = np.empty(n_bars)
    cash = np.empty(n_bars)
    gross = np.empty(n_bars)
    exec_equity = np.empty(n_bars)
    exec_gross = np.empty(n_bars)
    positions = np.empty((n_bars, n))
    stats = np.zeros(N_STATS)
    n_fills = run_nb(
        open_,
        high,
        low,
        close,
        target,
        tradable,
        session_id,
        params,
        0,
        equity,
        cash,
        gross,
        exec_equity,
        exec_gross,
        positions,
        fills,
        0,
        stats,
    )
    stats[STAT_TRADES:] = np.nan  # closed trades: counted from the returned fills (roundtrips.py)
    return equity, cash, gross, exec_equity, exec_gross, positions, n_fills, stats


@njit(cache=True, nogil=True, error_model="numpy")
def simulate_independent_nb(open_, high, low, close, target, tradable, session_id, params, fills):
    """Simulate each symbol as its own book with `params.initial_capital`, symbol-outer over the long layout.

    Inputs are `[N, T]` C-contiguous (symbol-major: the long frame sorted by symbol then ts), tradable bool
    `[N, T]`; semantics are exactly those of `simulate_nb` run on each symbol alone. Returns (equity [N, T],
    cash [N, T], gross [N, T], positions [N, T], n_fills, stats [N, N_STATS]); fills carry the symbol index.
    """
    n, n_bars = close.shape
    equity = np.empty((n, n_bars))
    cash = np.empty((n, n_bars))
    gross = np.empty((n, n_bars))
    positions = np.empty((n, n_bars))
    stats = np.zeros((n, N_STATS))
    no_exec = np.empty(0)
    n_fills = 0
    for j in range(n):
        n_fills = run_nb(
            open_[j].reshape((n_bars, 1)),
            high[j].reshape((n_bars, 1)),
            low[j].reshape((n_bars, 1)),
            close[j].reshape((n_bars, 1)),
            target[j].reshape((n_bars, 1)),
            tradable[j].reshape((n_bars, 1)),
            session_id,
            params,
            j,
            equity[j],
            cash[j],
            gross[j],
            no_exec,
            no_exec,
            positions[j].reshape((n_bars, 1)),
            fills,
            n_fills,
            stats[j],
        )
    stats[:, STAT_TRADES:] = np.nan  # closed trades: counted from the returned fills (roundtrips.py)
    return equity, cash, gross, positions, n_fills, stats


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def simulate_batch_nb(open_, high, low, close, targets, tradable, session_id, params):
    """Simulate P target sets `targets [P, T, N]` over the same prices in one call, in parallel over the sets.

    Each set is one shared-cash book with the semantics of `simulate_nb`. Fills are not returned: each set logs
    them into a buffer of its own (grown and rerun if too small) only to count its closed trades. Returns
    (equity [P, T], gross [P, T], stats [P, N_STATS]).
    """
    n_sets = targets.shape[0]
    n_bars, n = close.shape
    equity = np.empty((n_sets, n_bars))
    gross = np.empty((n_sets, n_bars))
    stats = np.zeros((n_sets, N_STATS))
    no_exec = np.empty(0)
    no_pos = np.empty((0, n))
    first_size = min(n_bars * n, 1 << 22) + 16  # rarely too small (at most 3 fills a symbol and bar)
    for k in prange(n_sets):
        cash = np.empty(n_bars)
        fills = np.empty(first_size, FILL_DTYPE)
        while True:
            stats[k, :] = 0.0
            n_fills = run_nb(
                open_,
                high,
                low,
                close,
                targets[k],
                tradable,
                session_id,
                params,
                0,
                equity[k],
                cash,
                gross[k],
                no_exec,
                no_exec,
                no_pos,
                fills,
                0,
                stats[k],
            )
            if n_fills <= fills.shape[0]:
                break
            fills = np.empty(n_fills, FILL_DTYPE)
        round_trip_stats_nb(fills, n_fills, n, stats[k : k + 1])
    return equity, gross, stats
