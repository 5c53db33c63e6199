"""The same rows give byte-identical findings and the identical error text, whatever order they arrive in."""

from __future__ import annotations

import polars as pl
import pytest

from trader_cols.errors import DataSanityError
from trader_cols.sanity import raise_on_errors

from .frames import at, clean, run


def messy(conflict: bool = True) -> pl.DataFrame:
    a = clean(60, "AAA")
    a = at(at(a, 5, close=float("nan")), 9, high=a["low"][9] * 0.99)
    a = at(a, 30, **{c: a[c][30] * 100 for c in ("open", "high", "low", "close")})
    a = at(at(at(a, 40, volume=0.0), 41, volume=0.0), 42, volume=0.0)
    b = clean(60, "BTC-USD", seed=3).filter(~pl.int_range(pl.len()).is_between(20, 26))
    b = at(b, 10, open=b["high"][10] * 1.2)
    c = clean(60, "CCC", seed=5)
    c = c.with_columns(
        [
            pl.when(pl.int_range(pl.len()) >= 30)
            .then(pl.col(k) * 0.5)
            .otherwise(pl.col(k))
            .alias(k)
            for k in ("open", "high", "low", "close", "adj_close")
        ]
    )
    extra = (
        [
            a.slice(12, 1),  # exact copy
            c.slice(15, 1).with_columns(close=pl.col("close") * 1.01),  # conflicting timestamp
        ][: 2 if conflict else 1]
        + [
            c.slice(16, 1).with_columns(symbol=pl.lit(None, dtype=pl.String)),  # no symbol
        ]
    )
    return pl.concat([a, b, c, *extra])


def error_text(report) -> str:
    with pytest.raises(DataSanityError) as err:
        raise_on_errors(report)
    return str(err.value)


@pytest.mark.parametrize("profile", ["tiny", "strict", "relaxed_tiny"])
def test_shuffled_rows_give_identical_findings_and_error_text(profile):
    # keeping "the last received" of conflicting rows is order-dependent by definition: relaxed resolves it
    df = messy(conflict=profile != "relaxed_tiny")
    ref = run(df, profile=profile)
    assert ref.findings.height >= 8
    ref_text = error_text(ref)
    for seed in range(6):
        got = run(df.sample(fraction=1.0, shuffle=True, seed=seed), profile=profile)
        assert got.findings.write_csv() == ref.findings.write_csv()
        assert got.findings.equals(ref.findings)
        assert error_text(got) == ref_text
        assert got.bars.equals(ref.bars)
        assert got.rejected.equals(ref.rejected)
        assert got.repairs.equals(ref.repairs)


def test_findings_are_in_check_symbol_ts_order():
    f = run(messy()).findings
    keys = f.select("check_order", "symbol", "ts").rows()
    order = sorted(
        keys, key=lambda k: (k[0], k[1] is not None, k[1] or "", k[2] is not None, k[2] or 0)
    )
    assert keys == order
