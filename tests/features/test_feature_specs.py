"""FeatureSpec: normalisation, validation errors that name the problem, column names, look-backs and hashes."""

from __future__ import annotations

import pytest

from trader_cols.errors import ConfigError
from trader_cols.features import (
    DEFAULT_SPECS,
    INDICATORS,
    FeatureSpec,
    check_unique,
    specs_from_config,
)


def test_default_set_has_all_28_indicators_once_and_returns_at_three_horizons():
    names = [s.name for s in DEFAULT_SPECS]
    assert set(names) == set(INDICATORS) and len(INDICATORS) == 28
    assert [s.kwargs["window"] for s in DEFAULT_SPECS if s.name == "ret"] == [1, 5, 20]
    check_unique(DEFAULT_SPECS)


def test_params_are_normalised_so_equal_specs_are_equal():
    a = FeatureSpec.of("macd", signal=9, fast=12)
    b = FeatureSpec("macd", (("slow", 26),))
    assert a == b and hash(a) == hash(b) and a.spec_hash == b.spec_hash
    assert a.params == (("fast", 12), ("slow", 26), ("signal", 9))
    assert FeatureSpec.of("bbands", k=2).kwargs["k"] == 2.0
    assert FeatureSpec.of("rsi", window=14.0).kwargs["window"] == 14


def test_column_names_carry_the_params():
    assert FeatureSpec.of("macd").columns == (
        "macd_12_26_9",
        "macd_signal_12_26_9",
        "macd_hist_12_26_9",
    )
    assert FeatureSpec.of("bbands", k=2.5).columns[0] == "bb_upper_20_2p5"
    assert FeatureSpec.of("obv").columns == ("obv",)


def test_lookbacks_per_output_and_stability():
    adx = FeatureSpec.of("adx", window=14)
    assert adx.lookbacks == {"adx_14": 27, "plus_di_14": 14, "minus_di_14": 14}
    assert adx.lookback == 27
    # not recursive: stable once defined
    assert FeatureSpec.of("sma", window=20).stable_bars() == 19
    ema = FeatureSpec.of("ema", window=20)
    assert ema.stable_bars(1e-6) > ema.stable_bars(1e-3) > ema.lookback
    assert FeatureSpec.of("obv").stable_bars() is None


def test_hash_changes_with_any_param_and_is_stable_across_processes():
    base = FeatureSpec.of("rsi", window=14)
    assert base.spec_hash != FeatureSpec.of("rsi", window=15).spec_hash
    assert base.spec_hash != FeatureSpec.of("atr", window=14).spec_hash
    # pinned: a change here invalidates every feature cache
    assert base.spec_hash == "e80b2723d549d43e"


@pytest.mark.parametrize(
    ("build", "fragment"),
    [
        (lambda: FeatureSpec.of("rsii"), "did you mean 'rsi'"),
        (lambda: FeatureSpec.of("rsi", windw=3), "did you mean 'window'"),
        (lambda: FeatureSpec.of("rsi", window=0), "window must be >= 1"),
        (lambda: FeatureSpec.of("rsi", window=2.5), "whole number"),
        (lambda: FeatureSpec.of("rsi", window="14"), "must be a number"),
        (lambda: FeatureSpec.of("rsi", window=True), "must be a number"),
        (lambda: FeatureSpec.of("macd", fast=30, slow=26), "fast must be smaller than slow"),
        (lambda: FeatureSpec("sma", (("window", 5), ("window", 6))), "given twice"),
    ],
)
def test_bad_specs_raise_config_errors_naming_the_problem(build, fragment):
    with pytest.raises(ConfigError, match=fragment) as err:
        build()
    assert err.value.key is not None and err.value.key.startswith("features.")


def test_specs_from_config_and_duplicates():
    specs = specs_from_config({"ret": [{"window": 1}, {"window": 5.0}], "obv": [{}], "rsi": []})
    assert [s.columns for s in specs] == [("ret_1",), ("ret_5",), ("obv",)]
    with pytest.raises(ConfigError, match="produced twice"):
        specs_from_config({"sma": [{"window": 5}, {"window": 5.0}]})
    with pytest.raises(ConfigError, match="list of param sets"):
        specs_from_config({"sma": {"window": 5}})


def test_shipped_config_equals_the_default_specs():
    from trader_cols.config import load_config

    indicators = load_config().config.features.indicators
    assert specs_from_config(indicators) == DEFAULT_SPECS
