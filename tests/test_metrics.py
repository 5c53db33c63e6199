"""Metrics against hand-computed values and against brute-force definitions."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from trader_cols import metrics as m


def test_cagr_doubling_in_one_year():
    eq = np.linspace(100, 200, 253)
    assert math.isclose(m.cagr(eq, 252), 1.0, rel_tol=1e-12)


def test_cagr_of_wipeout_is_minus_one():
    assert m.cagr(np.array([100.0, 50.0, 0.0]), 252) == -1.0


def test_max_drawdown_hand_computed():
    eq = np.array([100, 120, 90, 130, 65, 140.0])
    assert math.isclose(m.max_drawdown(eq), 0.5)
    assert np.allclose(m.drawdown(eq), [0, 0, 0.25, 0, 0.5, 0])


def test_sharpe_and_sortino_hand_computed():
    r = np.array([0.01, -0.02, 0.03, 0.0])
    mean, sd = r.mean(), r.std(ddof=1)
    assert math.isclose(m.sharpe(r, 252), mean / sd * math.sqrt(252))
    down = math.sqrt((0.02**2) / 4)
    assert math.isclose(m.sortino(r, 252), mean / down * math.sqrt(252))


def test_flat_series_give_zero_not_nan():
    flat = np.full(10, 100.0)
    r = m.bar_returns(flat)
    assert m.sharpe(r, 252) == 0 and m.sortino(r, 252) == 0 and m.max_drawdown(flat) == 0 and m.cagr(flat, 252) == 0
    assert m.win_rate([]) == 0 and m.avg_trade([]) == 0


def test_turnover_and_exposure():
    w = np.array([[0, 0], [0.5, 0.5], [0.5, -0.5], [0, 0]], dtype=float)
    # |Δ| sums: 1.0, 1.0, 1.0 → mean 1.0, one-way 0.5
    assert m.turnover(w) == 0.5
    assert m.exposure(np.array([0, 1.0, 1.0, 0])) == 0.5


def test_periods_per_year_daily_calendar():
    days = np.arange(0, 365 * 2 + 1) * 86400.0
    assert math.isclose(m.periods_per_year(days), 730 / (730 / 365.25))


@given(arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(2, 40)), elements=st.floats(1.0, 1e4)))
def test_batch_equals_one_by_one(eq):
    ppy = 252
    batch = (m.cagr(eq, ppy), m.sharpe(m.bar_returns(eq), ppy), m.sortino(m.bar_returns(eq), ppy), m.max_drawdown(eq))
    for p in range(eq.shape[0]):
        one = (m.cagr(eq[p], ppy), m.sharpe(m.bar_returns(eq[p]), ppy), m.sortino(m.bar_returns(eq[p]), ppy),
               m.max_drawdown(eq[p]))
        for b, o in zip(batch, one, strict=True):
            assert np.isclose(b[p], o, rtol=1e-12, atol=1e-12)


@given(arrays(np.float64, st.integers(2, 60), elements=st.floats(1.0, 1e4)))
def test_max_drawdown_matches_brute_force(eq):
    brute = max(1 - eq[j] / eq[: j + 1].max() for j in range(eq.size))
    assert math.isclose(m.max_drawdown(eq), brute, rel_tol=1e-12, abs_tol=1e-15)
