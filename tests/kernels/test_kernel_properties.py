"""Invariants of the simulation kernel at every bar, over random prices, targets and limits (hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from trader_cols.kernels.records import FILL_DTYPE, STAT_FEES, STAT_FILLS
from trader_cols.kernels.roundtrips import round_trip_stats_nb
from trader_cols.kernels.simulate import simulate_batch_nb, simulate_independent_nb, simulate_nb

from .cases import params_strategy, random_market, random_targets, run_kernel

CASE = {
    "seed": st.integers(0, 2**31 - 1),
    "n_bars": st.integers(2, 40),
    "n_symbols": st.integers(1, 5),
    "scale": st.sampled_from([0.3, 1.0, 2.5]),
    "daily": st.booleans(),
    "params": params_strategy(),
}


def priced(market: dict) -> np.ndarray:
    ok = np.ones(market["close"].shape, dtype=bool)
    for key in ("open_", "high", "low", "close"):
        a = market[key]
        ok &= np.isfinite(a) & (a > 0)
    return ok


def last_priced_close(market: dict) -> np.ndarray:
    """The close of the latest priced bar at or before t (NaN before the first)."""
    ok = priced(market)
    out = np.where(ok, market["close"], np.nan)
    for t in range(1, out.shape[0]):
        out[t] = np.where(ok[t], out[t], out[t - 1])
    return out


@settings(max_examples=120, deadline=None)
@given(**CASE)
def test_accounting_invariants(seed, n_bars, n_symbols, scale, daily, params):
    market = random_market(seed, n_bars, n_symbols, daily=daily)
    target = random_targets(seed, n_bars, n_symbols, scale=scale)
    out = run_kernel(market, target, params)
    fills, pos = out["fills"], out["positions"]
    marks = last_priced_close(market)

    # equity = cash + Σ position × price (the last priced close) at every bar
    held = np.where(pos != 0.0, pos * np.nan_to_num(marks), 0.0)
    np.testing.assert_allclose(
        out["equity"],
        out["cash"] + held.sum(axis=1),
        rtol=1e-12,
        atol=1e-9 * params.initial_capital,
    )
    np.testing.assert_allclose(out["gross"], np.abs(held).sum(axis=1), rtol=1e-12, atol=1e-9)

    # fills are well formed: fees >= 0, positive qty and price, sides ±1
    assert (fills["fees"] >= 0).all()
    assert (fills["qty"] > 0).all() and (fills["price"] > 0).all()
    assert set(np.unique(fills["side"]).tolist()) <= {-1, 1}

    # positions and cash move only by fills
    signed = fills["qty"] * fills["side"]
    flow = np.zeros((n_bars, n_symbols))
    np.add.at(flow, (fills["bar"], fills["col"]), signed)
    np.testing.assert_allclose(
        np.diff(np.vstack([np.zeros(n_symbols), pos]), axis=0),
        flow,
        atol=1e-9 * np.abs(pos).max(initial=1.0),
    )
    cash_flow = np.zeros(n_bars)
    np.add.at(cash_flow, fills["bar"], -signed * fills["price"] - fills["fees"])
    np.testing.assert_allclose(
        np.diff(np.concatenate([[params.initial_capital], out["cash"]])),
        cash_flow,
        atol=1e-9 * params.initial_capital,
    )
    assert out["stats"][STAT_FILLS] == len(fills)
    np.testing.assert_allclose(out["stats"][STAT_FEES], fills["fees"].sum(), rtol=1e-12, atol=1e-12)

    # no fill on a bar that is not tradable or not priced
    can = priced(market) & market["tradable"]
    assert can[fills["bar"], fills["col"]].all()

    # a zero target leaves a zero position (wherever the symbol can trade at the execution)
    if params.fill_on_close:
        zero = (target == 0.0) & can
    else:
        zero = np.zeros_like(can)
        zero[1:] = (target[:-1] == 0.0) & can[1:]
    assert (pos[zero] == 0.0).all()

    # no short positions when shorting is off
    if not params.allow_short:
        assert (pos >= 0.0).all()


@settings(max_examples=120, deadline=None)
@given(**CASE)
def test_gross_after_execution_within_limit(seed, n_bars, n_symbols, scale, daily, params):
    """Execution never leaves gross above max_gross_leverage × the equity the targets were sized from.

    Positions that cannot trade at the execution are frozen: if they alone exceed the limit, the tradable ones go
    to zero. With whole lots a reduction may stop short of its target by less than one lot per symbol.
    """
    market = random_market(seed, n_bars, n_symbols, daily=daily)
    target = random_targets(seed, n_bars, n_symbols, scale=scale)
    out = run_kernel(market, target, params)
    lev = params.max_gross_leverage
    if not np.isfinite(lev):
        return
    ok = priced(market)
    can = ok & market["tradable"]
    before = np.vstack([np.zeros(n_symbols), out["positions"][:-1]])
    last = last_priced_close(market)
    prev_last = np.vstack([np.full(n_symbols, np.nan), last[:-1]])
    ref = market["close"] if params.fill_on_close else market["open_"]
    marks = np.where(ok, ref, last if params.fill_on_close else prev_last)
    frozen = np.where(~can & (before != 0.0), np.abs(before * np.nan_to_num(marks)), 0.0).sum(
        axis=1
    )
    slack = params.lot_size * np.where(can, np.nan_to_num(ref), 0.0).sum(axis=1)
    limit = np.maximum(lev * out["exec_equity"], frozen) * (1 + 1e-9) + slack + 1e-9
    assert (out["exec_gross"] <= limit).all(), np.max(out["exec_gross"] - limit)


@settings(max_examples=40, deadline=None)
@given(**CASE)
def test_bit_identical_on_repeat(seed, n_bars, n_symbols, scale, daily, params):
    market = random_market(seed, n_bars, n_symbols, daily=daily)
    target = random_targets(seed, n_bars, n_symbols, scale=scale)
    a, b = run_kernel(market, target, params), run_kernel(market, target, params)
    for key in a:
        if (
            key == "fills"
        ):  # compare field by field: the aligned record's padding bytes are never written
            for field in FILL_DTYPE.names:
                assert a[key][field].tobytes() == b[key][field].tobytes(), field
        else:
            assert a[key].tobytes() == b[key].tobytes(), key


@settings(max_examples=40, deadline=None)
@given(**CASE)
def test_independent_equals_each_symbol_alone(seed, n_bars, n_symbols, scale, daily, params):
    """The symbol-outer kernel on [N, T] arrays gives exactly what simulate_nb gives on each symbol by itself."""
    market = random_market(seed, n_bars, n_symbols, daily=daily)
    target = random_targets(seed, n_bars, n_symbols, scale=scale)
    long = {k: np.ascontiguousarray(v.T) for k, v in market.items() if k != "session_id"}
    fills = np.empty(3 * n_bars * n_symbols + 1, FILL_DTYPE)
    eq, cash, gross, pos, n_fills, stats = simulate_independent_nb(
        long["open_"],
        long["high"],
        long["low"],
        long["close"],
        np.ascontiguousarray(target.T),
        long["tradable"],
        market["session_id"],
        params,
        fills,
    )
    got_fills = fills[:n_fills]
    round_trip_stats_nb(fills, n_fills, n_symbols, stats)  # per symbol: one row each
    for j in range(n_symbols):
        alone = {
            k: np.ascontiguousarray(v[:, j : j + 1]) for k, v in market.items() if k != "session_id"
        }
        alone["session_id"] = market["session_id"]
        one = run_kernel(alone, np.ascontiguousarray(target[:, j : j + 1]), params)
        assert eq[j].tobytes() == one["equity"].tobytes()
        assert cash[j].tobytes() == one["cash"].tobytes()
        assert pos[j].tobytes() == one["positions"][:, 0].tobytes()
        assert stats[j].tobytes() == one["stats"].tobytes()
        mine = got_fills[got_fills["col"] == j]
        assert (one["fills"]["col"] == 0).all()
        for key in ("bar", "side", "reason", "qty", "price", "fees"):
            assert mine[key].tobytes() == one["fills"][key].tobytes(), key


@settings(max_examples=30, deadline=None)
@given(**CASE, n_sets=st.integers(1, 4))
def test_batch_equals_one_run_per_set(seed, n_bars, n_symbols, scale, daily, params, n_sets):
    market = random_market(seed, n_bars, n_symbols, daily=daily)
    targets = np.stack(
        [random_targets(seed + k, n_bars, n_symbols, scale=scale) for k in range(n_sets)]
    )
    equity, gross, stats = simulate_batch_nb(
        market["open_"],
        market["high"],
        market["low"],
        market["close"],
        targets,
        market["tradable"],
        market["session_id"],
        params,
    )
    for k in range(n_sets):
        one = run_kernel(market, np.ascontiguousarray(targets[k]), params)
        assert equity[k].tobytes() == one["equity"].tobytes()
        assert gross[k].tobytes() == one["gross"].tobytes()
        assert stats[k].tobytes() == one["stats"].tobytes()


def test_small_fill_buffer_reports_the_needed_size():
    """A buffer too small for all fills keeps the first ones and returns the full count, so callers can retry."""
    market = random_market(11, 30, 3)
    target = random_targets(11, 30, 3)
    from trader_cols.kernels.records import SimParams

    params = SimParams(initial_capital=10_000.0, commission_bps=1.0)
    full = run_kernel(market, target, params)
    small = np.empty(3, FILL_DTYPE)
    out = simulate_nb(
        market["open_"],
        market["high"],
        market["low"],
        market["close"],
        target,
        market["tradable"],
        market["session_id"],
        params,
        small,
    )
    assert out[6] == len(full["fills"]) > 3
    for field in FILL_DTYPE.names:
        assert small[field].tobytes() == full["fills"][:3][field].tobytes()
    assert out[0].tobytes() == full["equity"].tobytes()


def test_batch_counts_the_trades_of_a_set_whose_fills_outgrow_its_first_buffer():
    """A set that flips every bar and is stopped out inside bars makes more fills than bars x symbols: the batch grows
    that set's buffer, reruns it, and still counts its trades exactly as a single run does."""
    from trader_cols.kernels.records import STAT_TRADES, SimParams

    n_bars = 60
    market = random_market(5, n_bars, 1)
    flip = np.where(np.arange(n_bars) % 2 == 0, 0.9, -0.9)[:, None]
    params = SimParams(allow_short=True, max_position_pct=1.0, stop_loss_pct=0.002)
    one = run_kernel(market, np.ascontiguousarray(flip), params)
    assert len(one["fills"]) > n_bars + 16 and one["stats"][STAT_TRADES] > n_bars / 2
    _equity, _gross, stats = simulate_batch_nb(
        market["open_"], market["high"], market["low"], market["close"], np.stack([flip, -flip]),
        market["tradable"], market["session_id"], params,
    )
    assert stats[0].tobytes() == one["stats"].tobytes()
    assert stats[1, STAT_TRADES] > n_bars / 2
