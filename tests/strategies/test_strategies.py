"""Strategies: signals in [-1, 1], null in warm-up, causal by the prefix-truncation test; a peeking canary is caught."""

from __future__ import annotations

import polars as pl
import pytest

from trader_cols.errors import ConfigError, LookaheadError
from trader_cols.features import FeatureSpec
from trader_cols.sanity.lookahead import assert_causal
from trader_cols.strategies import REGISTRY, Strategy, compute_signal, get_strategy
from trader_cols.strategies.base import Param

# A canary that peeks one bar ahead: tomorrow's close against today's. It must never pass.
CANARY = Strategy(
    name="canary_peek",
    summary="sign of the next bar's return (reads the future on purpose)",
    style="any",
    params=(Param("window", 5, (5,), (5,)),),
    features=lambda p: (FeatureSpec.of("sma", window=int(p["window"])),),
    signal=lambda p: (pl.col("close").shift(-1).over("symbol") / pl.col("close") - 1.0).sign(),
)


@pytest.fixture(scope="module")
def bars(synthetic_bars):
    return synthetic_bars.bars.filter(pl.col("ts") < pl.datetime(2019, 9, 1, time_zone="UTC"))


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_signals_are_bounded_and_null_only_in_warmup(bars, name):
    s = get_strategy(name)
    out = compute_signal(bars.lazy(), s).collect()
    sig = out["signal"]
    assert sig.drop_nulls().is_between(-1.0, 1.0).all()
    assert sig.drop_nulls().len() > 0.5 * out.height
    # nulls only at the start of each symbol: once a value appears, no null follows
    gaps = out.with_columns(pl.col("signal").is_null().cast(pl.Int8).diff().over("symbol").alias("d"))
    assert gaps.filter(pl.col("d") == 1).height == 0


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_strategy_is_causal_across_its_grid(bars, name):
    s = get_strategy(name)
    for params in list(s.grid())[:4]:
        assert_causal(bars, lambda lf, p=params: compute_signal(lf, s, p), ["signal"], cutoffs=6, seed=1)


def test_the_canary_is_caught(bars):
    with pytest.raises(LookaheadError) as err:
        assert_causal(bars, lambda lf: compute_signal(lf, CANARY), ["signal"], cutoffs=6, seed=1)
    assert err.value.columns == ["signal"]


def test_unknown_names_suggest():
    with pytest.raises(ConfigError, match="did you mean 'trend'"):
        get_strategy("trnd")
    with pytest.raises(ConfigError, match="did you mean 'fast'"):
        get_strategy("trend").resolve({"fsat": 3})


def test_invalid_params_are_refused():
    with pytest.raises(ConfigError, match="fast .* must be below slow"):
        get_strategy("trend").resolve({"fast": 200, "slow": 50})
    with pytest.raises(ConfigError, match="whole number"):
        get_strategy("breakout").resolve({"window": 2.5})


def test_grids_hold_only_valid_points_and_fast_is_smaller():
    for s in REGISTRY.values():
        full, fast = list(s.grid()), list(s.grid(fast=True))
        assert 1 <= len(fast) <= len(full)
        for p in full:
            s.resolve(p)
    assert all(p["fast"] < p["slow"] for p in get_strategy("trend").grid())


def test_trend_signal_hand_computed():
    s = get_strategy("trend")
    frame = pl.DataFrame({"sma_2": [101.0, 99.0, None], "sma_4": [100.0, 100.0, 100.0]})
    got = frame.select(s.signal_expr({"fast": 2, "slow": 4, "band": 0.02}))["signal"].to_list()
    assert got[:2] == pytest.approx([0.5, -0.5])
    assert got[2] is None
