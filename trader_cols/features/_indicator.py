"""What an indicator is (inputs, params, outputs, look-back) and the bridge from Polars to its kernel."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import polars as pl

from trader_cols.kernels.indicators import segment_bounds_nb

# Name of the per-symbol segment id column that compute_features adds (rle_id of the sorted symbol).
SEG = "__seg"
# The fused kernel UDF yields one struct column named with this prefix; compute_features unnests it at
# frame level (an expression-level struct.unnest would run the UDF once per field).
STRUCT_PREFIX = "__struct__"

Params = Mapping[str, int | float]


@dataclass(frozen=True)
class Param:
    """One indicator parameter: its default, its type and the smallest value allowed."""

    name: str
    default: int | float
    minimum: int | float

    @property
    def kind(self) -> type:
        return float if isinstance(self.default, float) else int


@dataclass(frozen=True)
class Indicator:
    """An indicator family: which bar columns it reads, its params, its outputs and how to compute them.

    Either `kernel` (a Numba kernel `kernel(*input_arrays, bounds, *kernel_args(p), outs)` over the
    long symbol-sorted arrays, filling the rows of `outs` in `outputs` order) or `build` (native Polars
    expressions `build(p, names)` over the frame compute_features prepares, aliased to `names`).
    `lookbacks(p)` gives, per output, how many leading rows of each symbol are null. `stable(p, tol)`
    bounds the history after which a recursive output no longer depends on where the data started
    (None: never, e.g. a cumulative sum). `version` is part of the spec hash: bump it when the
    definition changes so cached features recompute.
    """

    name: str
    family: str
    summary: str
    inputs: tuple[str, ...]
    params: tuple[Param, ...]
    outputs: tuple[str, ...]
    lookbacks: Callable[[Params], tuple[int, ...]]
    kernel: Callable | None = None
    kernel_args: Callable[[Params], tuple] = lambda p: ()
    build: Callable[[Params, tuple[str, ...]], list[pl.Expr]] | None = None
    recursive: bool = False
    stable: Callable[[Params, float], int | None] | None = None
    talib: str | None = None
    differs: str | None = None
    check: Callable[[Params], str | None] | None = None
    version: int = 1


@dataclass(frozen=True)
class KernelCall:
    """One kernel run: the kernel, the bar columns it reads, its scalar args and its output names."""

    kernel: Callable
    inputs: tuple[str, ...]
    args: tuple
    names: tuple[str, ...]


def decay_bars(alpha: float, tol: float) -> int:
    """Bars for an error multiplied by (1 - alpha) each bar to shrink below `tol` (from 1)."""
    return math.ceil(math.log(tol) / math.log1p(-alpha))


def kernel_struct(calls: Sequence[KernelCall], threads: int) -> pl.Expr:
    """One expression that runs every kernel call over the symbol-sorted columns, as a struct column.

    The kernels see whole long arrays plus the segment boundaries (from SEG), so there is no Python
    loop over symbols. They release the GIL, so they run on `threads` threads at once (Polars runs
    Python UDFs one at a time, so one fused UDF is the way to use the cores). The struct's fields wrap
    the kernels' NumPy output rows without copying; they still hold NaN for warm-up and undefined
    values, which the caller turns into null with `fill_nan(None)` (that only adds a validity mask).
    The struct is named STRUCT_PREFIX + "kernels"; unnest it.
    """
    inputs = sorted({c for call in calls for c in call.inputs})
    names = [n for call in calls for n in call.names]

    def run(s: pl.Series) -> pl.Series:
        bounds = segment_bounds_nb(s.struct.field(SEG).to_numpy())
        arrays = {
            c: np.ascontiguousarray(s.struct.field(c).to_numpy(), dtype=np.float64) for c in inputs
        }
        # One NumPy block for every output (NumPy asks for huge pages; the kernels fill its rows).
        block = np.empty((len(names), len(s)))
        rows, start = [], 0
        for call in calls:
            rows.append(block[start : start + len(call.names)])
            start += len(call.names)

        def one(i: int) -> list[pl.Series]:
            call = calls[i]
            call.kernel(*(arrays[c] for c in call.inputs), bounds, *call.args, rows[i])
            return [pl.Series(n, o) for n, o in zip(call.names, rows[i], strict=True)]

        if threads > 1 and len(calls) > 1:
            with ThreadPoolExecutor(max_workers=threads) as pool:
                parts = list(pool.map(one, range(len(calls))))
        else:
            parts = [one(i) for i in range(len(calls))]
        return pl.DataFrame([col for part in parts for col in part]).to_struct()

    dtype = pl.Struct({n: pl.Float64 for n in names})
    return (
        pl.struct(SEG, *inputs)
        .map_batches(run, return_dtype=dtype)
        .alias(STRUCT_PREFIX + "kernels")
    )


def lagged(col: str, n: int) -> tuple[pl.Expr, pl.Expr]:
    """(value n bars back, whether that bar is the same symbol) over the symbol-sorted frame."""
    return pl.col(col).shift(n), pl.col(SEG).shift(n) == pl.col(SEG)
