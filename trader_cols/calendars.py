"""Asset classes and their calendars: which symbols are crypto, ETFs or equities, how often they trade, and how
many bars make a year."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import polars as pl

from trader_cols.errors import ConfigError
from trader_cols.schema import ASSET_CLASSES

# Yahoo-style crypto pairs: BTC-USD, ETH-USDT, SOL-USDC, ETH-BTC, XRP-EUR.
CRYPTO_PATTERN = re.compile(r"-(USD|USDT|USDC|BUSD|DAI|EUR|GBP|BTC|ETH)$", re.IGNORECASE)
# Widely traded US ETFs known without asking a data vendor; anything else that is not crypto is an equity
# unless `asset_classes` in the config says otherwise.
KNOWN_ETFS = frozenset(
    "SPY IVV VOO VTI QQQ IWM DIA MDY EFA EEM VEA VWO IEFA IEMG AGG BND TLT IEF SHY LQD HYG EMB TIP GLD SLV USO UNG "
    "DBC VNQ XLB XLC XLE XLF XLI XLK XLP XLRE XLU XLV XLY SMH SOXX ARKK KRE XBI IBB GDX GDXJ VIG VYM SCHD RSP SPLV "
    "MTUM QUAL USMV EWJ EWZ FXI MCHI INDA BITO IBIT".split()
)
PERIODS_PER_YEAR = {"crypto": 365, "etf": 252, "equity": 252}
CALENDARS = {"crypto": "every_day", "etf": "business_days", "equity": "business_days"}


def check_overrides(overrides: Mapping[str, str]) -> None:
    """Config overrides must name a known class."""
    for sym, cls in overrides.items():
        if cls not in ASSET_CLASSES:
            raise ConfigError(f"asset class {cls!r} of {sym} is not one of {', '.join(ASSET_CLASSES)}",
                              key=f"asset_classes.{sym}")


def classify_symbol(symbol: str, overrides: Mapping[str, str] | None = None) -> str | None:
    """By name alone: the config override, then crypto ticker patterns, then the known-ETF list; None when the
    name says nothing (the data decides)."""
    if overrides and symbol in overrides:
        return overrides[symbol]
    if CRYPTO_PATTERN.search(symbol):
        return "crypto"
    if symbol.upper() in KNOWN_ETFS:
        return "etf"
    return None


def asset_classes(
    bars: pl.DataFrame | None,
    overrides: Mapping[str, str] | None = None,
    symbols: Iterable[str] | None = None,
) -> dict[str, str]:
    """symbol → equity | etf | crypto for the symbols of `bars` (and `symbols`). Overrides first, then ticker
    patterns, then the data: a symbol that trades on Saturdays and on Sundays (UTC) is crypto; otherwise
    equity. Both days are required: an exchange open Sunday to Thursday (Tadawul), or an Asian session
    that starts on Sunday evening UTC (ASX), trades on one weekend day only."""
    overrides = dict(overrides or {})
    check_overrides(overrides)
    names = set(symbols or ())
    weekend: set[str] = set()
    if bars is not None and bars.height:
        names |= set(bars["symbol"].unique().to_list())
        days = (
            bars.filter(pl.col("ts").dt.weekday() >= 6)
            .group_by("symbol")
            .agg(pl.col("ts").dt.weekday().n_unique().alias("weekend_days"))
        )
        weekend = set(days.filter(pl.col("weekend_days") == 2)["symbol"].to_list())
    out = {}
    for sym in sorted(names):
        cls = classify_symbol(sym, overrides)
        out[sym] = cls or ("crypto" if sym in weekend else "equity")
    return out


def periods_per_year(asset_class: str) -> int:
    """Daily bars in a year: 365 for crypto, 252 for exchange-traded classes."""
    return PERIODS_PER_YEAR[asset_class]


def calendar_of(asset_class: str) -> str:
    """'every_day' (crypto) or 'business_days' (equities and ETFs): the calendar gaps are measured against."""
    return CALENDARS[asset_class]


def asset_classes_of(symbols: pl.Series, overrides: Mapping[str, str] | None = None) -> pl.Series:
    """equity | etf | crypto for each element of a symbol column, by name alone (`classify_symbol`; equity when
    the name says nothing). For checks that run before the data can speak."""
    overrides = dict(overrides or {})
    check_overrides(overrides)
    names = symbols.cast(pl.String)
    mapping = {s: classify_symbol(s, overrides) or "equity" for s in names.drop_nulls().unique().to_list()}
    return names.replace_strict(mapping, default=None, return_dtype=pl.String).alias("asset_class")
