"""Fold generation: sliding and expanding windows, embargo, warm-up, truncated final folds, too little data."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trader_cols.errors import ConfigError
from trader_cols.folds import make_folds


def test_sliding_folds_tile_the_out_of_sample_period():
    folds = make_folds(1000, train_len=252, test_len=63, stride=63)
    assert [f.test_start for f in folds] == [252 + 63 * k for k in range(len(folds))]
    assert all(f.test_end - f.test_start == 63 for f in folds)
    assert all(f.train_end - f.train_start == 252 for f in folds)
    assert folds[-1].test_end <= 1000 and folds[-1].test_end + 63 > 1000
    assert len(folds) == (1000 - 252) // 63


def test_expanding_train_windows_start_at_zero():
    folds = make_folds(600, train_len=200, test_len=100, stride=100, window="expanding")
    assert [(f.train_start, f.train_end) for f in folds] == [(0, 200), (0, 300), (0, 400), (0, 500)]


def test_embargo_separates_train_and_test():
    f = make_folds(500, train_len=100, test_len=50, stride=50, embargo_bars=5)[0]
    assert (f.train_end, f.test_start, f.test_end) == (100, 105, 155)


def test_warmup_starts_before_train_but_not_before_zero():
    folds = make_folds(700, train_len=200, test_len=100, stride=100, warmup_bars=150)
    assert folds[0].warmup_start == 0
    assert folds[2].warmup_start == folds[2].train_start - 150


def test_truncated_final_fold_only_when_allowed():
    kept = make_folds(330, train_len=200, test_len=100, stride=100, allow_truncated_final_fold=True)
    dropped = make_folds(330, train_len=200, test_len=100, stride=100)
    assert [(f.test_start, f.test_end) for f in kept] == [(200, 300), (300, 330)]
    assert [(f.test_start, f.test_end) for f in dropped] == [(200, 300)]


def test_too_little_data_says_how_much_is_needed():
    with pytest.raises(ConfigError, match=r"needs train_len \+ embargo_bars \+ test_len = 252 \+ 5 \+ 63 = 320 bars, the data has 300"):
        make_folds(300, train_len=252, test_len=63, stride=63, embargo_bars=5)


@pytest.mark.parametrize("bad", [{"train_len": 0}, {"stride": 0}, {"test_len": -1}, {"embargo_bars": -2}])
def test_bad_parameters_name_the_key(bad):
    args = {"train_len": 10, "test_len": 5, "stride": 5} | bad
    with pytest.raises(ConfigError) as err:
        make_folds(100, **args)
    assert err.value.key == f"walkforward.{next(iter(bad))}"


@given(n=st.integers(20, 3000), train=st.integers(1, 400), test=st.integers(1, 200), stride=st.integers(1, 200),
       embargo=st.integers(0, 10), expanding=st.booleans(), trunc=st.booleans())
def test_fold_invariants(n, train, test, stride, embargo, expanding, trunc):
    try:
        folds = make_folds(n, train_len=train, test_len=test, stride=stride, embargo_bars=embargo,
                           window="expanding" if expanding else "sliding", allow_truncated_final_fold=trunc)
    except ConfigError:
        assert train + embargo >= n or (not trunc and train + embargo + test > n)
        return
    for f in folds:
        assert 0 <= f.warmup_start <= f.train_start < f.train_end <= f.test_start < f.test_end <= n
        assert f.test_start - f.train_end == embargo
        assert f.test_end - f.test_start == test or (trunc and f is folds[-1])
    starts = [f.test_start for f in folds]
    assert starts == sorted(starts) and all(b - a == stride for a, b in zip(starts, starts[1:], strict=False))
    # the truncation principle: a prefix of the data gives a prefix of the folds
    shorter = n - 1
    try:
        prefix = make_folds(shorter, train_len=train, test_len=test, stride=stride, embargo_bars=embargo,
                            window="expanding" if expanding else "sliding", allow_truncated_final_fold=trunc)
    except ConfigError:
        return
    for a, b in zip(prefix, folds, strict=False):
        assert (a.train_start, a.train_end, a.test_start) == (b.train_start, b.train_end, b.test_start)
