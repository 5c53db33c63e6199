"""The public Python API: what `tcols` does, as functions returning Polars frames (for notebooks and scripts)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import polars as pl

from trader_cols.config import Config, load_config, profile_paths
from trader_cols.pipeline.ingest import IngestRequest, IngestResult
from trader_cols.pipeline.ingest import ingest as _ingest
from trader_cols.warehouse import Warehouse


def get_config(profile: str | None = None, files: Sequence[str | Path] = (), **overrides) -> Config:
    """The validated config: base.yaml + data_sanity.yaml + `profile` + `files`, env, then dotted `overrides`
    such as `get_config(**{"risk.max_position_pct": 0.1})`."""
    return load_config(profile_paths(profile, files), overrides=overrides).config


def open_warehouse(path: str | Path | None = None, cfg: Config | None = None) -> Warehouse:
    """The warehouse at `path`, else the config's (`./warehouse` or TCOLS_WAREHOUSE)."""
    cfg = cfg or get_config()
    return Warehouse(path, cfg.warehouse.lock_timeout_s) if path else Warehouse.from_config(cfg.warehouse)


def ingest(
    symbols: Sequence[str],
    start: str | date,
    end: str | date,
    *,
    source: str = "synthetic",
    interval: str = "1d",
    path: str | None = None,
    tz: str | None = None,
    auto_adjust: bool | None = None,
    refresh: bool = False,
    seed: int | None = None,
    warehouse: str | Path | None = None,
    cfg: Config | None = None,
) -> IngestResult:
    """Fetch, validate and store bars (see `tcols ingest`); failures per symbol are in `result.failures`."""
    cfg = cfg or get_config()
    req = IngestRequest(
        symbols=tuple(symbols), start=_date(start), end=_date(end), interval=interval, source=source, path=path,
        tz=tz, auto_adjust=cfg.data.auto_adjust if auto_adjust is None else auto_adjust, refresh=refresh,
        seed=cfg.engine.seed if seed is None else seed,
    )
    wh = open_warehouse(warehouse, cfg)
    return _ingest(wh, req, sanity_cfg=cfg.data_sanity, data_cfg=cfg.data, asset_classes=cfg.asset_classes)


def query(sql: str, params: dict | None = None, *, warehouse: str | Path | None = None) -> pl.DataFrame:
    """Read-only SQL over the warehouse (tables: bars, ingest_log, bar_files, sanity_findings, runs, …)."""
    return open_warehouse(warehouse).query(sql, params)


def bars(
    symbols: Sequence[str] | None = None,
    start: str | date | None = None,
    end: str | date | None = None,
    *,
    interval: str = "1d",
    warehouse: str | Path | None = None,
) -> pl.DataFrame:
    """Stored bars in the canonical schema, sorted by (symbol, ts); `end` inclusive."""
    return open_warehouse(warehouse).read_bars(symbols, interval, start, end)


def _date(value: str | date) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))
