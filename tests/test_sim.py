"""The sim bridge: long frames ↔ dense arrays (zero-copy where the layout allows), the entry points, params."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import polars as pl
import pytest

from trader_cols.errors import ConfigError, DataSanityError
from trader_cols.kernels.records import FILL_DTYPE, REASON_NAMES, SimParams
from trader_cols.kernels.simulate import simulate_nb
from trader_cols.sim import (
    _run_with_buffer,
    market_arrays,
    sim_params,
    simulate,
    simulate_batch,
    simulate_per_symbol,
    target_array,
)

UTC = pl.Datetime("us", "UTC")
PARAMS = SimParams(
    initial_capital=100_000.0,
    commission_bps=2.0,
    commission_min=0.5,
    slippage_bps=1.0,
    max_position_pct=0.4,
    max_gross_leverage=1.0,
    stop_loss_pct=0.03,
    daily_loss_cut_pct=0.04,
    max_drawdown_pct=0.3,
    cooloff_bars=3,
)


def make_bars(
    n_bars: int = 60, symbols=("AAA", "BBB", "CCC"), seed: int = 1, step: str = "1d"
) -> pl.DataFrame:
    """Dense long bars sorted by (ts, symbol)."""
    rng = np.random.default_rng(seed)
    n = len(symbols)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, (n_bars, n)), axis=0))
    open_ = close * np.exp(rng.normal(0, 0.01, (n_bars, n)))
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.02, (n_bars, n)))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.02, (n_bars, n)))
    start = pl.datetime(2024, 1, 1, time_zone="UTC")
    ts = pl.datetime_range(
        start, start + pl.duration(days=n_bars * 10), step, eager=True, time_zone="UTC"
    )
    ts = ts.head(n_bars).cast(UTC)
    return pl.DataFrame(
        {
            "symbol": list(symbols) * n_bars,
            "ts": np.repeat(ts.to_numpy(), n),
            "open": open_.ravel(),
            "high": high.ravel(),
            "low": low.ravel(),
            "close": close.ravel(),
        }
    ).with_columns(pl.col("ts").cast(UTC))


def make_targets(bars: pl.DataFrame, seed: int = 2) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return bars.select("symbol", "ts").with_columns(
        target_weight=pl.Series(rng.uniform(-0.2, 0.6, bars.height))
    )


def naive_grid(bars: pl.DataFrame, column: str) -> np.ndarray:
    """[T, N] by an obvious pivot (symbols by name, ts ascending), NaN where absent."""
    wide = bars.pivot(on="symbol", index="ts", values=column).sort("ts")
    names = sorted(c for c in wide.columns if c != "ts")
    return wide.select(names).to_numpy().astype(np.float64)


def test_dense_time_major_bars_are_viewed_without_copy():
    bars = make_bars()
    m = market_arrays(bars)
    assert m.zero_copy and m.symbols == ("AAA", "BBB", "CCC")
    for name in ("open", "high", "low", "close"):
        arr = getattr(m, name)
        assert arr.flags.c_contiguous and arr.dtype == np.float64
        assert np.shares_memory(arr, bars.get_column(name).to_numpy())
        np.testing.assert_array_equal(arr, naive_grid(bars, name))


def test_symbol_major_view_for_the_per_symbol_kernel():
    bars = make_bars().sort("symbol", "ts")
    m = market_arrays(bars, symbol_major=True)
    assert m.zero_copy and m.close.shape == (3, 60)
    assert np.shares_memory(m.close, bars.get_column("close").to_numpy())
    np.testing.assert_array_equal(m.close, naive_grid(bars, "close").T)
    # the same frame needs a copy for the time-major layout, and gives the same numbers
    t = market_arrays(bars)
    assert not t.zero_copy
    np.testing.assert_array_equal(t.close, m.close.T)


def test_sparse_unsorted_bars_scatter_into_a_nan_grid():
    bars = make_bars()
    sparse = bars.filter(~((pl.col("symbol") == "BBB") & (pl.col("ts").dt.day() % 5 == 0))).sample(
        fraction=1.0, shuffle=True, seed=3
    )
    sparse = sparse.with_columns(tradable=pl.col("symbol") != "CCC")
    m = market_arrays(sparse)
    assert not m.zero_copy
    expected = naive_grid(sparse, "close")
    np.testing.assert_array_equal(m.close, expected)
    assert np.isnan(m.close[:, 1]).any()
    np.testing.assert_array_equal(m.tradable, ~np.isnan(expected) & np.array([True, True, False]))


def test_null_prices_become_nan():
    bars = make_bars().with_columns(
        close=pl.when(pl.int_range(pl.len()) == 4).then(None).otherwise(pl.col("close"))
    )
    m = market_arrays(bars)
    assert np.isnan(m.close[1, 1]) and np.isfinite(m.close).sum() == m.close.size - 1


def test_bad_input_is_a_data_sanity_error():
    bars = make_bars(10)
    with pytest.raises(DataSanityError, match="duplicate"):
        market_arrays(pl.concat([bars, bars.head(1)]))
    with pytest.raises(DataSanityError, match="lack columns"):
        market_arrays(bars.drop("low"))
    m = market_arrays(bars)
    good = make_targets(bars)
    with pytest.raises(DataSanityError, match="ZZZ"):
        target_array(good.with_columns(symbol=pl.lit("ZZZ")), m)
    with pytest.raises(DataSanityError, match="timestamps"):
        target_array(good.with_columns(pl.col("ts") + pl.duration(hours=1)), m)
    with pytest.raises(DataSanityError, match="duplicate"):
        target_array(pl.concat([good, good.head(2)]), m)
    with pytest.raises(DataSanityError, match="infinite"):
        target_array(good.with_columns(target_weight=pl.lit(float("inf"))), m)


def test_targets_align_to_the_bars_and_absent_means_hold():
    bars = make_bars(20)
    m = market_arrays(bars)
    targets = make_targets(bars)
    dense = target_array(targets, m)
    assert np.shares_memory(dense, targets.get_column("target_weight").to_numpy())
    partial = target_array(targets.filter(pl.col("symbol") != "BBB").reverse(), m)
    assert np.isnan(partial[:, 1]).all()
    np.testing.assert_array_equal(partial[:, [0, 2]], dense[:, [0, 2]])


def test_simulate_frames_match_the_kernel():
    bars = make_bars()
    targets = make_targets(bars)
    result = simulate(bars, targets, PARAMS)

    m = market_arrays(bars)
    target = naive_grid(targets, "target_weight")
    fills = np.empty(10_000, FILL_DTYPE)
    eq, cash, gross, _, _, pos, n, stats = simulate_nb(
        np.array(m.open),
        np.array(m.high),
        np.array(m.low),
        np.array(m.close),
        target,
        np.ones(target.shape, bool),
        np.arange(60, dtype=np.int64),
        PARAMS,
        fills,
    )
    np.testing.assert_array_equal(result.equity["equity"].to_numpy(), eq)
    np.testing.assert_array_equal(result.equity["cash"].to_numpy(), cash)
    np.testing.assert_array_equal(result.equity["gross_exposure"].to_numpy(), gross)
    assert result.equity["ts"].dtype == UTC and result.equity.height == 60

    f = result.fills
    assert f.height == n and n > 0
    kernel_fills = fills[:n]
    assert f["symbol"].to_list() == [m.symbols[c] for c in kernel_fills["col"]]
    assert f["reason"].to_list() == [REASON_NAMES[r] for r in kernel_fills["reason"]]
    assert f["side"].to_list() == ["buy" if s > 0 else "sell" for s in kernel_fills["side"]]
    np.testing.assert_array_equal(f["qty"].to_numpy(), kernel_fills["qty"])
    assert (f["ts"].to_numpy() == bars["ts"].unique().sort().to_numpy()[kernel_fills["bar"]]).all()
    assert not f["optimistic"].any() and not result.optimistic
    assert {"stop_loss", "position_cap"} <= set(f["reason"].to_list())

    p = result.positions.sort("symbol", "ts")
    assert p.columns == ["symbol", "ts", "qty", "weight"] and p.height == 180
    qty = p.pivot(on="symbol", index="ts", values="qty").sort("ts").select(m.symbols).to_numpy()
    np.testing.assert_array_equal(qty, pos)
    weight = (
        p.pivot(on="symbol", index="ts", values="weight").sort("ts").select(m.symbols).to_numpy()
    )
    np.testing.assert_allclose(weight, pos * m.close / eq[:, None], rtol=1e-12)
    assert result.stats["n_fills"][0] == n
    assert result.stats["fees"][0] == pytest.approx(stats[1])


def test_close_fills_are_marked_optimistic():
    bars = make_bars(20)
    result = simulate(bars, make_targets(bars), PARAMS._replace(fill_on_close=True))
    assert result.optimistic and result.fills["optimistic"].all()
    # decided at a ts, filled at that same ts: the first bar already trades
    assert result.fills["ts"].min() == bars["ts"].min()


def test_small_fill_buffer_is_retried_with_the_exact_size():
    bars = make_bars(30)
    m = market_arrays(bars)
    target = target_array(make_targets(bars), m)
    args = (m.open, m.high, m.low, m.close, target, m.tradable, m.session_id, PARAMS)
    (_, _, _, _, _, _, n_big, _), big = _run_with_buffer(simulate_nb, args, 10_000)
    (_, _, _, _, _, _, n_small, _), small = _run_with_buffer(simulate_nb, args, 2)
    assert n_small == n_big == len(small) > 2
    for field in FILL_DTYPE.names:
        np.testing.assert_array_equal(small[field], big[field])


def test_per_symbol_equals_each_symbol_simulated_alone():
    bars = make_bars(40).sort("symbol", "ts")
    targets = make_targets(bars)
    result = simulate_per_symbol(bars, targets, PARAMS)
    assert result.stats["symbol"].to_list() == ["AAA", "BBB", "CCC"]
    for sym in ("AAA", "BBB", "CCC"):
        alone = simulate(
            bars.filter(pl.col("symbol") == sym), targets.filter(pl.col("symbol") == sym), PARAMS
        )
        mine = result.equity.filter(pl.col("symbol") == sym)
        np.testing.assert_array_equal(mine["equity"].to_numpy(), alone.equity["equity"].to_numpy())
        fills = result.fills.filter(pl.col("symbol") == sym)
        assert fills.equals(alone.fills)
        pos = result.positions.filter(pl.col("symbol") == sym)
        assert pos.equals(alone.positions)


def test_batch_equals_one_simulation_per_set():
    bars = make_bars(40)
    sets = [make_targets(bars, seed=s) for s in (5, 6, 7)]
    batch = simulate_batch(bars, sets, PARAMS)
    assert batch.equity.shape == (3, 40) and batch.param_sets == (0, 1, 2)
    for k, targets in enumerate(sets):
        one = simulate(bars, targets, PARAMS)
        np.testing.assert_array_equal(batch.equity[k], one.equity["equity"].to_numpy())
        assert batch.metrics["n_fills"][k] == one.fills.height
    long = pl.concat(
        [t.with_columns(param_set=pl.lit(name)) for name, t in zip("cab", sets, strict=True)]
    )
    labelled = simulate_batch(bars, long, PARAMS)
    assert labelled.param_sets == ("a", "b", "c")
    np.testing.assert_array_equal(labelled.equity[0], batch.equity[1])
    assert labelled.metrics["param_set"].to_list() == ["a", "b", "c"]


def test_sessions_are_calendar_dates_in_the_session_time_zone():
    daily = market_arrays(make_bars(5))
    assert len(np.unique(daily.session_id)) == 5
    hourly = market_arrays(make_bars(30, step="1h"))
    assert np.array_equal(hourly.session_id, np.repeat([0, 1], [24, 6]) + hourly.session_id[0])
    shifted = market_arrays(make_bars(30, step="1h"), session_tz="America/New_York")
    # 00:00 UTC is 19:00 the day before in New York: 5 bars on Dec 31, 24 on Jan 1, 1 on Jan 2
    assert np.array_equal(np.unique(shifted.session_id, return_counts=True)[1], [5, 24, 1])


def test_sim_params_maps_configs():
    risk = SimpleNamespace(
        max_position_pct=0.25,
        max_gross_leverage=1.5,
        daily_loss_cut_pct=0.03,
        max_drawdown_pct=0.2,
        stop_loss_pct=None,
        cooloff_bars=5,
        vol_target=0.15,
        vol_lookback_bars=20,
        allow_short=False,
        hold_on_nan=True,
    )
    engine = SimpleNamespace(
        initial_capital=50_000,
        commission_bps=1,
        commission_per_share=0.005,
        commission_min=1,
        slippage_bps=2,
        fractional_shares=False,
        fill_on="close",
    )
    p = sim_params(risk, engine)
    assert p.initial_capital == 50_000.0 and isinstance(p.initial_capital, float)
    assert np.isnan(p.stop_loss_pct) and p.lot_size == 1.0 and p.fill_on_close
    assert p.max_gross_leverage == 1.5 and p.cooloff_bars == 5 and not p.allow_short
    with pytest.raises(ConfigError, match="fill_on"):
        sim_params(risk, SimpleNamespace(**{**vars(engine), "fill_on": "open"}))


def test_sim_params_accepts_the_project_config():
    from trader_cols.config import EngineConfig, RiskConfig

    p = sim_params(RiskConfig(), EngineConfig())
    assert p.max_position_pct == RiskConfig().max_position_pct
    assert p.fill_on_close is False and p.lot_size == 0.0
    assert p.stop_loss_pct == RiskConfig().stop_loss_pct


def test_batch_from_a_wide_frame_equals_batch_from_long_frames():
    import numpy as np
    import polars as pl

    from trader_cols.sim import SimParams, simulate_batch
    from trader_cols.sources.synthetic import generate

    bars = generate(["AAA", "BTC-USD"], "2021-01-01", "2021-06-30", seed=4).bars
    rng = np.random.default_rng(8)
    wide = bars.select("symbol", "ts").with_columns(
        pl.Series("a", rng.uniform(-0.5, 0.5, bars.height)), pl.Series("b", rng.uniform(0, 0.4, bars.height))
    )
    params = SimParams(commission_bps=1.0, slippage_bps=2.0, max_gross_leverage=1.0)
    long_sets = [wide.select("symbol", "ts", pl.col(c).alias("target_weight")) for c in ("a", "b")]
    by_list = simulate_batch(bars, long_sets, params)
    by_wide = simulate_batch(bars, wide, params, columns=["a", "b"])
    assert np.array_equal(by_list.equity, by_wide.equity)
    assert by_wide.param_sets == ("a", "b")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kernel_trade_statistics_equal_the_round_trips_of_its_fills(seed):
    """The kernel counts closed trades (for the batch, which keeps no fill log) exactly as trades.round_trips reads
    them from the fills: the same number, winners and sum of returns, across flips, adds, partial exits and stops."""
    from trader_cols.trades import round_trips

    bars = make_bars(n_bars=120, seed=seed)
    targets = make_targets(bars, seed=seed + 10)
    result = simulate(bars, targets, PARAMS)
    last = bars.group_by("symbol").agg(pl.col("close").sort_by("ts").last())
    closed = round_trips(result.fills, last).filter(pl.col("exit_ts").is_not_null())
    assert closed.height >= 10 and {"long", "short"} <= set(closed["side"]) and "stop_loss" in set(closed["exit_reason"])
    s = result.stats.row(0, named=True)
    assert s["trades"] == closed.height
    assert s["winning_trades"] == (closed["ret"] > 0).sum()
    assert s["trade_return_sum"] == pytest.approx(closed["ret"].sum(), rel=1e-9, abs=1e-12)
    batch = simulate_batch(bars, [targets, targets], PARAMS)
    assert batch.metrics["trades"].to_list() == [closed.height] * 2


def test_market_on_grid_equals_market_arrays_and_off_grid_rows_are_refused():
    """The bridge's lazy, column-at-a-time market (dense or sparse rows) is the market `market_arrays` builds;
    `grid_cells` places long rows on the grid and names what is off it."""
    from trader_cols.sim import grid_cells, market_on_grid

    dense = make_bars(n_bars=30).sort("symbol", "ts")
    sparse = dense.filter(~((pl.col("symbol") == "BBB") & (pl.int_range(pl.len()) % 4 == 0)))
    for bars in (dense, sparse):
        want = market_arrays(bars)
        got = market_on_grid(bars.lazy(), want.symbols, want.ts)
        for k in ("open", "high", "low", "close", "tradable", "session_id"):
            np.testing.assert_array_equal(getattr(got, k), getattr(want, k), err_msg=k)
    m = market_arrays(dense)
    cells = grid_cells(dense["symbol"], dense["ts"], m.symbols, m.ts, "rows")
    np.testing.assert_array_equal(np.asarray(m.close).ravel()[cells], dense["close"].to_numpy())
    with pytest.raises(DataSanityError, match="rows has symbols"):
        grid_cells(pl.Series(["ZZZ"]), dense["ts"][:1], m.symbols, m.ts, "rows")
    with pytest.raises(DataSanityError, match="rows has 1 timestamps"):
        grid_cells(pl.Series(["AAA"]), dense["ts"][:1].dt.offset_by("1h"), m.symbols, m.ts, "rows")
