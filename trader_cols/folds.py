"""Walkforward fold boundaries over a bar index: train, embargo, test and the warm-up before them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from trader_cols.errors import ConfigError


@dataclass(frozen=True)
class Fold:
    """One fold as half-open bar positions [start, end) on the panel's time index.

    `warmup_start` is where indicator computation for this fold begins: data before `train_start` used only to
    warm indicators up, never scored. The test window of fold k starts after its train window (+ embargo).
    """

    index: int
    warmup_start: int
    train_start: int
    train_end: int
    test_start: int
    test_end: int

    def as_dict(self) -> dict[str, int]:
        return {
            "fold": self.index, "warmup_start": self.warmup_start, "train_start": self.train_start,
            "train_end": self.train_end, "test_start": self.test_start, "test_end": self.test_end,
        }


def make_folds(
    n_bars: int,
    *,
    train_len: int,
    test_len: int,
    stride: int,
    window: Literal["sliding", "expanding"] = "sliding",
    embargo_bars: int = 0,
    warmup_bars: int = 0,
    allow_truncated_final_fold: bool = False,
) -> list[Fold]:
    """Folds covering `n_bars` bars. Test windows never overlap when stride >= test_len and tile the out-of-sample
    period when stride == test_len. A final test window shorter than `test_len` is kept only when allowed.

    Raises `ConfigError` when the data cannot hold a single fold, saying how many bars one needs.
    """
    for name, value, low in (("train_len", train_len, 1), ("test_len", test_len, 1), ("stride", stride, 1),
                             ("embargo_bars", embargo_bars, 0), ("warmup_bars", warmup_bars, 0)):
        if value < low:
            raise ConfigError(f"must be >= {low}, found {value}", key=f"walkforward.{name}")
    if window not in ("sliding", "expanding"):
        raise ConfigError(f"{window!r} is not sliding or expanding", key="walkforward.window")
    need = train_len + embargo_bars + test_len
    folds: list[Fold] = []
    k = 0
    while True:
        offset = k * stride
        train_start = 0 if window == "expanding" else offset
        train_end = offset + train_len
        test_start = train_end + embargo_bars
        test_end = test_start + test_len
        if test_start >= n_bars:
            break
        if test_end > n_bars:
            if not allow_truncated_final_fold:
                break
            test_end = n_bars
        folds.append(Fold(k, max(0, train_start - warmup_bars), train_start, train_end, test_start, test_end))
        if test_end == n_bars:
            break  # the data is used up: a later fold could only repeat a truncated tail
        k += 1
    if not folds:
        raise ConfigError(
            f"not enough data for one fold: it needs train_len + embargo_bars + test_len = {train_len} + "
            f"{embargo_bars} + {test_len} = {need} bars, the data has {n_bars}",
            key="walkforward",
        )
    return folds
