"""trader_cols: columnar research and paper trading; bars in Parquet + DuckDB, Polars features, Numba kernels.

The public API (`trader_cols.ingest`, `query`, `bars`, `get_config`, `open_warehouse`) is loaded on first use, so
`import trader_cols` and `tcols --help` stay instant.
"""

from __future__ import annotations

from trader_cols._version import __version__

_API = ("ingest", "query", "bars", "get_config", "open_warehouse")
__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        from trader_cols import api

        return getattr(api, name)
    raise AttributeError(f"module 'trader_cols' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
