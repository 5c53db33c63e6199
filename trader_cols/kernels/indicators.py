"""Numba kernels of the windowed and recursive indicators over symbol-sorted long arrays.

Every public kernel takes float64 arrays that hold many symbols one after another (sorted by symbol,
then time), `bounds`, the int64 segment boundaries from `segment_bounds_nb` (segment k is
`bounds[k]:bounds[k + 1]`), its scalar params, and `outs`, a C-contiguous float64[k, n] array whose
rows it fills (one per output, in the documented order) and returns. The caller allocates `outs` with
NumPy (which asks the kernel for huge pages: first touching NRT-allocated memory costs ~4x more here).
State is reset at each boundary, so symbols never bleed into each other.
Warm-up rows (fewer bars than the indicator's look-back within the segment) are NaN; the Polars layer
turns NaN into null. Inputs must be finite: a NaN input makes the windows that contain it NaN (and, for
the recursive indicators, the rest of that symbol).

Seeding and look-backs follow TA-Lib 0.8 (its C library), which the oracle tests compare against:
EMA seeded with the SMA of its first window, Wilder smoothing for RSI/ATR/ADX, TA-Lib's MACD and KAMA
seeding. Where a window is flat (no range, no movement, no volume) a bounded oscillator returns its
neutral value instead of TA-Lib's 0; docs/features.md lists each case.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_LN2 = np.log(2.0)


@njit(cache=True, nogil=True)
def segment_bounds_nb(seg_ids):
    """Boundaries of runs of equal ids: int64[n_segments + 1], first 0, last len(seg_ids)."""
    n = seg_ids.shape[0]
    if n == 0:
        return np.zeros(1, np.int64)
    count = 1
    for i in range(1, n):
        if seg_ids[i] != seg_ids[i - 1]:
            count += 1
    out = np.empty(count + 1, np.int64)
    out[0] = 0
    k = 1
    for i in range(1, n):
        if seg_ids[i] != seg_ids[i - 1]:
            out[k] = i
            k += 1
    out[count] = n
    return out


# ---------------------------------------------------------------- per-segment building blocks
# Each works on one symbol's slice (views into the long arrays) and writes its whole output slice.


@njit(cache=True, nogil=True)
def _fill_nan_nb(out, stop):
    for i in range(min(stop, out.shape[0])):
        out[i] = np.nan


@njit(cache=True, nogil=True)
def _sma_seg_nb(x, out, n):
    """Simple mean of the last n values (running sum, as TA-Lib SMA); first value at n - 1."""
    m = x.shape[0]
    _fill_nan_nb(out, n - 1)
    if m < n:
        return
    acc = 0.0
    for i in range(n - 1):
        acc += x[i]
    since = 0
    for i in range(n - 1, m):
        since += 1
        if since == n:  # re-sum exactly every n bars: rounding residue cannot build up
            acc = 0.0
            for j in range(i - n + 1, i):
                acc += x[j]
            since = 0
        acc += x[i]
        out[i] = acc / n
        acc -= x[i - n + 1]


@njit(cache=True, nogil=True)
def _ema_seg_nb(x, out, n, first):
    """EMA with k = 2 / (n + 1), seeded at index `first` with the mean of x[first - n + 1 .. first]."""
    m = x.shape[0]
    _fill_nan_nb(out, first)
    if m <= first:
        return
    acc = 0.0
    for i in range(first - n + 1, first + 1):
        acc += x[i]
    prev = acc / n
    out[first] = prev
    k = 2.0 / (n + 1.0)
    for i in range(first + 1, m):
        prev = (x[i] - prev) * k + prev
        out[i] = prev


@njit(cache=True, nogil=True, inline="always")
def _true_range_nb(high, low, close, i):
    """True range of bar i >= 1 (it needs the previous close)."""
    return max(high[i] - low[i], abs(high[i] - close[i - 1]), abs(low[i] - close[i - 1]))


@njit(cache=True, nogil=True)
def _atr_seg_nb(high, low, close, out, n, first):
    """Wilder-smoothed true range: seed at `first` = mean TR of bars first-n+1..first (>= 1), then
    atr = (atr (n - 1) + tr) / n. One pass, no temporary."""
    m = high.shape[0]
    _fill_nan_nb(out, first)
    if m <= first:
        return
    acc = 0.0
    for i in range(first - n + 1, first + 1):
        acc += _true_range_nb(high, low, close, i)
    prev = acc / n
    out[first] = prev
    inv_n = 1.0 / n
    for i in range(first + 1, m):
        prev = (prev * (n - 1) + _true_range_nb(high, low, close, i)) * inv_n
        out[i] = prev


@njit(cache=True, nogil=True)
def _rolling_max_min_seg_nb(hi, lo, hh, ll, n):
    """hh = max of the last n `hi`, ll = min of the last n `lo` (exact); first values at n - 1.

    van Herk / Gil-Werman: in blocks of n bars, a running extreme from each block's start (ahead) and
    from its end (behind); the window ending at i is the extreme of behind[i - n + 1] and ahead[i].
    Three branch-free passes whatever the data, both extremes in the same loops.
    """
    m = hi.shape[0]
    _fill_nan_nb(hh, n - 1)
    _fill_nan_nb(ll, n - 1)
    if m < n:
        return
    ahead_h = np.empty(m)
    behind_h = np.empty(m)
    ahead_l = np.empty(m)
    behind_l = np.empty(m)
    for start in range(0, m, n):
        stop = min(start + n, m)
        acc_h = hi[start]
        acc_l = lo[start]
        ahead_h[start] = acc_h
        ahead_l[start] = acc_l
        for i in range(start + 1, stop):
            v = hi[i]
            w = lo[i]
            acc_h = v if v > acc_h else acc_h
            acc_l = w if w < acc_l else acc_l
            ahead_h[i] = acc_h
            ahead_l[i] = acc_l
        acc_h = hi[stop - 1]
        acc_l = lo[stop - 1]
        behind_h[stop - 1] = acc_h
        behind_l[stop - 1] = acc_l
        for i in range(stop - 2, start - 1, -1):
            v = hi[i]
            w = lo[i]
            acc_h = v if v > acc_h else acc_h
            acc_l = w if w < acc_l else acc_l
            behind_h[i] = acc_h
            behind_l[i] = acc_l
    for i in range(n - 1, m):
        a = behind_h[i - n + 1]
        c = ahead_h[i]
        hh[i] = a if a > c else c
        a = behind_l[i - n + 1]
        c = ahead_l[i]
        ll[i] = a if a < c else c


@njit(cache=True, nogil=True)
def _window_mean_m2_nb(x, lo, hi):
    """Mean and sum of squared deviations of x[lo:hi], two-pass (exact up to rounding)."""
    total = 0.0
    for j in range(lo, hi):
        total += x[j]
    mean = total / (hi - lo)
    m2 = 0.0
    for j in range(lo, hi):
        d = x[j] - mean
        m2 += d * d
    return mean, m2


@njit(cache=True, nogil=True)
def _rolling_mean_std_seg_nb(x, mean_out, std_out, n, ddof, first):
    """Rolling mean and standard deviation of x over n values, x valid from index `first`.

    Sliding Welford update, re-based on an exact two-pass window every n bars so rounding residue
    cannot build up (nor outlive a calm stretch after a wild one); a window of n equal values gives an
    exact mean and a standard deviation of exactly 0. First output at first + n - 1.
    """
    m = x.shape[0]
    start_out = first + n - 1
    _fill_nan_nb(mean_out, start_out)
    _fill_nan_nb(std_out, start_out)
    if m <= start_out:
        return
    inv_n = 1.0 / n
    equal_run = 1  # length of the run of equal values ending at the current index
    for j in range(first + 1, start_out + 1):
        equal_run = equal_run + 1 if x[j] == x[j - 1] else 1
    mean, m2 = _window_mean_m2_nb(x, first, start_out + 1)
    since = 0
    for i in range(start_out, m):
        if i > start_out:
            new = x[i]
            equal_run = equal_run + 1 if new == x[i - 1] else 1
            since += 1
            if since == n:
                mean, m2 = _window_mean_m2_nb(x, i - n + 1, i + 1)
                since = 0
            else:
                old = x[i - n]
                new_mean = mean + (new - old) * inv_n
                m2 += (new - old) * (new - new_mean + old - mean)
                mean = new_mean
        if equal_run >= n:
            mean = x[i]
            m2 = 0.0
        if m2 < 0.0:
            m2 = 0.0
        mean_out[i] = mean
        std_out[i] = np.sqrt(m2 / (n - ddof))


@njit(cache=True, nogil=True)
def _rolling_sum_nonneg_seg_nb(v, out, n, first):
    """Rolling sum of n non-negative values, v valid from index `first`; first output at first + n - 1.

    Running add/subtract, re-summed exactly every n bars so the rounding residue of large old terms
    cannot swamp small new ones; the count of non-zero terms is tracked so a window of zeros sums to
    exactly 0.
    """
    m = v.shape[0]
    start_out = first + n - 1
    _fill_nan_nb(out, start_out)
    if m <= start_out:
        return
    acc = 0.0
    nonzero = 0
    for i in range(first, start_out + 1):
        acc += v[i]
        if v[i] != 0.0:
            nonzero += 1
    since = 0
    for i in range(start_out, m):
        if i > start_out:
            old = v[i - n]
            new = v[i]
            if old != 0.0:
                nonzero -= 1
            if new != 0.0:
                nonzero += 1
            since += 1
            if since == n:
                acc = 0.0
                for j in range(i - n + 1, i + 1):
                    acc += v[j]
                since = 0
            else:
                acc += new - old
        if nonzero == 0:
            acc = 0.0
        out[i] = acc


# ---------------------------------------------------------------- public kernels (long arrays)


@njit(cache=True, nogil=True)
def sma_nb(x, bounds, n, outs):
    """Simple moving average over n bars (= TA-Lib SMA). Look-back n - 1."""
    out = outs[0]
    for k in range(bounds.shape[0] - 1):
        b, e = bounds[k], bounds[k + 1]
        _sma_seg_nb(x[b:e], out[b:e], n)
    return outs


@njit(cache=True, nogil=True)
def ema_nb(x, bounds, n, outs):
    """Exponential moving average, k = 2/(n+1), seeded with the SMA of the first n bars (= TA-Lib EMA)."""
    out = outs[0]
    for k in range(bounds.shape[0] - 1):
        b, e = bounds[k], bounds[k + 1]
        _ema_seg_nb(x[b:e], out[b:e], n, n - 1)
    return outs


@njit(cache=True, nogil=True)
def macd_nb(x, bounds, fast, slow, signal, outs):
    """MACD line, signal and histogram (= TA-Lib MACD, fast < slow). All three start at slow + signal - 2.

    As in TA-Lib, both EMAs are seeded at bar slow - 1: the slow one with the mean of bars 0..slow-1, the
    fast one with the mean of its own last `fast` bars; the signal EMA is seeded with the mean of the first
    `signal` MACD values.
    """
    line = outs[0]
    sig = outs[1]
    hist = outs[2]
    lookback = slow + signal - 2
    for k in range(bounds.shape[0] - 1):
        b, e = bounds[k], bounds[k + 1]
        m = e - b
        if m <= lookback:
            _fill_nan_nb(line[b:e], m)
            _fill_nan_nb(sig[b:e], m)
            _fill_nan_nb(hist[b:e], m)
            continue
        xs = x[b:e]
        # Both EMAs in one pass (two independent recurrences overlap in the pipeline), written
        # straight into the line output; its warm-up is blanked once the signal has been seeded.
        ls, ss, hs = line[b:e], sig[b:e], hist[b:e]
        acc_s = 0.0
        for i in range(slow):
            acc_s += xs[i]
        acc_f = 0.0
        for i in range(slow - fast, slow):
            acc_f += xs[i]
        ema_s = acc_s / slow
        ema_f = acc_f / fast
        ls[slow - 1] = ema_f - ema_s
        k_s = 2.0 / (slow + 1.0)
        k_f = 2.0 / (fast + 1.0)
        for i in range(slow, m):
            v = xs[i]
            ema_s = (v - ema_s) * k_s + ema_s
            ema_f = (v - ema_f) * k_f + ema_f
            ls[i] = ema_f - ema_s
        _ema_seg_nb(ls, ss, signal, lookback)
        _fill_nan_nb(ls, lookback)
        _fill_nan_nb(hs, lookback)
        for i in range(lookback, m):
            hs[i] = ls[i] - ss[i]
    return outs


@njit(cache=True, nogil=True)
def _path_sum_nb(xs, lo, hi):
    """sum |x_i - x_{i-1}| for lo < i <= hi, and how many of those steps are non-zero."""
    total = 0.0
    nonzero = 0
    for i in range(lo + 1, hi + 1):
        d = abs(xs[i] - xs[i - 1])
        total += d
        nonzero += d != 0.0
    return total, nonzero


@njit(cache=True, nogil=True)
def _path_seg_nb(xs, path, n):
    """path[i] = sum of the last n absolute steps |x_j - x_{j-1}|, j in (i - n, i], valid from i = n.

    Running add/subtract, summed exactly every n bars; a window without movement is exactly 0.
    """
    m = xs.shape[0]
    total, nonzero = _path_sum_nb(xs, 0, n)
    since = 0
    for i in range(n, m):
        if i > n:
            since += 1
            if since == n:
                total, nonzero = _path_sum_nb(xs, i - n, i)
                since = 0
            else:
                old = abs(xs[i - n] - xs[i - n - 1])
                new = abs(xs[i] - xs[i - 1])
                total += new - old
                nonzero += (new != 0.0) - (old != 0.0)
        path[i] = 0.0 if nonzero == 0 else total


@njit(cache=True, nogil=True)
def kama_nb(x, bounds, n, outs):
    """Kaufman adaptive moving average, fast 2 / slow 30 (= TA-Lib KAMA, seeded with the bar before).

    Look-back n. As in TA-Lib, the efficiency ratio of a flat window is taken as 1.
    """
    out = outs[0]
    const_max = 2.0 / 31.0
    const_diff = 2.0 / 3.0 - const_max
    for k in range(bounds.shape[0] - 1):
        b, e = bounds[k], bounds[k + 1]
        xs = x[b:e]
        os = out[b:e]
        m = e - b
        _fill_nan_nb(os, n)
        if m <= n:
            continue
        _path_seg_nb(
            xs, os, n
        )  # the path sums go into the output first, then are overwritten in place
        prev = xs[n - 1]
        for i in range(n, m):
            path = os[i]
            roc = xs[i] - xs[i - n]
            er = 1.0 if (path <= roc or path == 0.0) else abs(roc / path)
            sc = er * const_diff + const_max
            sc *= sc
            prev = (xs[i] - prev) * sc + prev
            os[i] = prev
    return outs


@njit(cache=True, nogil=True)
def rsi_nb(x, bounds, n, outs):
    """Wilder RSI (= TA-Lib RSI): seed = mean gain/loss of the first n changes. Look-back n; flat → 50."""
    out = outs[0]
    for k in range(bounds.shape[0] - 1):
        b, e = bounds[k], bounds[k + 1]
        xs = x[b:e]
        os = out[b:e]
        m = e - b
        _fill_nan_nb(os, n)
        if m <= n:
            continue
        gain = 0.0
        loss = 0.0
        for i in range(1, n + 1):
            d = xs[i] - xs[i - 1]
            if d < 0.0:
                loss -= d
            else:
                gain += d
        gain /= n
        loss /= n
        inv_n = 1.0 / n
        for i in range(n, m):
            if i > n:
                d = xs[i] - xs[i - 1]
                up = d if d > 0.0 else 0.0
                down = -d if d < 0.0 else 0.0
                gain = (gain * (n - 1) + up) * inv_n
                loss = (loss * (n - 1) + down) * inv_n
            total = gain + loss
            os[i] = 100.0 * (gain / total) if total != 0.0 else 50.0
    return outs


@njit(cache=True, nogil=True)
def atr_nb(high, low, close, bounds, n, outs):
    """Average true range with Wilder smoothing (= TA-Lib ATR). Look-back n."""
    out = outs[0]
    for k in range(bounds.shape[0] - 1):
        b, e = bounds[k], bounds[k + 1]
        _atr_seg_nb(high[b:e], low[b:e], close[b:e], out[b:e], n, n)
    return outs


@njit(cache=True, nogil=True)
def natr_nb(high, low, close, bounds, n, outs):
    """ATR as a percentage of the close (= TA-Lib NATR). Look-back n."""
    atr_nb(high, low, close, bounds, n, outs)
    out = outs[0]
    for i in range(out.shape[0]):
        out[i] = out[i] / close[i] * 100.0 if close[i] != 0.0 else np.nan
    return outs


@njit(cache=True, nogil=True)
def adx_nb(high, low, close, bounds, n, outs):
    """ADX, +DI and −DI with Wilder smoothing (= TA-Lib ADX, PLUS_DI, MINUS_DI), n >= 2.

    +DI/−DI start at n (seed: sums of the first n - 1 directional moves and true ranges, then one
    smoothing step), ADX at 2n - 1 (seed: mean of the first n DX values). A bar with no range leaves ADX
    unchanged and gives DI = 0, as in TA-Lib.
    """
    adx = outs[0]
    pdi = outs[1]
    mdi = outs[2]
    for k in range(bounds.shape[0] - 1):
        b, e = bounds[k], bounds[k + 1]
        hs, ls, cs = high[b:e], low[b:e], close[b:e]
        ao, po, mo = adx[b:e], pdi[b:e], mdi[b:e]
        m = e - b
        _fill_nan_nb(po, n)
        _fill_nan_nb(mo, n)
        _fill_nan_nb(ao, 2 * n - 1)
        plus_dm = 0.0
        minus_dm = 0.0
        tr_sum = 0.0
        sum_dx = 0.0
        prev_adx = 0.0
        inv_n = 1.0 / n
        for i in range(1, m):
            diff_p = hs[i] - hs[i - 1]
            diff_m = ls[i - 1] - ls[i]
            tr = max(hs[i] - ls[i], abs(hs[i] - cs[i - 1]), abs(ls[i] - cs[i - 1]))
            p = diff_p if ((diff_p > 0.0) & (diff_p > diff_m)) else 0.0
            q = diff_m if ((diff_m > 0.0) & (diff_m > diff_p)) else 0.0
            if i < n:
                plus_dm += p
                minus_dm += q
                tr_sum += tr
                continue
            plus_dm = plus_dm - plus_dm * inv_n + p
            minus_dm = minus_dm - minus_dm * inv_n + q
            tr_sum = tr_sum - tr_sum * inv_n + tr
            if tr_sum != 0.0:
                pd = 100.0 * (plus_dm / tr_sum)
                md = 100.0 * (minus_dm / tr_sum)
            else:
                pd = 0.0
                md = 0.0
            po[i] = pd
            mo[i] = md
            s = pd + md
            valid = tr_sum != 0.0 and s != 0.0
            dx = 100.0 * (abs(md - pd) / s) if valid else 0.0
            if i < 2 * n:
                sum_dx += dx
                if i == 2 * n - 1:
                    prev_adx = sum_dx / n
                    ao[i] = prev_adx
            else:
                if valid:
                    prev_adx = (prev_adx * (n - 1) + dx) * inv_n
                ao[i] = prev_adx
    return outs


@njit(cache=True, nogil=True)
def _rolling_argext_seg_nb(x, idx_out, w, is_max):
    """Position of the max (or min) of the last w values, the latest one on ties; valid from w - 1.

    van Herk / Gil-Werman on (value, position): ahead passes take a tie (later position), behind passes
    keep the later one, and the combination prefers the ahead (later) block on a tie.
    """
    m = x.shape[0]
    if m < w:
        return
    ahead = np.empty(m, np.int64)
    behind = np.empty(m, np.int64)
    for start in range(0, m, w):
        stop = min(start + w, m)
        best = start
        best_v = x[start]
        ahead[start] = best
        for i in range(start + 1, stop):
            v = x[i]
            better = v >= best_v if is_max else v <= best_v
            best = i if better else best
            best_v = v if better else best_v
            ahead[i] = best
        best = stop - 1
        best_v = x[best]
        behind[best] = best
        for i in range(stop - 2, start - 1, -1):
            v = x[i]
            better = v > best_v if is_max else v < best_v
            best = i if better else best
            best_v = v if better else best_v
            behind[i] = best
    for i in range(w - 1, m):
        a = behind[i - w + 1]
        c = ahead[i]
        earlier_wins = x[a] > x[c] if is_max else x[a] < x[c]
        idx_out[i] = a if earlier_wins else c


@njit(cache=True, nogil=True)
def aroon_nb(high, low, bounds, n, outs):
    """Aroon up, down and oscillator over n + 1 bars (= TA-Lib AROON, AROONOSC); ties go to the latest bar.

    up = 100 (n - bars since the highest high) / n, down likewise with the lowest low. Look-back n.
    """
    up = outs[0]
    down = outs[1]
    osc = outs[2]
    factor = 100.0 / n
    for k in range(bounds.shape[0] - 1):
        b, e = bounds[k], bounds[k + 1]
        m = e - b
        uo, do, oo = up[b:e], down[b:e], osc[b:e]
        _fill_nan_nb(uo, n)
        _fill_nan_nb(do, n)
        _fill_nan_nb(oo, n)
        hi_idx = np.empty(m, np.int64)
        lo_idx = np.empty(m, np.int64)
        _rolling_argext_seg_nb(high[b:e], hi_idx, n + 1, True)
        _rolling_argext_seg_nb(low[b:e], lo_idx, n + 1, False)
        for t in range(n, m):
            uo[t] = factor * (n - (t - hi_idx[t]))
            do[t] = factor * (n - (t - lo_idx[t]))
            oo[t] = factor * (hi_idx[t] - lo_idx[t])
    return outs


@njit(cache=True, nogil=True)
def _slope_sums_nb(xs, lo, n, base):
    """sum (x - base) and sum j (x - base) over the window xs[lo:lo + n], j = 0..n-1."""
    s1 = 0.0
    s2 = 0.0
    for j in range(n):
        y = xs[lo + j] - base
        s1 += y
        s2 += j * y
    return s1, s2


@njit(cache=True, nogil=True)
def linreg_slope_nb(x, bounds, n, outs):
    """Least-squares slope of the last n values against bar number (= TA-Lib LINEARREG_SLOPE).

    Look-back n - 1. Sliding sums of y and j·y around a base value, re-based on the window and summed
    exactly every n bars (so rounding cannot build up); a flat window is exactly 0.
    """
    out = outs[0]
    sx = n * (n - 1) / 2.0
    denom = n * (n - 1) * (2.0 * n - 1) / 6.0 * n - sx * sx
    for k in range(bounds.shape[0] - 1):
        b, e = bounds[k], bounds[k + 1]
        xs = x[b:e]
        os = out[b:e]
        m = e - b
        _fill_nan_nb(os, n - 1)
        if m < n or n < 2:
            continue
        base = xs[0]
        s1, s2 = _slope_sums_nb(xs, 0, n, base)
        equal_run = 1
        for j in range(1, n):
            equal_run = equal_run + 1 if xs[j] == xs[j - 1] else 1
        since = 0
        for i in range(n - 1, m):
            if i > n - 1:
                equal_run = equal_run + 1 if xs[i] == xs[i - 1] else 1
                since += 1
                if since == n:
                    base = xs[i - n + 1]
                    s1, s2 = _slope_sums_nb(xs, i - n + 1, n, base)
                    since = 0
                else:
                    y_new = xs[i] - base
                    s1 += y_new - (xs[i - n] - base)
                    s2 += n * y_new - s1
            os[i] = 0.0 if equal_run >= n else (n * s2 - sx * s1) / denom
    return outs


@njit(cache=True, nogil=True)
def er_nb(x, bounds, n, outs):
    """Kaufman efficiency ratio |x_t - x_{t-n}| / sum |x_i - x_{i-1}| (= TA-Lib ER); flat window → 0.

    Look-back n.
    """
    out = outs[0]
    for k in range(bounds.shape[0] - 1):
        b, e = bounds[k], bounds[k + 1]
        xs = x[b:e]
        os = out[b:e]
        m = e - b
        _fill_nan_nb(os, n)
        if m <= n:
            continue
        _path_seg_nb(xs, os, n)  # path sums first, then turned into ratios in place
        for i in range(n, m):
            path = os[i]
            if path == 0.0:
                os[i] = 0.0
            else:
                r = abs(xs[i] - xs[i - n]) / path
                os[i] = r if r < 1.0 else 1.0
    return outs


@njit(cache=True, nogil=True)
def stoch_nb(high, low, close, bounds, k_n, smooth_n, d_n, outs):
    """Stochastic %K (SMA-smoothed over smooth_n) and %D (SMA of %K over d_n) (= TA-Lib STOCH).

    Raw %K = 100 (close - lowest low) / (highest high - lowest low) over k_n bars; a flat window gives 50.
    Both outputs start at k_n + smooth_n + d_n - 3.
    """
    k_out = outs[0]
    d_out = outs[1]
    lookback = k_n + smooth_n + d_n - 3
    for k in range(bounds.shape[0] - 1):
        b, e = bounds[k], bounds[k + 1]
        m = e - b
        ko, do = k_out[b:e], d_out[b:e]
        if m <= lookback:
            _fill_nan_nb(ko, m)
            _fill_nan_nb(do, m)
            continue
        hh = np.empty(m)
        ll = np.empty(m)
        _rolling_max_min_seg_nb(high[b:e], low[b:e], hh, ll, k_n)
        cs = close[b:e]
        raw = np.empty(m - (k_n - 1))
        for i in range(k_n - 1, m):
            rng = hh[i] - ll[i]
            raw[i - k_n + 1] = 100.0 * (cs[i] - ll[i]) / rng if rng != 0.0 else 50.0
        slow_k = np.empty(raw.shape[0])
        _sma_seg_nb(raw, slow_k, smooth_n)
        slow_d = np.empty(raw.shape[0])
        _sma_seg_nb(slow_k[smooth_n - 1 :], slow_d[smooth_n - 1 :], d_n)
        _fill_nan_nb(ko, lookback)
        _fill_nan_nb(do, lookback)
        for i in range(lookback, m):
            j = i - k_n + 1
            ko[i] = slow_k[j]
            do[i] = slow_d[j]
    return outs


@njit(cache=True, nogil=True)
def willr_nb(high, low, close, bounds, n, outs):
    """Williams %R = -100 (highest high - close) / (highest high - lowest low) over n bars (= TA-Lib WILLR).

    Look-back n - 1; a flat window gives -50.
    """
    out = outs[0]
    for k in range(bounds.shape[0] - 1):
        b, e = bounds[k], bounds[k + 1]
        m = e - b
        hh = np.empty(m)
        ll = np.empty(m)
        _rolling_max_min_seg_nb(high[b:e], low[b:e], hh, ll, n)
        cs = close[b:e]
        os = out[b:e]
        _fill_nan_nb(os, n - 1)
        for i in range(n - 1, m):
            rng = hh[i] - ll[i]
            os[i] = -100.0 * (hh[i] - cs[i]) / rng if rng != 0.0 else -50.0
    return outs


@njit(cache=True, nogil=True)
def _abs_dev_sum_nb(x, lo, hi, center):
    """sum |x[j] - center| over lo <= j < hi, in four independent partial sums."""
    s0 = 0.0
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    j = lo
    while j + 4 <= hi:
        s0 += abs(x[j] - center)
        s1 += abs(x[j + 1] - center)
        s2 += abs(x[j + 2] - center)
        s3 += abs(x[j + 3] - center)
        j += 4
    while j < hi:
        s0 += abs(x[j] - center)
        j += 1
    return (s0 + s1) + (s2 + s3)


@njit(cache=True, nogil=True)
def _typical_seg_nb(hs, ls, cs):
    """(h + l + c) / 3 of one segment, as a new array."""
    tp = np.empty(hs.shape[0])
    for i in range(hs.shape[0]):
        tp[i] = (hs[i] + ls[i] + cs[i]) / 3.0
    return tp


@njit(cache=True, nogil=True)
def cci_nb(high, low, close, bounds, n, outs):
    """Commodity channel index (= TA-Lib CCI): (tp - SMA(tp)) / (0.015 mean |tp - SMA(tp)|), tp = (h+l+c)/3.

    Look-back n - 1; zero mean deviation gives 0.
    """
    out = outs[0]
    for k in range(bounds.shape[0] - 1):
        b, e = bounds[k], bounds[k + 1]
        m = e - b
        tp = _typical_seg_nb(high[b:e], low[b:e], close[b:e])
        os = out[b:e]
        _fill_nan_nb(os, n - 1)
        total = 0.0
        equal_run = 0  # run of equal typical prices ending at i: a flat window is exactly 0
        for i in range(min(n - 1, m)):
            total += tp[i]
            equal_run = equal_run + 1 if (i > 0 and tp[i] == tp[i - 1]) else 1
        for i in range(n - 1, m):
            total += tp[i]
            equal_run = equal_run + 1 if (i > 0 and tp[i] == tp[i - 1]) else 1
            if equal_run >= n:
                os[i] = 0.0
            else:
                avg = total / n
                dev = _abs_dev_sum_nb(tp, i - n + 1, i + 1, avg)
                num = tp[i] - avg
                os[i] = num / (0.015 * (dev / n)) if (dev != 0.0 and num != 0.0) else 0.0
            total -= tp[i - n + 1]
    return outs


@njit(cache=True, nogil=True)
def mfi_nb(high, low, close, volume, bounds, n, outs):
    """Money flow index over n bars (= TA-Lib MFI); a window with no money flow gives 50. Look-back n."""
    out = outs[0]
    for k in range(bounds.shape[0] - 1):
        b, e = bounds[k], bounds[k + 1]
        m = e - b
        os = out[b:e]
        _fill_nan_nb(os, n)
        if m <= n:
            continue
        tp = _typical_seg_nb(high[b:e], low[b:e], close[b:e])
        vs = volume[b:e]
        pos = np.empty(m)
        neg = np.empty(m)
        pos[0] = 0.0
        neg[0] = 0.0
        for i in range(1, m):
            flow = tp[i] * vs[i]
            pos[i] = flow if tp[i] > tp[i - 1] else 0.0
            neg[i] = flow if tp[i] < tp[i - 1] else 0.0
        pos_sum = np.empty(m)
        neg_sum = np.empty(m)
        _rolling_sum_nonneg_seg_nb(pos, pos_sum, n, 1)
        _rolling_sum_nonneg_seg_nb(neg, neg_sum, n, 1)
        for i in range(n, m):
            total = pos_sum[i] + neg_sum[i]
            os[i] = 100.0 * (pos_sum[i] / total) if total != 0.0 else 50.0
    return outs


@njit(cache=True, nogil=True)
def bbands_nb(x, bounds, n, k_up, k_dn, outs):
    """Bollinger bands on SMA(n) ± k · population std (= TA-Lib BBANDS), plus %B and bandwidth.

    %B = (x - lower) / (upper - lower) (0.5 when the bands coincide); bandwidth = (upper - lower) / middle.
    Look-back n - 1.
    """
    upper = outs[0]
    middle = outs[1]
    lower = outs[2]
    pct_b = outs[3]
    width = outs[4]
    for k in range(bounds.shape[0] - 1):
        b, e = bounds[k], bounds[k + 1]
        m = e - b
        xs, up_s, mid_s, lo_s, pb_s, w_s = (
            x[b:e],
            upper[b:e],
            middle[b:e],
            lower[b:e],
            pct_b[b:e],
            width[b:e],
        )
        sd = np.empty(m)
        _rolling_mean_std_seg_nb(xs, mid_s, sd, n, 0, 0)
        _fill_nan_nb(up_s, n - 1)
        _fill_nan_nb(lo_s, n - 1)
        _fill_nan_nb(pb_s, n - 1)
        _fill_nan_nb(w_s, n - 1)
        for i in range(n - 1, m):
            mid = mid_s[i]
            up = mid + k_up * sd[i]
            lo = mid - k_dn * sd[i]
            up_s[i] = up
            lo_s[i] = lo
            band = up - lo
            pb_s[i] = (xs[i] - lo) / band if band != 0.0 else 0.5
            w_s[i] = band / mid if mid != 0.0 else np.nan
    return outs


@njit(cache=True, nogil=True)
def keltner_nb(high, low, close, bounds, n, atr_n, mult, outs):
    """Keltner channel: EMA(n) of the typical price ± mult · ATR(atr_n) (= TA-Lib KC).

    As in TA-Lib, both legs are seeded at the later of their look-backs, s = max(n - 1, atr_n): the EMA
    with the mean typical price of bars s-n+1..s, the ATR with the mean true range of bars s-atr_n+1..s.
    """
    upper = outs[0]
    middle = outs[1]
    lower = outs[2]
    first = max(n - 1, atr_n)
    for k in range(bounds.shape[0] - 1):
        b, e = bounds[k], bounds[k + 1]
        m = e - b
        hs, ls, cs = high[b:e], low[b:e], close[b:e]
        up_s, mid_s, lo_s = upper[b:e], middle[b:e], lower[b:e]
        tp = _typical_seg_nb(hs, ls, cs)
        atr = np.empty(m)
        _atr_seg_nb(hs, ls, cs, atr, atr_n, first)
        _ema_seg_nb(tp, mid_s, n, first)
        _fill_nan_nb(up_s, first)
        _fill_nan_nb(lo_s, first)
        for i in range(first, m):
            w = atr[i] * mult
            up_s[i] = mid_s[i] + w
            lo_s[i] = mid_s[i] - w
    return outs


@njit(cache=True, nogil=True)
def donchian_nb(high, low, bounds, n, outs):
    """Donchian channel: highest high, mid-point and lowest low of the last n bars (= TA-Lib DONCHIAN).

    Look-back n - 1.
    """
    upper = outs[0]
    middle = outs[1]
    lower = outs[2]
    for k in range(bounds.shape[0] - 1):
        b, e = bounds[k], bounds[k + 1]
        up_s, mid_s, lo_s = upper[b:e], middle[b:e], lower[b:e]
        _rolling_max_min_seg_nb(high[b:e], low[b:e], up_s, lo_s, n)
        for i in range(e - b):
            mid_s[i] = (up_s[i] + lo_s[i]) / 2.0
    return outs


@njit(cache=True, nogil=True)
def rvol_nb(close, bounds, n, outs):
    """Realized volatility: sample std (ddof 1) of the last n one-bar log returns, per bar (not annualised).

    Look-back n.
    """
    out = outs[0]
    for k in range(bounds.shape[0] - 1):
        b, e = bounds[k], bounds[k + 1]
        m = e - b
        cs = close[b:e]
        r = np.empty(m)
        if m > 0:
            r[0] = np.nan
        for i in range(1, m):
            r[i] = np.log(cs[i] / cs[i - 1])
        mean = np.empty(m)
        _rolling_mean_std_seg_nb(r, mean, out[b:e], n, 1, 1)
    return outs


@njit(cache=True, nogil=True)
def parkinson_nb(high, low, bounds, n, outs):
    """Parkinson volatility sqrt(sum ln(h/l)^2 / (4 n ln 2)) over n bars, per bar. Look-back n - 1."""
    out = outs[0]
    scale = 1.0 / (4.0 * n * _LN2)
    for k in range(bounds.shape[0] - 1):
        b, e = bounds[k], bounds[k + 1]
        m = e - b
        hs, ls, os = high[b:e], low[b:e], out[b:e]
        sq = np.empty(m)
        for i in range(m):
            v = np.log(hs[i] / ls[i])
            sq[i] = v * v
        _rolling_sum_nonneg_seg_nb(sq, os, n, 0)
        for i in range(n - 1, m):
            os[i] = np.sqrt(os[i] * scale)
    return outs


@njit(cache=True, nogil=True)
def garman_klass_nb(open_, high, low, close, bounds, n, outs):
    """Garman–Klass volatility sqrt(mean(0.5 ln(h/l)^2 - (2 ln 2 - 1) ln(c/o)^2)) over n bars, per bar.

    Look-back n - 1. Each bar's term is >= 0 for a consistent bar (low <= open, close <= high); a term
    made negative by an inconsistent bar or by rounding is clipped to 0.
    """
    out = outs[0]
    c2 = 2.0 * _LN2 - 1.0
    inv_n = 1.0 / n
    for k in range(bounds.shape[0] - 1):
        b, e = bounds[k], bounds[k + 1]
        m = e - b
        os_, hs, ls, cs, os = open_[b:e], high[b:e], low[b:e], close[b:e], out[b:e]
        terms = np.empty(m)
        for i in range(m):
            hl = np.log(hs[i] / ls[i])
            co = np.log(cs[i] / os_[i])
            t = 0.5 * hl * hl - c2 * co * co
            terms[i] = t if t > 0.0 else 0.0
        _rolling_sum_nonneg_seg_nb(terms, os, n, 0)
        for i in range(n - 1, m):
            os[i] = np.sqrt(os[i] * inv_n)
    return outs


@njit(cache=True, nogil=True)
def zscore_nb(x, bounds, n, outs):
    """(x - SMA(n)) / population std over n bars; a flat window gives 0. Look-back n - 1."""
    out = outs[0]
    for k in range(bounds.shape[0] - 1):
        b, e = bounds[k], bounds[k + 1]
        m = e - b
        xs, os = x[b:e], out[b:e]
        mean = np.empty(m)
        sd = np.empty(m)
        _rolling_mean_std_seg_nb(xs, mean, sd, n, 0, 0)
        _fill_nan_nb(os, n - 1)
        for i in range(n - 1, m):
            os[i] = (xs[i] - mean[i]) / sd[i] if sd[i] != 0.0 else 0.0
    return outs


@njit(cache=True, nogil=True)
def obv_nb(close, volume, bounds, outs):
    """On-balance volume (= TA-Lib OBV): starts at the first bar's volume, ± volume on up/down closes."""
    out = outs[0]
    for k in range(bounds.shape[0] - 1):
        b, e = bounds[k], bounds[k + 1]
        if e == b:
            continue
        cs, vs, os = close[b:e], volume[b:e], out[b:e]
        acc = vs[0]
        os[0] = acc
        for i in range(1, e - b):
            acc += np.sign(cs[i] - cs[i - 1]) * vs[i]
            os[i] = acc
    return outs


@njit(cache=True, nogil=True)
def vwap_nb(high, low, close, volume, bounds, n, outs):
    """Rolling VWAP of the typical price over n bars: sum(tp · v) / sum(v); no volume in the window → NaN.

    Look-back n - 1.
    """
    out = outs[0]
    for k in range(bounds.shape[0] - 1):
        b, e = bounds[k], bounds[k + 1]
        m = e - b
        vs, os = volume[b:e], out[b:e]
        pv = _typical_seg_nb(high[b:e], low[b:e], close[b:e])
        for i in range(m):
            pv[i] *= vs[i]
        pv_sum = np.empty(m)
        v_sum = np.empty(m)
        _rolling_sum_nonneg_seg_nb(pv, pv_sum, n, 0)
        _rolling_sum_nonneg_seg_nb(vs, v_sum, n, 0)
        _fill_nan_nb(os, n - 1)
        for i in range(n - 1, m):
            os[i] = pv_sum[i] / v_sum[i] if v_sum[i] != 0.0 else np.nan
    return outs
