"""Asset class of each symbol for DataSanity's calendars: explicit mapping first, else inferred from the ticker."""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from trader_cols.errors import ConfigError
from trader_cols.schema import ASSET_CLASSES

# Yahoo-style crypto pairs: BTC-USD, ETH-USDT, SOL-USDC, ETH-BTC, LINK-ETH.
CRYPTO_PATTERN = r"(?i)-(USD|USDT|USDC|BTC|ETH)$"


def asset_classes_of(symbols: pl.Series, overrides: Mapping[str, str] | None = None) -> pl.Series:
    """equity | etf | crypto for each symbol: `overrides` wins, else crypto by ticker pattern, else equity."""
    for sym, cls in (overrides or {}).items():
        if cls not in ASSET_CLASSES:
            raise ConfigError(
                f"asset class {cls!r} of {sym} is not one of {', '.join(ASSET_CLASSES)}",
                key=f"asset_classes.{sym}",
            )
    inferred = (
        pl.DataFrame({"symbol": symbols.cast(pl.String)})
        .select(
            pl.when(pl.col("symbol").str.contains(CRYPTO_PATTERN))
            .then(pl.lit("crypto"))
            .otherwise(pl.lit("equity"))
            .alias("asset_class")
        )
        .to_series()
    )
    if not overrides:
        return inferred
    return (
        symbols.cast(pl.String)
        .replace_strict(dict(overrides), default=inferred, return_dtype=pl.String)
        .alias("asset_class")
    )
