"""Every indicator passes the prefix-truncation lookahead test exactly; warm-up sensitivity is bounded."""

from __future__ import annotations

import polars as pl
import pytest

from trader_cols.errors import LookaheadError
from trader_cols.features import DEFAULT_SPECS, INDICATORS, FeatureSpec, compute_features
from trader_cols.features.warmup import warmup_sensitivity
from trader_cols.sanity.lookahead import assert_causal, find_lookahead

# The defaults plus a second parameter set per indicator, so window-dependent code paths are covered too.
SPECS = (
    *DEFAULT_SPECS,
    FeatureSpec.of("macd", fast=3, slow=8, signal=4),
    FeatureSpec.of("adx", window=3),
    FeatureSpec.of("stoch", k=5, smooth=1, d=2),
    FeatureSpec.of("keltner", window=4, atr_window=9, mult=1.0),
    FeatureSpec.of("kama", window=3),
    FeatureSpec.of("bbands", window=5, k=1.0),
    FeatureSpec.of("rsi", window=2),
)


def _features(lf: pl.LazyFrame) -> pl.LazyFrame:
    return compute_features(lf, SPECS)


def test_all_28_indicators_are_causal_exactly(short_bars: pl.DataFrame):
    assert {s.name for s in SPECS} == set(INDICATORS)
    bad = find_lookahead(short_bars, _features, cutoffs=16, seed=3)
    assert bad.height == 0, bad.head(10)


def test_the_lookahead_test_catches_a_peeking_feature(short_bars: pl.DataFrame):
    def peeking(lf: pl.LazyFrame) -> pl.LazyFrame:
        out = compute_features(lf, [FeatureSpec.of("sma", window=5)])
        return out.with_columns(pl.col("sma_5").shift(-1).over("symbol"))

    with pytest.raises(LookaheadError, match="sma_5"):
        assert_causal(short_bars, peeking)


def test_warmup_sensitivity_is_within_the_documented_bounds(three_scales: pl.DataFrame):
    table = warmup_sensitivity(three_scales, DEFAULT_SPECS, skips=(30, 120))
    for row in table.iter_rows(named=True):
        col, measured, bound = row["column"], row["measured_bars"], row["bound_bars"]
        if not row["recursive"]:
            assert measured == row["lookback"], col  # agrees from the first value
        elif row["indicator"] == "obv":
            assert measured is None and bound is None  # a running sum never forgets its start
        else:
            assert measured is not None and row["lookback"] < measured <= bound, col
