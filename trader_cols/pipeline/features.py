"""Feature and regime caches in the warehouse, keyed by each symbol's bars version and each spec's hash.

Layout under the warehouse folder (derived data: delete it any time, it is rebuilt on demand):
    features/interval=<i>/symbol=<s>/features.parquet   ts + every cached feature column of the symbol
    regimes/interval=<i>/symbol=<s>/regimes.parquet     ts + regime, regime_confidence
Each file's Parquet metadata records the content hash of the bars it was computed from (the catalog's
`bar_files.content_hash`) and, for features, which spec hash produced which columns. A symbol whose bars
changed is recomputed in full; a spec not yet cached is computed for the symbols that lack it, and only
it. Files are replaced atomically (temp file + rename); two writers racing on one symbol can only make the
loser's columns be recomputed next time, never tear a file.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl

from trader_cols.errors import DataSourceError
from trader_cols.features import FeatureSpec, check_unique, compute_features
from trader_cols.regimes import label_regimes, regime_specs, regime_stats, sql_params
from trader_cols.warehouse import Warehouse, check_symbol, query_frames

META_BARS = "tcols:bars_hash"
META_SPECS = "tcols:feature_specs"
META_REGIMES = "tcols:regime_params"


@dataclass
class CacheReport:
    """What a cache call did: (symbol, spec hash) pairs computed now, and how many were reused."""

    computed: list[tuple[str, str]] = field(default_factory=list)
    reused: int = 0


def bar_versions(wh: Warehouse, symbols: Sequence[str], interval: str) -> dict[str, str]:
    """symbol -> content hash of its stored bars; a DataSourceError names the symbols with none."""
    for s in symbols:
        check_symbol(s)
    rows = wh.query(
        "SELECT symbol, content_hash FROM bar_files "
        "WHERE interval = $i AND list_contains($s, symbol) ORDER BY symbol",
        {"i": interval, "s": list(symbols)},
    )
    versions = dict(zip(rows["symbol"].to_list(), rows["content_hash"].to_list(), strict=True))
    missing = [s for s in symbols if s not in versions]
    if missing:
        raise DataSourceError(
            f"no stored {interval} bars for {', '.join(missing)}; run `tcols ingest` first",
            source="warehouse",
        )
    return versions


def utc(value: date | datetime) -> datetime:
    """A date (midnight) or datetime as an aware UTC datetime; naive datetimes are taken as UTC."""
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _path(wh: Warehouse, kind: str, interval: str, symbol: str) -> Path:
    return wh.root / kind / f"interval={interval}" / f"symbol={symbol}" / f"{kind}.parquet"


def _metadata(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    try:
        return dict(pl.read_parquet_metadata(path))
    except (OSError, pl.exceptions.PolarsError):
        return {}  # unreadable cache file: treat as absent, it is rewritten


def _write(path: Path, frame: pl.DataFrame, metadata: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    frame.write_parquet(tmp, compression="zstd", metadata=metadata)
    os.replace(tmp, path)


def _cached_specs(path: Path, bars_hash: str) -> dict[str, list[str]]:
    """spec hash -> columns held by a symbol's feature file, if it was built from these bars."""
    meta = _metadata(path)
    if meta.get(META_BARS) != bars_hash:
        return {}
    return json.loads(meta.get(META_SPECS, "{}"))


def cached_features(
    wh: Warehouse, symbols: Sequence[str], specs: Sequence[FeatureSpec], *, interval: str = "1d"
) -> tuple[pl.DataFrame, CacheReport]:
    """symbol, ts + every spec's columns for `symbols`, from the cache where it is current, else computed.

    Symbols that lack the same set of specs are computed together in one plan, so a changed symbol costs
    one symbol's features and a new or changed spec costs that spec alone.
    """
    check_unique(specs)
    versions = bar_versions(wh, symbols, interval)
    report = CacheReport()
    missing: dict[tuple[str, ...], list[str]] = {}
    for sym in symbols:
        have = _cached_specs(_path(wh, "features", interval, sym), versions[sym])
        lacking = tuple(s.spec_hash for s in specs if s.spec_hash not in have)
        report.reused += len(specs) - len(lacking)
        if lacking:
            missing.setdefault(lacking, []).append(sym)
    by_hash = {s.spec_hash: s for s in specs}
    for hashes, syms in missing.items():
        todo = [by_hash[h] for h in hashes]
        bars = wh.read_bars(syms, interval)
        fresh = compute_features(bars.lazy(), todo).collect(engine="in-memory")
        for sym in syms:
            _merge_into_cache(
                wh, interval, sym, versions[sym], todo, fresh.filter(pl.col("symbol") == sym)
            )
            report.computed += [(sym, h) for h in hashes]
    columns = [c for s in specs for c in s.columns]
    parts = [
        pl.scan_parquet(_path(wh, "features", interval, sym))
        .select("ts", *columns)
        .with_columns(pl.lit(sym).alias("symbol"))
        for sym in symbols
    ]
    frame = pl.concat(parts).select("symbol", "ts", *columns).collect() if parts else pl.DataFrame()
    return frame, report


def _merge_into_cache(
    wh: Warehouse,
    interval: str,
    symbol: str,
    bars_hash: str,
    specs: Sequence[FeatureSpec],
    fresh: pl.DataFrame,
) -> None:
    """Add freshly computed spec columns to a symbol's feature file (kept columns must be of these bars)."""
    path = _path(wh, "features", interval, symbol)
    kept = _cached_specs(path, bars_hash)
    new_cols = [c for s in specs for c in s.columns]
    frame = fresh.select("ts", *new_cols)
    if kept:
        old_cols = [c for h, cols in kept.items() for c in cols if c not in new_cols]
        if old_cols:
            old = pl.read_parquet(path, columns=["ts", *old_cols])
            frame = old.join(frame, on="ts", how="full", coalesce=True).sort("ts")
    index = {h: cols for h, cols in kept.items() if not set(cols) & set(new_cols)}
    index.update({s.spec_hash: list(s.columns) for s in specs})
    _write(path, frame, {META_BARS: bars_hash, META_SPECS: json.dumps(index, sort_keys=True)})


def _regime_key(regimes_cfg) -> str:
    params = {**sql_params(regimes_cfg), "specs": [s.spec_hash for s in regime_specs(regimes_cfg)]}
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]


def cached_regimes(
    wh: Warehouse, symbols: Sequence[str], regimes_cfg, *, interval: str = "1d"
) -> tuple[pl.DataFrame, CacheReport]:
    """symbol, ts, regime, regime_confidence for `symbols`, stored in the warehouse per symbol.

    Recomputed for a symbol when its bars or the labeller's params (thresholds, windows) changed; the
    features it reads come from the feature cache.
    """
    versions = bar_versions(wh, symbols, interval)
    key = _regime_key(regimes_cfg)
    report = CacheReport()
    stale = []
    for sym in symbols:
        meta = _metadata(_path(wh, "regimes", interval, sym))
        if meta.get(META_BARS) == versions[sym] and meta.get(META_REGIMES) == key:
            report.reused += 1
        else:
            stale.append(sym)
    if stale:
        feats, _ = cached_features(wh, stale, regime_specs(regimes_cfg), interval=interval)
        labels = label_regimes(feats, regimes_cfg, query_frames)
        for sym in stale:
            mine = labels.filter(pl.col("symbol") == sym).drop("symbol")
            _write(
                _path(wh, "regimes", interval, sym),
                mine,
                {META_BARS: versions[sym], META_REGIMES: key},
            )
            report.computed.append((sym, key))
    parts = [
        pl.scan_parquet(_path(wh, "regimes", interval, sym)).with_columns(
            pl.lit(sym).alias("symbol")
        )
        for sym in symbols
    ]
    frame = pl.concat(parts).select("symbol", "ts", "regime", "regime_confidence").collect()
    return frame, report


@dataclass(frozen=True)
class RegimeReport:
    """One symbol's regime labels over a date range and their statistics (`regimes.regime_stats`)."""

    symbol: str
    labels: pl.DataFrame
    share: pl.DataFrame
    run_length: pl.DataFrame
    transitions: pl.DataFrame


def regime_report(
    wh: Warehouse,
    symbol: str,
    regimes_cfg,
    *,
    interval: str = "1d",
    start: date | datetime | None = None,
    end: date | datetime | None = None,
) -> RegimeReport:
    """Share of time per regime, mean run length and transition matrix of one symbol, [start, end].

    Labels come from the symbol's whole stored history (so the first bars of the range are labelled with
    their full look-back), then are cut to the range; dates are UTC days, `end` inclusive.
    """
    labels, _ = cached_regimes(wh, [symbol], regimes_cfg, interval=interval)
    if start is not None:
        labels = labels.filter(pl.col("ts") >= utc(start))
    if end is not None:
        labels = labels.filter(pl.col("ts") <= utc(end))
    stats = regime_stats(labels)
    return RegimeReport(symbol, labels, stats["share"], stats["run_length"], stats["transitions"])
