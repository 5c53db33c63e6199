"""Level-1 blending and level-2 scoring, against hand-computed softmax weights."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from trader_cols.composer import blend, composite_score
from trader_cols.config import ComposerConfig, ScoreWeights
from trader_cols.sanity.lookahead import assert_causal
from trader_cols.strategies import get_strategy

TREND, MR = get_strategy("trend"), get_strategy("mean_reversion")
CFG = ComposerConfig(temperature=1.0, trend_bias=0.0, chop_bias=0.0, min_confidence=0.0, min_history_bars=0)
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def frame(n=4, trend=(0.5,) * 4, mr=(-0.5,) * 4, regime=("chop",) * 4, conf=(1.0,) * 4, cls="equity"):
    return pl.DataFrame({
        "symbol": ["A"] * n, "ts": [T0 + timedelta(days=i) for i in range(n)], "asset_class": [cls] * n,
        "regime": list(regime), "regime_confidence": list(conf), "bar_no": list(range(n)),
        "sig_trend": list(trend), "sig_mean_reversion": list(mr),
    }, schema_overrides={"sig_trend": pl.Float64, "sig_mean_reversion": pl.Float64})


def run(df, scores=None, **cfg):
    c = dataclasses.replace(CFG, **cfg)
    return blend(df.lazy(), [TREND, MR], scores or {}, c).collect()


def test_softmax_of_scores_hand_computed():
    out = run(frame(), {("equity", "trend"): 1.0, ("equity", "mean_reversion"): 0.0})
    w = math.e / (math.e + 1)
    assert out["w_trend"].to_list() == pytest.approx([w] * 4)
    assert out["signal"].to_list() == pytest.approx([w * 0.5 - (1 - w) * 0.5] * 4)


def test_temperature_flattens_weights():
    hot = run(frame(), {("equity", "trend"): 1.0}, temperature=100.0)
    assert hot["w_trend"][0] == pytest.approx(math.exp(0.01) / (math.exp(0.01) + 1))


def test_scores_are_per_asset_class():
    out = run(frame(cls="crypto"), {("equity", "trend"): 5.0})
    assert out["w_trend"].to_list() == pytest.approx([0.5] * 4)


def test_regime_bias_moves_weight_to_the_matching_style():
    df = frame(regime=("trend", "chop", "volatile", "trend"), conf=(1.0, 1.0, 1.0, 0.5))
    out = run(df, trend_bias=1.0, chop_bias=2.0)
    e1, e2, e05 = math.e, math.exp(2), math.exp(0.5)
    assert out["w_trend"].to_list() == pytest.approx([e1 / (e1 + 1), 1 / (1 + e2), 0.5, e05 / (e05 + 1)])


def test_min_confidence_drops_small_weights_and_renormalises():
    out = run(frame(), {("equity", "trend"): 3.0}, min_confidence=0.1)
    assert out["w_trend"].to_list() == [1.0] * 4 and out["w_mean_reversion"].to_list() == [0.0] * 4
    assert out["signal"].to_list() == [0.5] * 4


def test_a_missing_signal_gets_no_weight():
    out = run(frame(trend=(None, 0.5, 0.5, 0.5)))
    assert out.row(0, named=True)["w_trend"] == 0.0 and out["signal"][0] == -0.5


def test_hold_on_nan_holds_the_last_blend_else_flat():
    df = frame(trend=(0.4, None, None, 0.2), mr=(0.4, None, None, 0.2))
    assert run(df, hold_on_nan=True)["signal"].to_list() == pytest.approx([0.4, 0.4, 0.4, 0.2])
    assert run(df, hold_on_nan=False)["signal"].to_list() == pytest.approx([0.4, 0.0, 0.0, 0.2])


def test_nothing_is_decided_before_min_history():
    out = run(frame(), min_history_bars=2)["signal"].to_list()
    assert out[:2] == [0.0, 0.0] and out[2:] == pytest.approx([0.0, 0.0])  # equal weights of +0.5 and -0.5
    out = run(frame(mr=(0.1,) * 4), min_history_bars=2)["signal"].to_list()
    assert out[:2] == [0.0, 0.0] and out[2:] == pytest.approx([0.3, 0.3])


def test_blend_is_causal():
    rng = np.random.default_rng(3)
    n = 60
    df = frame(n, trend=tuple(rng.uniform(-1, 1, n)), mr=tuple(np.where(rng.random(n) < 0.3, np.nan, rng.uniform(-1, 1, n))),
               regime=tuple(rng.choice(["trend", "chop", "volatile"], n)), conf=tuple(rng.random(n)))
    df = df.with_columns(pl.col("sig_mean_reversion").fill_nan(None))
    c = dataclasses.replace(CFG, trend_bias=1.0, chop_bias=1.0, min_confidence=0.2, min_history_bars=5)
    assert_causal(df, lambda lf: blend(lf, [TREND, MR], {}, c), ["signal", "w_trend"], cutoffs=10)


def test_composite_score_weights_and_nan():
    m = {"cagr": np.array([0.1, np.nan]), "sharpe": np.array([1.0, 2.0]), "win_rate": np.array([0.5, 0.5]),
         "avg_trade": np.array([0.01, 0.0])}
    s = composite_score(m, ScoreWeights(cagr=1, sharpe=2, win_rate=3, avg_trade=4))
    assert s[0] == pytest.approx(0.1 + 2 + 1.5 + 4) and s[1] == -np.inf
