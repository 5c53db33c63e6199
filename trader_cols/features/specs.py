"""Feature specs: which indicator with which params, its output columns, look-back, stability and hash."""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import polars as pl

from trader_cols.errors import ConfigError
from trader_cols.features import oscillators, returns, trend, volatility, volume
from trader_cols.features._indicator import Indicator, KernelCall

INDICATORS: dict[str, Indicator] = {
    ind.name: ind
    for module in (returns, trend, oscillators, volatility, volume)
    for ind in module.INDICATORS
}

# Relative tolerance under which a recursive indicator counts as independent of where history starts.
STABLE_TOL = 1e-6


def _fmt(value: int | float) -> str:
    """A param value as it appears in a column name: 14 → '14', 2.0 → '2', 2.5 → '2p5'."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).replace(".", "p").replace("-", "m")


def _unknown(kind: str, name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(sorted(known))}"
    return f"unknown {kind} {name!r}{hint}"


@dataclass(frozen=True)
class FeatureSpec:
    """One indicator with its params, e.g. FeatureSpec.of("rsi", window=14).

    Params are normalised on construction: defaults filled in, declared order, declared types, range
    checked (a ConfigError names what is wrong). Two specs with the same indicator and values are equal
    and hash the same.
    """

    name: str
    params: tuple[tuple[str, int | float], ...] = ()

    def __post_init__(self) -> None:
        key = f"features.{self.name}"
        if self.name not in INDICATORS:
            raise ConfigError(_unknown("indicator", self.name, INDICATORS), key=key)
        ind = INDICATORS[self.name]
        given = dict(self.params)
        if len(given) != len(self.params):
            raise ConfigError("a param is given twice", key=key)
        declared = {p.name: p for p in ind.params}
        for pname in given:
            if pname not in declared:
                raise ConfigError(_unknown(f"param of {self.name}", pname, declared), key=key)
        normal: list[tuple[str, int | float]] = []
        for p in ind.params:
            raw = given.get(p.name, p.default)
            if isinstance(raw, bool) or not isinstance(raw, int | float):
                raise ConfigError(f"{p.name} must be a number, got {raw!r}", key=f"{key}.{p.name}")
            if p.kind is int and float(raw) != int(raw):
                raise ConfigError(
                    f"{p.name} must be a whole number, got {raw!r}", key=f"{key}.{p.name}"
                )
            value = p.kind(raw)
            if value < p.minimum:
                raise ConfigError(
                    f"{p.name} must be >= {p.minimum}, got {raw!r}", key=f"{key}.{p.name}"
                )
            normal.append((p.name, value))
        object.__setattr__(self, "params", tuple(normal))
        if ind.check is not None and (problem := ind.check(self.kwargs)):
            raise ConfigError(problem, key=key)

    @classmethod
    def of(cls, name: str, **params: int | float) -> FeatureSpec:
        """Build a spec from keyword params (missing ones take their defaults)."""
        return cls(name, tuple(params.items()))

    @property
    def indicator(self) -> Indicator:
        return INDICATORS[self.name]

    @property
    def kwargs(self) -> dict[str, int | float]:
        return dict(self.params)

    @property
    def columns(self) -> tuple[str, ...]:
        """Output column names: output name + '_' + param values in declared order (e.g. macd_signal_12_26_9)."""
        suffix = "_".join(_fmt(v) for _, v in self.params)
        return tuple(f"{out}_{suffix}" if suffix else out for out in self.indicator.outputs)

    @property
    def lookbacks(self) -> dict[str, int]:
        """Per output column, the number of leading bars of each symbol that are null."""
        return dict(zip(self.columns, self.indicator.lookbacks(self.kwargs), strict=True))

    @property
    def lookback(self) -> int:
        """Bars of history before every output of this spec has a value."""
        return max(self.lookbacks.values())

    def stable_bars(self, tol: float = STABLE_TOL) -> int | None:
        """Bars of history after which values no longer depend (to `tol`, relative) on where data starts.

        Equal to the look-back for non-recursive indicators; an analytic bound for recursive ones
        (assuming two starting states differ by at most 100% of the value); None if never (OBV).
        """
        ind = self.indicator
        if ind.stable is None:
            return self.lookback
        return ind.stable(self.kwargs, tol)

    @property
    def spec_hash(self) -> str:
        """A short stable hash of (indicator, definition version, params): the feature-cache key part."""
        payload = json.dumps(
            [self.name, self.indicator.version, list(self.params)], separators=(",", ":")
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def kernel_call(self) -> KernelCall | None:
        """The Numba kernel run of this spec, or None when it is built from native expressions."""
        ind = self.indicator
        if ind.kernel is None:
            return None
        return KernelCall(ind.kernel, ind.inputs, ind.kernel_args(self.kwargs), self.columns)

    def native_exprs(self) -> list[pl.Expr]:
        """The native Polars expressions of this spec (empty for kernel-based indicators)."""
        ind = self.indicator
        return [] if ind.build is None else ind.build(self.kwargs, self.columns)


# The default feature set: every indicator once, returns at 1, 5 and 20 bars.
DEFAULT_SPECS: tuple[FeatureSpec, ...] = (
    FeatureSpec.of("ret", window=1),
    FeatureSpec.of("ret", window=5),
    FeatureSpec.of("ret", window=20),
    FeatureSpec.of("log_ret", window=1),
    *(FeatureSpec.of(name) for name in INDICATORS if name not in ("ret", "log_ret")),
)


def specs_from_config(
    indicators: Mapping[str, Sequence[Mapping[str, int | float]]],
) -> tuple[FeatureSpec, ...]:
    """Specs from the config's `features.indicators`: name -> list of param sets, e.g.
    {"ret": [{"window": 1}, {"window": 5}], "rsi": [{"window": 14}], "obv": [{}]}.

    An empty list turns an indicator off. Unknown names or params and two entries giving the same
    column are ConfigErrors naming the key.
    """
    specs: list[FeatureSpec] = []
    for name, param_sets in indicators.items():
        if isinstance(param_sets, Mapping) or isinstance(param_sets, str):
            raise ConfigError(
                "expected a list of param sets, e.g. [{window: 14}]",
                key=f"features.indicators.{name}",
            )
        for params in param_sets:
            specs.append(FeatureSpec(str(name), tuple(dict(params).items())))
    check_unique(specs)
    return tuple(specs)


def check_unique(specs: Sequence[FeatureSpec]) -> None:
    """Raise ConfigError if two specs would produce the same column."""
    seen: dict[str, FeatureSpec] = {}
    for spec in specs:
        for col in spec.columns:
            if col in seen:
                raise ConfigError(
                    f"column {col!r} is produced twice ({seen[col]} and {spec})", key="features"
                )
            seen[col] = spec
