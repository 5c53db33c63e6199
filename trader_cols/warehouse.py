"""The DuckDB side of trader_cols: running SQL files over frames (in memory) — the warehouse proper follows."""

from __future__ import annotations

import duckdb
import polars as pl

from trader_cols.sqlfiles import load_sql


def query_frames(dotted: str, params: dict | None = None, **frames: pl.DataFrame) -> pl.DataFrame:
    """Run one SQL file on an in-memory DuckDB over the given frames (registered under their keyword names)."""
    con = duckdb.connect(":memory:")
    try:
        for name, frame in frames.items():
            con.register(name, frame)
        return con.execute(load_sql(dotted), params or {}).pl()
    finally:
        con.close()
