"""What every source hands to ingest: a long frame of bars in SOURCE_BARS schema plus the symbols that failed."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from trader_cols import schema
from trader_cols.errors import DataSourceError


@dataclass
class Fetched:
    """Bars from one source call: `bars` is long, in `schema.SOURCE_BARS`, sorted by (symbol, ts), ts in UTC.

    `failures` maps each symbol that could not be delivered to the typed error saying why; the others are in `bars`.
    """

    bars: pl.DataFrame
    failures: dict[str, DataSourceError] = field(default_factory=dict)

    @staticmethod
    def of(frames: list[pl.DataFrame], failures: dict[str, DataSourceError] | None = None) -> Fetched:
        """Concatenate per-symbol frames into one conformed, sorted long frame."""
        parts = [schema.conform(f, schema.SOURCE_BARS) for f in frames if f.height]
        bars = pl.concat(parts) if parts else schema.empty(schema.SOURCE_BARS)
        return Fetched(bars=bars.sort("symbol", "ts"), failures=dict(failures or {}))
