"""Volatility targeting: the value matches a hand computation, it is causal, per symbol, and capped."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import polars as pl
import pytest

from trader_cols.sanity.lookahead import assert_causal
from trader_cols.sizing import realised_vol, target_weights, vol_target_weights

UTC = pl.Datetime("us", "UTC")


def bars(n: int = 80, seed: int = 4) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    start = pl.datetime(2023, 1, 2, time_zone="UTC")
    ts = pl.datetime_range(
        start, start + pl.duration(days=n - 1), "1d", eager=True, time_zone="UTC"
    ).cast(UTC)
    frames = []
    for k, sym in enumerate(("AAA", "BBB")):
        close = 20 * (k + 1) * np.exp(np.cumsum(rng.normal(0, 0.01 * (k + 1), n)))
        signal = np.clip(rng.normal(0, 0.8, n), -1.5, 1.5)
        frames.append(pl.DataFrame({"symbol": sym, "ts": ts, "close": close, "signal": signal}))
    return pl.concat(frames).sort("symbol", "ts")


def weights(df: pl.DataFrame, **kw) -> pl.DataFrame:
    opts = {"vol_target": 0.1, "lookback_bars": 10, "periods_per_year": 252, "max_weight": 0.8} | kw
    return df.with_columns(
        vol=realised_vol(pl.col("close"), opts["lookback_bars"], opts["periods_per_year"]),
        target_weight=vol_target_weights(pl.col("signal"), pl.col("close"), **opts),
    )


def test_matches_a_hand_computation():
    df = weights(bars())
    for sym, part in df.partition_by("symbol", as_dict=True).items():
        close = part["close"].to_numpy()
        signal = part["signal"].to_numpy()
        logret = np.diff(np.log(close))
        for t in range(len(close)):
            if t < 10:
                assert part["vol"][t] is None and part["target_weight"][t] is None
                continue
            vol = np.std(logret[t - 10 : t], ddof=1) * math.sqrt(252)
            want = np.clip(np.clip(signal[t], -1, 1) * 0.1 / vol, -0.8, 0.8)
            assert part["vol"][t] == pytest.approx(vol, rel=1e-9), (sym, t)
            assert part["target_weight"][t] == pytest.approx(want, rel=1e-9, abs=1e-15), (sym, t)


def test_is_causal():
    def compute(lf: pl.LazyFrame) -> pl.LazyFrame:
        return lf.sort("symbol", "ts").select(
            "symbol",
            "ts",
            w=vol_target_weights(
                pl.col("signal"),
                pl.col("close"),
                vol_target=0.15,
                lookback_bars=5,
                periods_per_year=252,
            ),
        )

    assert_causal(bars(), compute, ["w"], cutoffs=6, seed=1)


def test_symbols_do_not_leak_into_each_other():
    full = weights(bars())
    alone = weights(bars().filter(pl.col("symbol") == "BBB"))
    np.testing.assert_array_equal(
        full.filter(pl.col("symbol") == "BBB")["target_weight"].to_numpy(),
        alone["target_weight"].to_numpy(),
    )


def test_caps_clips_signals_and_handles_flat_prices():
    df = pl.DataFrame(
        {
            "symbol": ["F"] * 6,
            "close": [10.0] * 6,
            "signal": [1.0, 1.0, 1.0, 3.0, 0.0, float("nan")],
        }
    )
    out = df.with_columns(
        w=vol_target_weights(
            pl.col("signal"),
            pl.col("close"),
            vol_target=0.2,
            lookback_bars=2,
            periods_per_year=252,
            max_weight=0.5,
        )
    )["w"].to_list()
    assert out[:2] == [None, None]  # warm-up: two returns need three closes
    assert out[2:5] == [0.5, 0.5, 0.0]  # zero volatility: the cap for a signal, zero without one
    assert math.isnan(out[5])
    tiny_vol = bars().with_columns(signal=pl.lit(-5.0))
    w = weights(tiny_vol, vol_target=10.0)["target_weight"].drop_nulls()
    assert (w == -0.8).all()


def test_target_weights_reads_the_risk_config():
    risk = SimpleNamespace(vol_target=0.1, vol_lookback_bars=10, max_position_pct=0.8)
    a = bars().with_columns(w=target_weights(pl.col("signal"), pl.col("close"), risk, 252))["w"]
    b = weights(bars())["target_weight"]
    assert a.equals(b.alias("w"))


def test_lookback_below_two_is_refused():
    with pytest.raises(ValueError, match="lookback_bars"):
        realised_vol(pl.col("close"), 1, 252)


def test_scale_to_vol_applies_the_same_rule_to_a_precomputed_vol():
    from trader_cols.sizing import scale_to_vol

    df = weights(bars())
    again = df.with_columns(w=scale_to_vol(pl.col("signal"), pl.col("vol"), vol_target=0.1, max_weight=0.8))
    assert again["w"].equals(df["target_weight"].alias("w"))
