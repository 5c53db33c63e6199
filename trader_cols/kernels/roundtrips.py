"""Closed round trips counted from a fill log, for the per-run statistics (records.STAT_TRADES and the next two).

A trade is trades.py's: one position episode of a symbol, from flat to flat, a fill that flips a long into a short
ending one trade and starting the next (its fee split by quantity); pnl = cash flow - fees, return = pnl /
(largest |position| x the average price of the fills that grew the position). Counted after a run from its fills,
so the simulation loop carries no per-fill bookkeeping for it: the batch kernel counts them for each set; the
kernels that return their fills leave them NaN for the caller (sim.py counts them here from the fills).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from trader_cols.kernels.records import STAT_TRADE_RETURN, STAT_TRADES, STAT_WINS


@njit(cache=True, nogil=True, error_model="numpy")
def round_trip_stats_nb(fills, n_fills, n_cols, stats):
    """Set the closed-trade statistics of `stats` ([rows, N_STATS]) from `fills[:n_fills]` (columns 0..n_cols-1):
    a row per column when stats has more than one row, else all in row 0."""
    per_col = stats.shape[0] > 1
    stats[:, STAT_TRADES] = 0.0
    stats[:, STAT_WINS] = 0.0
    stats[:, STAT_TRADE_RETURN] = 0.0
    held = np.zeros(n_cols)
    flow = np.zeros(n_cols)  # cash flow of the open trade
    fees = np.zeros(n_cols)
    top = np.zeros(n_cols)  # largest |position|
    add_value = np.zeros(n_cols)
    add_qty = np.zeros(n_cols)
    for k in range(n_fills):
        rec = fills[k]
        i = rec["col"]
        row = i if per_col else 0
        price = rec["price"]
        d = rec["qty"] if rec["side"] > 0 else -rec["qty"]
        fee = rec["fees"]
        x = held[i]
        new = x + d
        if x != 0.0 and x * new < 0.0:  # a flip: the closing part ends the trade, the opening part starts the next
            _close(flow[i] + x * price, fees[i] + fee * abs(x) / abs(d), top[i], add_value[i], add_qty[i], stats, row)
            fee = fee * abs(new) / abs(d)
            d = new
            x = 0.0
        if x == 0.0:
            flow[i], fees[i], top[i], add_value[i], add_qty[i] = 0.0, 0.0, 0.0, 0.0, 0.0
        flow[i] -= d * price
        fees[i] += fee
        if abs(new) > abs(x):
            top[i] = max(top[i], abs(new))
            add_value[i] += abs(d) * price
            add_qty[i] += abs(d)
        held[i] = new
        if new == 0.0:
            _close(flow[i], fees[i], top[i], add_value[i], add_qty[i], stats, row)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _close(flow, fees, top, add_value, add_qty, stats, row):
    ret = (flow - fees) / (top * (add_value / add_qty))
    stats[row, STAT_TRADES] += 1.0
    if ret > 0.0:
        stats[row, STAT_WINS] += 1.0
    if ret == ret:
        stats[row, STAT_TRADE_RETURN] += ret
