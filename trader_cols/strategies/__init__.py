"""The strategy registry: name → Strategy."""

from __future__ import annotations

import difflib

from trader_cols.errors import ConfigError
from trader_cols.strategies import breakout, ensemble, mean_reversion, trend, vol_momentum
from trader_cols.strategies.base import Param, Strategy, compute_signal

REGISTRY: dict[str, Strategy] = {
    m.STRATEGY.name: m.STRATEGY for m in (trend, mean_reversion, breakout, vol_momentum, ensemble)
}


def get_strategy(name: str) -> Strategy:
    """The strategy called `name`, or a ConfigError with a 'did you mean'."""
    try:
        return REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(REGISTRY), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else f"; known: {', '.join(REGISTRY)}"
        raise ConfigError(f"unknown strategy {name!r}{hint}", key="composer.strategies") from None


__all__ = ["REGISTRY", "Param", "Strategy", "compute_signal", "get_strategy"]
