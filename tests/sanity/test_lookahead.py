"""The prefix-truncation lookahead test catches features that peek ahead and passes their causal twins."""

from __future__ import annotations

import polars as pl
import pytest

from trader_cols.errors import LookaheadError
from trader_cols.sanity import assert_causal, find_lookahead

from .frames import clean

BARS = pl.concat([clean(120, "AAA"), clean(120, "BBB", seed=1), clean(90, "BTC-USD", seed=2)])


def feature(expr: pl.Expr):
    """A compute function: bars → (symbol, ts, x) with `expr` evaluated per symbol."""
    return lambda lf: lf.sort("symbol", "ts").select("symbol", "ts", expr.over("symbol").alias("x"))


CAUSAL = {
    "trailing mean": pl.col("close").rolling_mean(5),
    "lag 1": pl.col("close").shift(1),
    "log return": (pl.col("close") / pl.col("close").shift(1)).log(),
    "expanding max": pl.col("high").cum_max(),
    "ewm": pl.col("close").ewm_mean(span=10, adjust=False),
}
PEEKING = {
    "centred mean": pl.col("close").rolling_mean(5, center=True),
    "lead 1": pl.col("close").shift(-1),
    "next-bar return": pl.col("close").shift(-1) / pl.col("close") - 1,
    "full-sample z-score": (pl.col("close") - pl.col("close").mean()) / pl.col("close").std(),
    "backward fill": pl.when(pl.int_range(pl.len()) % 7 == 0).then(pl.col("close")).backward_fill(),
}


@pytest.mark.parametrize("name", sorted(CAUSAL))
def test_causal_features_pass(name):
    assert find_lookahead(BARS, feature(CAUSAL[name]), ["x"], cutoffs=10).height == 0
    assert_causal(BARS, feature(CAUSAL[name]), ["x"], cutoffs=10)


@pytest.mark.parametrize("name", sorted(PEEKING))
def test_peeking_features_are_caught(name):
    with pytest.raises(LookaheadError) as err:
        assert_causal(BARS, feature(PEEKING[name]), ["x"], cutoffs=10)
    assert err.value.columns == ["x"]
    assert "x" in str(err.value) and str(err.value.cutoff) in str(err.value)


def test_error_names_the_first_cutoff_and_only_the_peeking_columns():
    def compute(lf: pl.LazyFrame) -> pl.LazyFrame:
        return lf.sort("symbol", "ts").select(
            "symbol",
            "ts",
            pl.col("close").shift(1).over("symbol").alias("ok"),
            pl.col("close").shift(-1).over("symbol").alias("peek"),
        )

    bad = find_lookahead(BARS, compute, cutoffs=6, seed=3)
    assert set(bad["column"]) == {"peek"}
    with pytest.raises(LookaheadError) as err:
        assert_causal(BARS, compute, cutoffs=6, seed=3)
    assert err.value.columns == ["peek"]
    assert err.value.cutoff == bad["cutoff"].min()
    # shift(-1) differs exactly at the last kept bar of each symbol: the first cutoff is the first bar
    assert err.value.cutoff == BARS["ts"].min()


def test_string_labels_compare_exactly():
    up_next = (
        pl.when(pl.col("close").shift(-1) > pl.col("close"))
        .then(pl.lit("up"))
        .otherwise(pl.lit("down"))
    )
    up_now = (
        pl.when(pl.col("close") > pl.col("close").shift(1))
        .then(pl.lit("up"))
        .otherwise(pl.lit("down"))
    )
    with pytest.raises(LookaheadError):
        assert_causal(BARS, feature(up_next), ["x"])
    assert_causal(BARS, feature(up_now), ["x"])


def test_tolerance_and_missing_columns():
    noisy = feature(pl.col("close").rolling_mean(3) * (1 + 1e-15 * pl.len()))
    assert find_lookahead(BARS, noisy, ["x"]).height > 0  # exact by default: the length leaks
    assert find_lookahead(BARS, noisy, ["x"], rtol=1e-9).height == 0
    with pytest.raises(LookaheadError, match="not produced"):
        find_lookahead(BARS, feature(pl.col("close")), ["nope"])


def test_cutoffs_are_seeded():
    a = find_lookahead(BARS, feature(PEEKING["lead 1"]), ["x"], cutoffs=4, seed=1)
    b = find_lookahead(BARS, feature(PEEKING["lead 1"]), ["x"], cutoffs=4, seed=1)
    assert a.equals(b)
