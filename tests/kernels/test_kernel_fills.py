"""The scalar fill model: slippage, commission with per-share part and minimum, lots, the funding limit."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trader_cols.kernels.fills import fees_nb, fill_price_nb, max_fundable_qty_nb, round_lot_nb


def test_fill_price_moves_against_the_trader():
    assert fill_price_nb(100.0, 1, 10.0) == pytest.approx(100.1, rel=1e-15)
    assert fill_price_nb(100.0, -1, 10.0) == pytest.approx(99.9, rel=1e-15)
    assert fill_price_nb(100.0, 1, 0.0) == 100.0


def test_fees_bps_per_share_and_minimum():
    # 200 shares at 50: 10 bps of 10,000 = 10, plus 0.005/share = 1 -> 11
    assert fees_nb(200.0, 50.0, 10.0, 0.005, 1.0) == pytest.approx(11.0, rel=1e-15)
    # the minimum binds on a small fill, and the sign of qty does not matter
    assert fees_nb(-2.0, 50.0, 10.0, 0.005, 1.0) == 1.0
    # no fill, no fee (not even the minimum)
    assert fees_nb(0.0, 50.0, 10.0, 0.005, 1.0) == 0.0


def test_round_lot_rounds_toward_zero():
    assert round_lot_nb(12.9, 1.0) == 12.0
    assert round_lot_nb(-12.9, 1.0) == -12.0
    assert round_lot_nb(0.75, 0.5) == 0.5
    assert round_lot_nb(12.9, 0.0) == 12.9


@settings(max_examples=300, deadline=None)
@given(
    headroom=st.one_of(st.just(0.0), st.floats(1e-6, 1e7)),
    ref=st.floats(0.5, 5000.0),
    slip=st.sampled_from([0.0, 5.0, 50.0]),
    lev=st.sampled_from([0.5, 1.0, 2.0, 4.0]),
    bps=st.sampled_from([0.0, 1.0, 10.0]),
    per_share=st.sampled_from([0.0, 0.005]),
    minimum=st.sampled_from([0.0, 1.0, 25.0]),
)
def test_max_fundable_is_the_largest_quantity_that_fits(
    headroom, ref, slip, lev, bps, per_share, minimum
):
    u = max_fundable_qty_nb(headroom, ref, slip, lev, bps, per_share, minimum)
    fill = fill_price_nb(ref, 1, slip)

    def need(q: float) -> float:
        return q * ref + lev * (q * (fill - ref) + fees_nb(q, fill, bps, per_share, minimum))

    assert u >= 0.0
    if u > 0.0:
        assert need(u) <= headroom * (1 + 1e-12) + 1e-9
        bigger = u * (1 + 1e-9) + 1e-12
        assert need(bigger) > headroom
    else:
        # nothing fits: even the smallest fill pays the minimum commission
        assert headroom <= lev * minimum * (1 + 1e-12) or headroom == 0.0


def test_fundable_matches_cash_rule_for_long_only_unlevered():
    """With leverage 1 and no position: cash after fill and fees is exactly zero at the limit."""
    cash, ref, bps = 10_000.0, 100.0, 10.0
    u = max_fundable_qty_nb(cash, ref, 0.0, 1.0, bps, 0.0, 0.0)
    assert math.isclose(cash - u * ref - fees_nb(u, ref, bps, 0.0, 0.0), 0.0, abs_tol=1e-9)
    assert math.isclose(u, cash / (ref * (1 + bps * 1e-4)), rel_tol=1e-14)
