"""What a strategy is: a name, a frozen parameter schema with a tuning grid, the features it reads, and a pure
signal expression in [-1, 1] per symbol and bar."""

from __future__ import annotations

import difflib
import itertools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

import polars as pl

from trader_cols.errors import ConfigError
from trader_cols.features import FeatureSpec, compute_features

Params = Mapping[str, int | float]
# Which regime a strategy is built for: the composer biases its weight there (trend_bias / chop_bias).
Style = Literal["trend", "chop", "any"]


@dataclass(frozen=True)
class Param:
    """One strategy parameter: default, tuning grid, and the small grid used by --fast."""

    name: str
    default: int | float
    grid: tuple[int | float, ...]
    fast_grid: tuple[int | float, ...]
    minimum: int | float = 1


@dataclass(frozen=True)
class Strategy:
    """A strategy. `features(p)` lists the feature specs it reads; `signal(p)` is a Polars expression over the
    feature frame (one row per symbol and bar, columns named by the specs) giving a Float64 in [-1, 1], null
    while its features warm up. Signals must be causal: they may read only the current row's features (or
    per-symbol look-backs with `.over("symbol")`)."""

    name: str
    summary: str
    style: Style
    params: tuple[Param, ...]
    features: Callable[[Params], tuple[FeatureSpec, ...]]
    signal: Callable[[Params], pl.Expr]
    check: Callable[[Params], str | None] | None = None

    def resolve(self, given: Params | None = None) -> dict[str, int | float]:
        """Defaults filled in, types and minimums checked; unknown names get a 'did you mean'."""
        given = dict(given or {})
        names = [p.name for p in self.params]
        for key in given:
            if key not in names:
                close = difflib.get_close_matches(key, names, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else f"; known: {', '.join(names)}"
                raise ConfigError(f"unknown parameter {key!r} of strategy {self.name}{hint}",
                                  key=f"strategies.{self.name}.{key}")
        out: dict[str, int | float] = {}
        for p in self.params:
            v = given.get(p.name, p.default)
            kind = type(p.default)
            if isinstance(v, bool) or not isinstance(v, int | float) or (kind is int and float(v) != int(v)):
                raise ConfigError(f"must be {'a whole number' if kind is int else 'a number'}, found {v!r}",
                                  key=f"strategies.{self.name}.{p.name}")
            v = kind(v)
            if v < p.minimum:
                raise ConfigError(f"must be >= {p.minimum}, found {v!r}", key=f"strategies.{self.name}.{p.name}")
            out[p.name] = v
        if self.check and (problem := self.check(out)):
            raise ConfigError(problem, key=f"strategies.{self.name}")
        return out

    def grid(self, fast: bool = False) -> Iterator[dict[str, int | float]]:
        """Every valid combination of the tuning grid (or the --fast grid), in a fixed order."""
        axes = [p.fast_grid if fast else p.grid for p in self.params]
        for combo in itertools.product(*axes):
            params = dict(zip((p.name for p in self.params), combo, strict=True))
            if not self.check or self.check(params) is None:
                yield params

    def signal_expr(self, params: Params | None = None) -> pl.Expr:
        """The signal of resolved params, clipped to [-1, 1], NaN turned into null."""
        p = self.resolve(params)
        return self.signal(p).cast(pl.Float64).fill_nan(None).clip(-1.0, 1.0).alias("signal")


def col(spec: FeatureSpec, output: int = 0) -> pl.Expr:
    """The column of one output of a feature spec."""
    return pl.col(spec.columns[output])


def compute_signal(bars: pl.LazyFrame, strategy: Strategy, params: Params | None = None) -> pl.LazyFrame:
    """symbol, ts, signal of one strategy over long bars (computes the features it needs, lazily)."""
    p = strategy.resolve(params)
    feats = compute_features(bars, strategy.features(p))
    closes = bars.select("symbol", "ts", "close")
    return (
        feats.join(closes, on=["symbol", "ts"], how="left", maintain_order="left")
        .select("symbol", "ts", strategy.signal_expr(p))
    )
