"""CSV and Parquet bar files: one file per symbol (symbol from the file name) or long files with a symbol column."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

import polars as pl

from trader_cols import schema
from trader_cols.errors import DataSourceError
from trader_cols.sanity.timestamps import parse_timestamps
from trader_cols.sources.base import Fetched

# Canonical column ← accepted header names (compared case-insensitively, spaces/underscores/dashes ignored).
ALIASES: dict[str, tuple[str, ...]] = {
    "symbol": ("symbol", "ticker"),
    "ts": ("date", "datetime", "ts", "timestamp", "time"),
    "open": ("open",),
    "high": ("high",),
    "low": ("low",),
    "close": ("close",),
    "adj_close": ("adjclose", "adjustedclose"),
    "volume": ("volume", "vol"),
}
REQUIRED = ("ts", "open", "high", "low", "close")
DAILY = ("1d", "1wk", "1mo")
# The zone of naive timestamps: one for all, or per symbol (--tz, else per source, else per asset class).
Zone = str | Callable[[str], str | None] | None
_ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"


def _norm(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def map_columns(columns: Sequence[str], *, file: str) -> dict[str, str]:
    """Canonical name → the file's column name. Missing required columns are an error naming the file."""
    found: dict[str, str] = {}
    for col in columns:
        key = _norm(col)
        for canon, names in ALIASES.items():
            if key in names and canon not in found:
                found[canon] = col
    missing = [c for c in REQUIRED if c not in found]
    if missing:
        raise DataSourceError(
            f"missing columns {missing}; found {list(columns)} (expected Date/Datetime/ts/timestamp, Open, High, "
            "Low, Close, optional Adj Close, Volume, Symbol)",
            file=file,
        )
    return found


def list_files(path: str | Path, fmt: str) -> list[Path]:
    """The files a --path names: itself, or the .csv / .parquet files in the folder, sorted."""
    p = Path(path)
    if p.is_file():
        return [p]
    if p.is_dir():
        files = sorted(q for q in p.iterdir() if q.is_file() and q.suffix.lower() == f".{fmt}")
        if not files:
            raise DataSourceError(f"no .{fmt} files in the folder", file=str(p))
        return files
    raise DataSourceError("no such file or folder", file=str(p))


def read_file(path: Path, fmt: str) -> pl.DataFrame:
    """Read one file as-is; CSV columns stay strings so bad values can be reported by row."""
    try:
        if fmt == "csv":
            if path.stat().st_size == 0:
                raise DataSourceError("file is empty", file=str(path))
            return pl.read_csv(path, infer_schema=False, try_parse_dates=False)
        return pl.read_parquet(path, hive_partitioning=False)
    except DataSourceError:
        raise
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise DataSourceError(f"cannot read {fmt}: {str(exc).splitlines()[0]}", file=str(path)) from exc


def _numeric(raw: pl.DataFrame, col: str, canon: str, *, file: str, symbol: str | None) -> pl.Series:
    s = raw[col]
    if s.dtype.is_numeric():
        return s.cast(pl.Float64)
    if s.dtype != pl.String:
        raise DataSourceError(f"column {col!r} has type {s.dtype}, expected numbers", file=file, symbol=symbol)
    text = s.str.strip_chars()
    num = text.cast(pl.Float64, strict=False)
    bad = (num.is_null() & text.is_not_null() & (text != "")).arg_true()
    if bad.len():
        row = int(bad[0])
        raise DataSourceError(
            f"column {col!r} value {s[row]!r} is not a number", file=file, symbol=symbol, row=row + _first_row(file)
        )
    return num


def _timestamps(raw: pl.DataFrame, col: str, interval: str, tz: Zone, symbols: pl.Series, *, file: str) -> pl.Series:
    """UTC timestamps. Daily bars keep the session date written in the file (at 00:00 UTC), whatever its zone;
    intraday values are instants: naive ones are read in `tz`, offsets are honoured, mixed offsets allowed."""
    if callable(tz):
        zones = symbols.unique().to_frame("symbol").with_columns(
            pl.col("symbol").map_elements(tz, return_dtype=pl.String).alias("zone")
        )
        zone_col = symbols.to_frame("symbol").join(zones, on="symbol", how="left", maintain_order="left")["zone"]
        if zone_col.n_unique() > 1:
            # Several zones in one long file: parse each zone's rows apart, then put them back in file order.
            idx = pl.Series("i", range(raw.height))
            parts = []
            for zone in zone_col.unique(maintain_order=True).to_list():
                mask = zone_col.eq_missing(zone)
                ts = _timestamps(raw.filter(mask), col, interval, zone, symbols.filter(mask), file=file)
                parts.append(pl.DataFrame({"i": idx.filter(mask), "ts": ts}))
            return pl.concat(parts).sort("i")["ts"]
        tz = zone_col[0] if zone_col.len() else None
    s = raw[col]
    if interval in DAILY:
        if s.dtype == pl.Date:
            dates = s
        elif isinstance(s.dtype, pl.Datetime):
            dates = s.dt.date()
        else:
            text = s.cast(pl.String).str.strip_chars()
            head = text.str.slice(0, 10)
            dates = head.str.to_date("%Y-%m-%d", strict=False)
            bad = (dates.is_null() & text.is_not_null()).arg_true()
            if bad.len() or not head.str.contains(_ISO_DATE).fill_null(False).all():
                # Not ISO dates: parse as instants in the declared zone, then take the date there.
                inst = parse_timestamps(text, tz, file=file, first_row=_first_row(file))
                dates = inst.dt.convert_time_zone(tz or "UTC").dt.date()
        return dates.cast(pl.Datetime("us")).dt.replace_time_zone("UTC").alias("ts")
    return parse_timestamps(s, tz, file=file, first_row=_first_row(file)).alias("ts")


def _first_row(file: str) -> int:
    """The row number users see for the first value: line 2 of a CSV (after the header), row 1 of Parquet."""
    return 2 if file.lower().endswith(".csv") else 1


def frame_from_file(path: Path, fmt: str, interval: str, tz: Zone) -> pl.DataFrame:
    """One file as canonical source bars (SOURCE_BARS), long, with its symbol(s)."""
    file = str(path)
    raw = read_file(path, fmt)
    if raw.height == 0:
        raise DataSourceError("file has no rows", file=file)
    cols = map_columns(raw.columns, file=file)
    if "symbol" in cols:
        sym = raw[cols["symbol"]].cast(pl.String).str.strip_chars()
        if sym.is_null().any() or (sym == "").any():
            row = int((sym.is_null() | (sym == "")).arg_true()[0])
            raise DataSourceError("empty symbol", file=file, row=row + _first_row(file))
        symbol_hint = None
    else:
        sym = pl.Series("symbol", [path.stem] * raw.height, dtype=pl.String)
        symbol_hint = path.stem
    out = pl.DataFrame({
        "symbol": sym,
        "ts": _timestamps(raw, cols["ts"], interval, tz, sym, file=file),
        **{c: _numeric(raw, cols[c], c, file=file, symbol=symbol_hint) for c in ("open", "high", "low", "close")},
        "adj_close": _numeric(raw, cols["adj_close"], "adj_close", file=file, symbol=symbol_hint)
        if "adj_close" in cols else pl.Series([None] * raw.height, dtype=pl.Float64),
        "volume": _numeric(raw, cols["volume"], "volume", file=file, symbol=symbol_hint)
        if "volume" in cols else pl.Series([None] * raw.height, dtype=pl.Float64),
    })
    return schema.conform(out, schema.SOURCE_BARS)


def fetch_files(
    path: str | Path,
    symbols: Sequence[str],
    start: date,
    end: date,
    *,
    fmt: str,
    interval: str = "1d",
    tz: Zone = None,
) -> Fetched:
    """Bars of `symbols` (all symbols found when empty) between start and end (inclusive) from csv/parquet files.

    A file that cannot be read fails the symbols it would have given (its name, or all asked for when it is a
    long file); the other files still load. A symbol asked for but found nowhere is a failure naming the path.
    """
    wanted = {s.upper(): s for s in symbols}
    frames, failures, errors = [], {}, []
    for f in list_files(path, fmt):
        if wanted and f.stem.upper() not in wanted and not _may_be_long(f, fmt):
            continue
        try:
            frame = frame_from_file(f, fmt, interval, tz)
        except DataSourceError as exc:
            target = wanted.get(f.stem.upper())
            if target:
                failures[target] = exc
            else:
                errors.append(exc)
            continue
        if wanted:
            frame = frame.filter(pl.col("symbol").str.to_uppercase().is_in(list(wanted))).with_columns(
                pl.col("symbol").str.to_uppercase().replace_strict(wanted, return_dtype=pl.String)
            )
        frames.append(frame)
    got = Fetched.of(frames)
    lo = pl.lit(start).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    hi = pl.lit(end).cast(pl.Datetime("us")).dt.replace_time_zone("UTC") + pl.duration(days=1)
    bars = got.bars.filter((pl.col("ts") >= lo) & (pl.col("ts") < hi))
    present = set(got.bars["symbol"].unique().to_list())
    for sym in wanted.values():
        if sym not in present and sym not in failures:
            if errors:
                failures[sym] = errors[0]
            else:
                failures[sym] = DataSourceError(f"not found in {path}", source=fmt, symbol=sym)
    if not wanted and errors:
        raise errors[0]
    return Fetched(bars=bars, failures=failures)


def _may_be_long(path: Path, fmt: str) -> bool:
    """Whether a file could hold several symbols (it has a symbol column) — checked from its header only."""
    try:
        if fmt == "csv":
            with open(path, encoding="utf-8", errors="replace") as fh:
                header = fh.readline()
            names = [h.strip().strip('"') for h in header.split(",")]
        else:
            names = list(pl.read_parquet_schema(path))
    except OSError:
        return True
    return any(_norm(n) in ALIASES["symbol"] for n in names)
