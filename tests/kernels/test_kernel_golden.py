"""Hand-computed cases, one or more per rule: timing, costs, caps, funding, stops, loss limits, NaN, liquidation."""

from __future__ import annotations

import numpy as np
import pytest

from trader_cols.kernels.records import REASON_NAMES, SimParams

from .cases import run_kernel

NAN = float("nan")


def market(rows, *, tradable=None, session=None) -> dict:
    """One symbol from (open, high, low, close) rows, or several from rows of such tuples."""
    a = np.array(rows, dtype=np.float64)
    if a.ndim == 2:
        a = a[:, None, :]
    n_bars, n = a.shape[:2]
    return {
        "open_": np.ascontiguousarray(a[:, :, 0]),
        "high": np.ascontiguousarray(a[:, :, 1]),
        "low": np.ascontiguousarray(a[:, :, 2]),
        "close": np.ascontiguousarray(a[:, :, 3]),
        "tradable": np.ones((n_bars, n), bool)
        if tradable is None
        else np.array(tradable, bool).reshape(n_bars, n),
        "session_id": np.arange(n_bars, dtype=np.int64)
        if session is None
        else np.array(session, np.int64),
    }


def flat(price: float, n: int) -> list:
    return [(price, price, price, price)] * n


def targets(values) -> np.ndarray:
    a = np.array(values, dtype=np.float64)
    return a[:, None] if a.ndim == 1 else a


def fills(out) -> list[tuple]:
    """(bar, col, side, qty, price, fees, reason name) rounded for comparison."""
    return [
        (
            int(f["bar"]),
            int(f["col"]),
            int(f["side"]),
            round(float(f["qty"]), 9),
            round(float(f["price"]), 9),
            round(float(f["fees"]), 9),
            REASON_NAMES[f["reason"]],
        )
        for f in out["fills"]
    ]


def test_next_open_fill_with_slippage_and_commission():
    m = market([(100, 100, 100, 100), (100, 112, 99, 110), (110, 110, 110, 110)])
    p = SimParams(initial_capital=10_000.0, commission_bps=10.0, slippage_bps=10.0)
    out = run_kernel(m, targets([0.5, NAN, NAN]), p)
    # decided at bar 0's close, filled at bar 1's open: 0.5 * 10,000 / 100 = 50 units at 100 * 1.001
    assert fills(out) == [(1, 0, 1, 50.0, 100.1, 5.005, "rebalance")]
    assert out["equity"][0] == 10_000.0
    assert out["cash"][1] == pytest.approx(10_000 - 5_005 - 5.005, rel=1e-15)
    assert out["equity"][1] == pytest.approx(4_989.995 + 50 * 110, rel=1e-15)


def test_close_fill_trades_on_the_deciding_bar():
    m = market([(100, 100, 100, 100), (100, 112, 99, 110)])
    p = SimParams(initial_capital=10_000.0, slippage_bps=10.0, fill_on_close=True)
    out = run_kernel(m, targets([0.5, NAN]), p)
    assert fills(out) == [(0, 0, 1, 50.0, 100.1, 0.0, "rebalance")]
    assert out["equity"][0] == pytest.approx(10_000 - 50 * 0.1, rel=1e-15)


def test_commission_minimum_and_per_share():
    m = market(flat(50, 3))
    p = SimParams(initial_capital=10_000.0, commission_per_share=0.005, commission_min=1.0)
    out = run_kernel(m, targets([0.05, NAN, NAN]), p)  # 10 units: 0.05 per share < 1.0 minimum
    assert fills(out) == [(1, 0, 1, 10.0, 50.0, 1.0, "rebalance")]


def test_position_cap_clips_the_target():
    m = market(flat(100, 3))
    out = run_kernel(
        m, targets([0.8, NAN, NAN]), SimParams(initial_capital=10_000.0, max_position_pct=0.25)
    )
    assert fills(out) == [(1, 0, 1, 25.0, 100.0, 0.0, "position_cap")]


def test_position_cap_trims_a_held_position_that_drifted_above_it():
    m = market([(100, 100, 100, 100), (100, 200, 100, 200), (200, 200, 200, 200)])
    out = run_kernel(
        m, targets([0.5, NAN, NAN]), SimParams(initial_capital=10_000.0, max_position_pct=0.6)
    )
    # bar 1 close: 50 units worth 10,000 of 15,000 = 0.667 > 0.6 -> trim to 0.6 * 15,000 / 200 = 45 units
    assert fills(out) == [
        (1, 0, 1, 50.0, 100.0, 0.0, "rebalance"),
        (2, 0, -1, 5.0, 200.0, 0.0, "position_cap"),
    ]


def test_gross_cap_scales_all_weights_pro_rata():
    m = market([[(100, 100, 100, 100), (50, 50, 50, 50)]] * 2)
    out = run_kernel(
        m,
        targets([[0.8, 0.4], [NAN, NAN]]),
        SimParams(initial_capital=12_000.0, max_gross_leverage=1.0),
    )
    # 0.8 + 0.4 = 1.2 > 1 -> x 1/1.2: 0.667 * 12,000 / 100 = 80 and 0.333 * 12,000 / 50 = 80
    assert fills(out) == [
        (1, 0, 1, 80.0, 100.0, 0.0, "gross_cap"),
        (1, 1, 1, 80.0, 50.0, 0.0, "gross_cap"),
    ]


def test_order_that_cannot_be_funded_is_clipped():
    m = market(flat(100, 3))
    p = SimParams(
        initial_capital=10_000.0, commission_bps=10.0, lot_size=1.0, max_gross_leverage=1.0
    )
    out = run_kernel(m, targets([1.0, NAN, NAN]), p)
    # 100 units would need 10,000 + 10 of fees; 10,000 / (100 * 1.001) = 99.9 -> 99 whole units
    assert fills(out) == [(1, 0, 1, 99.0, 100.0, 9.9, "funding_clip")]
    assert out["cash"][1] == pytest.approx(90.1, rel=1e-12)


def test_no_short_turns_a_negative_target_into_an_exit():
    m = market(flat(100, 3))
    out = run_kernel(
        m, targets([0.5, -0.5, NAN]), SimParams(initial_capital=10_000.0, allow_short=False)
    )
    assert fills(out) == [
        (1, 0, 1, 50.0, 100.0, 0.0, "rebalance"),
        (2, 0, -1, 50.0, 100.0, 0.0, "no_short"),
    ]
    assert out["positions"][2, 0] == 0.0


STOP_ROWS = [
    (100, 100, 100, 100),
    (100, 101, 97, 99),
    (98, 99, 94, 96),
    (96, 97, 95, 96),
    (96, 97, 95, 96),
    (96, 97, 95, 96),
]


def test_stop_loss_intrabar_exits_at_the_stop_and_blocks_reentry_until_target_resets():
    p = SimParams(initial_capital=10_000.0, stop_loss_pct=0.05)
    out = run_kernel(market(STOP_ROWS), targets([1, 1, 1, 0, 1, 1]), p)
    # entry 100 -> stop 95; bar 2's low 94 touches it; the target stays 1 (no re-entry) until it goes 0 then 1
    assert fills(out) == [
        (1, 0, 1, 100.0, 100.0, 0.0, "rebalance"),
        (2, 0, -1, 100.0, 95.0, 0.0, "stop_loss"),
        (5, 0, 1, round(9_500 / 96, 9), 96.0, 0.0, "rebalance"),
    ]


def test_stop_loss_gap_through_fills_at_the_open():
    rows = list(STOP_ROWS)
    rows[2] = (90, 92, 89, 91)
    out = run_kernel(
        market(rows),
        targets([1, 1, 1, 1, 1, 1]),
        SimParams(initial_capital=10_000.0, stop_loss_pct=0.05),
    )
    assert fills(out)[:2] == [
        (1, 0, 1, 100.0, 100.0, 0.0, "rebalance"),
        (2, 0, -1, 100.0, 90.0, 0.0, "stop_loss"),
    ]
    assert len(out["fills"]) == 2  # never re-entered: the target never left the long side


def test_short_stop_triggers_on_the_high():
    rows = [(100, 100, 100, 100), (100, 101, 99, 100), (100, 106, 99, 104), (104, 104, 104, 104)]
    out = run_kernel(
        market(rows),
        targets([-1, -1, -1, -1]),
        SimParams(initial_capital=10_000.0, stop_loss_pct=0.05),
    )
    assert fills(out) == [
        (1, 0, -1, 100.0, 100.0, 0.0, "rebalance"),
        (2, 0, 1, 100.0, 105.0, 0.0, "stop_loss"),
    ]


def test_daily_loss_on_daily_bars_flattens_next_open_and_sits_out_one_bar():
    rows = [(100, 100, 100, 100), (100, 100, 96, 96), (97, 97, 97, 97), (97, 97, 97, 97)]
    out = run_kernel(
        market(rows),
        targets([1, 1, 1, 1]),
        SimParams(initial_capital=10_000.0, daily_loss_cut_pct=0.03),
    )
    # bar 1: close-to-close loss 4% >= 3% -> flatten at bar 2's open; bar 3 takes bar 2's target again
    assert fills(out) == [
        (1, 0, 1, 100.0, 100.0, 0.0, "rebalance"),
        (2, 0, -1, 100.0, 97.0, 0.0, "daily_loss"),
        (3, 0, 1, 100.0, 97.0, 0.0, "rebalance"),
    ]


def test_daily_loss_intraday_blocks_new_risk_until_the_next_session():
    rows = [(100, 100, 100, 100), (100, 100, 96, 96)] + flat(97, 4)
    m = market(rows, session=[0, 0, 0, 0, 1, 1])
    out = run_kernel(
        m, targets([1] * 6), SimParams(initial_capital=10_000.0, daily_loss_cut_pct=0.03)
    )
    assert fills(out) == [
        (1, 0, 1, 100.0, 100.0, 0.0, "rebalance"),
        (2, 0, -1, 100.0, 97.0, 0.0, "daily_loss"),
        (4, 0, 1, 100.0, 97.0, 0.0, "rebalance"),  # bar 3 is still session 0; bar 4 opens session 1
    ]


def test_daily_loss_in_close_mode_flattens_at_once():
    rows = [(100, 100, 100, 100), (100, 100, 96, 96), (96, 96, 96, 96)]
    p = SimParams(initial_capital=10_000.0, daily_loss_cut_pct=0.03, fill_on_close=True)
    out = run_kernel(market(rows), targets([1, 1, 1]), p)
    assert fills(out) == [
        (0, 0, 1, 100.0, 100.0, 0.0, "rebalance"),
        (1, 0, -1, 100.0, 96.0, 0.0, "daily_loss"),
        (2, 0, 1, 100.0, 96.0, 0.0, "rebalance"),
    ]


@pytest.mark.parametrize("cooloff", [0, 2])
def test_max_drawdown_flattens_and_halts_with_optional_cooloff(cooloff):
    rows = [(100, 100, 100, 100), (100, 100, 89, 89)] + flat(90, 4)
    p = SimParams(initial_capital=10_000.0, max_drawdown_pct=0.1, cooloff_bars=cooloff)
    out = run_kernel(market(rows), targets([1] * 6), p)
    expected = [
        (1, 0, 1, 100.0, 100.0, 0.0, "rebalance"),
        (2, 0, -1, 100.0, 90.0, 0.0, "max_drawdown"),
    ]
    if cooloff:
        # triggered at bar 1's close; flat through bars 2 and 3; bar 4's open trades again (peak restarts at 9,000)
        expected.append((4, 0, 1, 100.0, 90.0, 0.0, "rebalance"))
    assert fills(out) == expected


def test_hold_on_nan_keeps_or_exits():
    m = market(flat(100, 3))
    held = run_kernel(
        m, targets([0.5, NAN, NAN]), SimParams(initial_capital=10_000.0, hold_on_nan=True)
    )
    assert held["positions"][:, 0].tolist() == [0.0, 50.0, 50.0]
    dropped = run_kernel(
        m, targets([0.5, NAN, NAN]), SimParams(initial_capital=10_000.0, hold_on_nan=False)
    )
    assert dropped["positions"][:, 0].tolist() == [0.0, 50.0, 0.0]


def test_nan_prices_and_untradable_bars_hold_without_fills():
    rows = [(100, 100, 100, 100), (100, 100, 100, 110), (NAN, NAN, NAN, NAN), (120, 120, 120, 120)]
    out = run_kernel(
        market(rows), targets([0.5, 0.0, 0.0, 0.0]), SimParams(initial_capital=10_000.0)
    )
    # the exit decided at bar 1 cannot happen at bar 2 (no price): held, valued at bar 1's close, exits at bar 3
    assert fills(out) == [
        (1, 0, 1, 50.0, 100.0, 0.0, "rebalance"),
        (3, 0, -1, 50.0, 120.0, 0.0, "rebalance"),
    ]
    assert out["equity"][2] == out["equity"][1] == 5_000 + 50 * 110

    halted = market(flat(100, 4), tradable=[True, True, False, True])
    out = run_kernel(halted, targets([0.5, 0.0, 0.0, 0.0]), SimParams(initial_capital=10_000.0))
    assert [f[0] for f in fills(out)] == [1, 3]


def test_liquidation_when_equity_is_gone():
    rows = [(100, 100, 100, 100), (100, 100, 60, 60), (60, 60, 60, 60)]
    out = run_kernel(market(rows), targets([3.0, 3.0, 3.0]), SimParams(initial_capital=10_000.0))
    # 300 units on 10,000: at 60 the book is worth -2,000 -> everything is sold at the next open
    assert out["equity"][1] == pytest.approx(-2_000.0)
    assert fills(out) == [
        (1, 0, 1, 300.0, 100.0, 0.0, "rebalance"),
        (2, 0, -1, 300.0, 60.0, 0.0, "liquidation"),
    ]
