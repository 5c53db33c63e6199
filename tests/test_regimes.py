"""Regime labels: SQL labeller agrees with the synthetic truth, is causal, respects the minimum dwell."""

from __future__ import annotations

import dataclasses

import polars as pl
import pytest

from trader_cols.config import RegimesConfig
from trader_cols.features import compute_features
from trader_cols.regimes import label_bars, label_regimes, regime_specs, regime_stats
from trader_cols.sanity.lookahead import assert_causal
from trader_cols.sources.synthetic import generate
from trader_cols.warehouse import query_frames

CFG = RegimesConfig()


@pytest.fixture(scope="module")
def synth():
    # a seed the defaults were not tuned on (they were chosen on seed 3)
    return generate([f"R{i}" for i in range(8)], "2010-01-01", "2019-12-31", seed=101)


def test_agreement_with_the_true_regime_path(synth):
    lab = label_bars(synth.bars, CFG, query_frames)
    j = lab.join(synth.regimes, on=["symbol", "ts"], suffix="_true").drop_nulls("regime")
    agreement = (j["regime"] == j["regime_true"]).mean()
    # Chance is ~1/3 (three regimes of equal mean length). After every switch of the truth (mean run 60 bars)
    # a causal labeller must wait for its 14–20-bar windows and the 3-bar dwell, so ~10–15 bars of each run
    # are lost to lag alone: about 0.75 is a ceiling here. The defaults (tuned on seed 3) measure 0.65–0.67
    # on seeds 101, 5 and 77; 0.60 is a floor that a labeller lagging twice as long, or no better than
    # chance on one regime, fails.
    assert agreement >= 0.60, agreement
    per_class = j.group_by("regime_true").agg(
        (pl.col("regime") == pl.col("regime_true")).mean().alias("hit")
    )
    assert per_class["hit"].min() > 0.4, per_class


def test_vol_percentile_is_the_trailing_share_at_or_below(synth):
    """The SQL's framed cume_dist equals a slow, obvious trailing percentile."""
    feats = (
        compute_features(synth.bars.lazy(), regime_specs(CFG))
        .collect()
        .filter(pl.col("symbol") == "R3")
    )
    cfg = dataclasses.replace(CFG, vol_lookback_bars=40)
    lab = label_regimes(feats, cfg, query_frames, details=True)
    # the labeller reads bars where ADX, ER and rvol are all defined
    inputs = feats.drop_nulls().select("ts", pl.col(regime_specs(cfg)[2].columns[0]).alias("rvol"))
    rv = inputs["rvol"].to_list()
    want = {
        ts: sum(x <= rv[i] for x in rv[max(0, i - 39) : i + 1]) / len(rv[max(0, i - 39) : i + 1])
        for i, ts in enumerate(inputs["ts"].to_list())
        if i + 1 >= 20
    }
    got = dict(zip(lab["ts"].to_list(), lab["vol_pct"].to_list(), strict=True))
    assert want and all(got[ts] == pytest.approx(p) for ts, p in want.items())


def test_confidence_is_one_half_on_the_threshold():
    """A bar exactly on the trend threshold with a calm volatility history is 'trend' with confidence 0.5."""
    from datetime import UTC, datetime, timedelta

    n = 40
    t0 = datetime(2020, 1, 1, tzinfo=UTC)
    feats = pl.DataFrame(
        {
            "symbol": ["Q"] * n,
            "ts": [t0 + timedelta(days=i) for i in range(n)],
            # rvol falls over time, so every bar is the window's minimum: vol_pct = 1/k, far below the threshold
            "adx": [CFG.adx_trend] * n,
            "er": [CFG.er_trend] * n,
            "rvol": [1.0 - i / 100 for i in range(n)],
        }
    )
    cfg = dataclasses.replace(CFG, min_dwell_bars=1, vol_lookback_bars=40)
    specs = regime_specs(cfg)
    renamed = feats.rename(
        {"adx": specs[0].columns[0], "er": specs[1].columns[0], "rvol": specs[2].columns[0]}
    )
    lab = label_regimes(renamed, cfg, query_frames, details=True).drop_nulls("regime")
    assert set(lab["regime"]) == {"trend"}
    assert lab["trend_score"].to_list() == pytest.approx([1.0] * lab.height)
    assert lab["regime_confidence"].to_list() == pytest.approx([0.5] * lab.height)


def test_labels_and_confidence_are_well_formed(synth):
    lab = label_bars(synth.bars, CFG, query_frames)
    assert set(lab["regime"].drop_nulls().unique()) == {"trend", "chop", "volatile"}
    conf = lab["regime_confidence"].drop_nulls()
    assert conf.is_between(0.0, 1.0).all()
    # nulls only during the warm-up of each symbol
    first_label = lab.drop_nulls("regime").group_by("symbol").agg(pl.col("ts").min().alias("t0"))
    late_nulls = lab.join(first_label, on="symbol").filter(
        pl.col("regime").is_null() & (pl.col("ts") > pl.col("t0"))
    )
    assert late_nulls.height == 0


def test_minimum_dwell_stops_flicker(synth):
    feats = compute_features(synth.bars.lazy(), regime_specs(CFG)).collect()
    for dwell in (1, 5, 15):
        lab = label_regimes(feats, dataclasses.replace(CFG, min_dwell_bars=dwell), query_frames)
        runs = regime_stats(lab)["run_length"]
        shortest = (
            lab.drop_nulls("regime")
            .with_columns(
                (pl.col("regime") != pl.col("regime").shift(1))
                .fill_null(True)
                .cum_sum()
                .over("symbol")
                .alias("r")
            )
            .group_by("symbol", "r")
            .agg(pl.len().alias("n"), pl.col("ts").max().alias("last"))
        )
        # A label is adopted once its raw run reached `dwell` bars, and it is left only when another raw run does,
        # at least `dwell` bars later: every run but the last of each symbol lasts `dwell` bars or more.
        ends = shortest.join(
            shortest.group_by("symbol").agg(pl.col("r").max().alias("rmax")), on="symbol"
        )
        inner = ends.filter(pl.col("r") < pl.col("rmax"))
        assert inner["n"].min() >= dwell
        assert runs["mean_run_bars"].min() >= dwell


def test_labeller_is_causal(synth):
    bars = synth.bars.filter(pl.col("symbol").is_in(["R0", "R1"]))
    assert_causal(
        bars,
        lambda lf: pl.LazyFrame(label_bars(lf.collect(), CFG, query_frames)),
        ["regime", "regime_confidence"],
        cutoffs=8,
        seed=2,
    )


def test_stats_share_and_transitions_sum_to_one(synth):
    st = regime_stats(label_bars(synth.bars, CFG, query_frames))
    assert st["share"]["share"].sum() == pytest.approx(1.0)
    rows = st["transitions"].select(pl.sum_horizontal("trend", "chop", "volatile")).to_series()
    assert rows.to_list() == pytest.approx([1.0, 1.0, 1.0])
