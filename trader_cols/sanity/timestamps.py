"""Timestamps to UTC instants: naive values read in a declared IANA zone (DST-exact), offsets parsed as instants.

Rules (documented in docs/sanity.md, "Timezones"):
- A value with an offset (`Z`, `+01:00`, `-0500`) is an instant: converted to UTC, whatever the declared zone.
  A column may mix offsets (a file spanning a DST change, or merged sources).
- A naive date-time is local time in the declared zone and converted to UTC. A local time that does not exist
  (spring-forward gap) is always an error; one that occurs twice (fall-back overlap) is an error unless the
  caller picks `ambiguous="earliest"` or `"latest"`. Naive values with no declared zone are an error: they are
  never silently labelled UTC.
- A date alone (`2024-01-02`) is a session date and becomes 00:00 UTC of that date, the label of daily bars
  (see `schema.BARS`), whatever the zone.
"""

from __future__ import annotations

from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

from trader_cols.errors import ConfigError, DataSourceError
from trader_cols.schema import UTC_TS

Ambiguous = Literal["raise", "earliest", "latest"]

_DATE = r"(\d{4}-\d{2}-\d{2})"
_TIME = r"(\d{2}:\d{2})(:\d{2})?(\.\d{1,9})?"
_OFFSET = r"(Z|z|[+-]\d{2}:?\d{2}|[+-]\d{2})"
_RE_DATE = f"^{_DATE}$"
_RE_NAIVE = f"^{_DATE}[T ]{_TIME}$"
_RE_AWARE = f"^{_DATE}[T ]{_TIME} ?{_OFFSET}$"
_CANON_FMT = "%Y-%m-%dT%H:%M:%S%.f"


def check_zone(zone: str) -> str:
    """Return `zone` if it is a known IANA time zone name, else raise `ConfigError` naming it."""
    if not isinstance(zone, str) or not zone:
        raise ConfigError(
            f"time zone must be an IANA name such as 'America/New_York', found {zone!r}"
        )
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"unknown time zone {zone!r}: use an IANA name such as 'UTC' or 'America/New_York'"
        ) from None
    return zone


def to_utc(
    ts: pl.Series | pl.Expr,
    zone: str,
    *,
    ambiguous: Ambiguous = "raise",
    file: str | None = None,
    first_row: int = 1,
) -> pl.Series | pl.Expr:
    """Datetimes as `Datetime(us, UTC)`: naive values are local time in `zone`, aware ones are converted.

    For a Series, a local time inside a DST gap (or inside an overlap when `ambiguous="raise"`) raises
    `DataSourceError` naming `file`, the row (`first_row` is the number of the first value) and the value.
    For an Expr the same rules hold but Polars raises (without the row), so prefer Series at the edges.
    """
    check_zone(zone)
    if isinstance(ts, pl.Expr):
        return (
            ts.dt.replace_time_zone(zone, ambiguous=ambiguous, non_existent="raise")
            .dt.convert_time_zone("UTC")
            .dt.cast_time_unit("us")
        )
    dtype = ts.dtype
    if not isinstance(dtype, pl.Datetime):
        raise DataSourceError(f"timestamps must be datetimes, found {dtype}", file=file)
    if dtype.time_zone is not None:
        return ts.dt.convert_time_zone("UTC").dt.cast_time_unit("us")
    local = ts.dt.replace_time_zone(
        zone, ambiguous="null" if ambiguous == "raise" else ambiguous, non_existent="null"
    )
    bad = local.is_null() & ts.is_not_null()
    if bad.any():
        i = int(bad.arg_true()[0])
        value = ts[i]
        gap = ts.slice(i, 1).dt.replace_time_zone(zone, ambiguous="earliest", non_existent="null")
        why = (
            "does not exist (clocks jump forward over it)"
            if gap.is_null().all()
            else "is ambiguous (clocks fall back over it); choose ambiguous='earliest' or 'latest'"
        )
        raise DataSourceError(
            f"local time {value} in {zone} {why}; {int(bad.sum())} such value(s)",
            file=file,
            row=i + first_row,
        )
    return local.dt.convert_time_zone("UTC").dt.cast_time_unit("us")


def parse_timestamps(
    values: pl.Series,
    zone: str | None,
    *,
    file: str,
    ambiguous: Ambiguous = "raise",
    first_row: int = 1,
) -> pl.Series:
    """Parse timestamps (ISO 8601 strings, dates or datetimes) into `Datetime(us, UTC)` instants.

    Strings may mix forms row by row: `2024-01-02` (session date → 00:00 UTC), `2024-01-02 09:30[:00[.123]]`
    (naive: local time in `zone`), and the same with `T` and an offset `Z`/`±HH:MM`/`±HHMM` (an instant).
    Raises `DataSourceError(file=…, row=…)` for a missing or unparsable value, a naive value with no `zone`,
    or a naive local time that does not exist or is ambiguous in `zone`. `first_row` numbers values[0].
    """
    if zone is not None:
        check_zone(zone)
    name = values.name
    dtype = values.dtype
    if isinstance(dtype, pl.Datetime):
        _check_no_nulls(values, file, first_row)
        if dtype.time_zone is None:
            _require_zone(zone, values.cast(pl.String), values.is_not_null(), file, first_row)
        return to_utc(
            values, zone or "UTC", ambiguous=ambiguous, file=file, first_row=first_row
        ).alias(name)
    if dtype == pl.Date:
        _check_no_nulls(values, file, first_row)
        return values.cast(pl.Datetime("us")).dt.replace_time_zone("UTC").alias(name)
    if dtype not in (pl.String, pl.Categorical):
        raise DataSourceError(
            f"timestamp column {name!r} has type {dtype}; expected ISO 8601 text, dates or datetimes",
            file=file,
        )
    text = values.cast(pl.String).str.strip_chars()
    _check_no_nulls(text.replace("", None), file, first_row)
    is_date = text.str.contains(_RE_DATE)
    is_naive = text.str.contains(_RE_NAIVE)
    is_aware = text.str.contains(_RE_AWARE)

    dates = (
        text.str.to_date("%Y-%m-%d", strict=False)
        .cast(pl.Datetime("us"))
        .dt.replace_time_zone("UTC")
    )
    naive = _canonical(text, with_offset=False).str.to_datetime(
        _CANON_FMT, time_unit="us", strict=False
    )
    aware = _canonical(text, with_offset=True).str.to_datetime(
        _CANON_FMT + "%z", time_unit="us", time_zone="UTC", strict=False
    )
    parsed_ok = (is_date & dates.is_not_null()) | (is_naive & naive.is_not_null())
    parsed_ok = parsed_ok | (is_aware & aware.is_not_null())
    if not parsed_ok.all():
        i = int((~parsed_ok).arg_true()[0])
        raise DataSourceError(
            f"cannot parse timestamp {text[i]!r} in column {name!r}: expected ISO 8601 such as "
            "2024-01-02, 2024-01-02 09:30:00 or 2024-01-02T09:30:00-05:00; "
            f"{int((~parsed_ok).sum())} such value(s)",
            file=file,
            row=i + first_row,
        )
    if is_naive.any():
        _require_zone(zone, text, is_naive, file, first_row)
        masked = naive.zip_with(is_naive, pl.Series([None] * len(naive), dtype=naive.dtype))
        naive_utc = to_utc(
            masked, zone or "UTC", ambiguous=ambiguous, file=file, first_row=first_row
        )
    else:
        naive_utc = pl.Series(name, [None] * len(text), dtype=UTC_TS)
    out = (
        pl.DataFrame({"d": dates, "n": naive_utc, "a": aware, "kd": is_date, "kn": is_naive})
        .select(
            pl.when("kd")
            .then(pl.col("d"))
            .when("kn")
            .then(pl.col("n"))
            .otherwise(pl.col("a"))
            .cast(UTC_TS)
        )
        .to_series()
    )
    return out.alias(name)


def _canonical(text: pl.Series, *, with_offset: bool) -> pl.Series:
    """Rewrite the ISO forms we accept to YYYY-MM-DDTHH:MM:SS[.fff][±HH:MM] (non-matching rows pass unchanged)."""
    if not with_offset:
        return text.str.replace(_RE_NAIVE, "${1}T${2}${3}${4}").str.replace(
            r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})(\.\d+)?$", "${1}:00${2}"
        )
    out = text.str.replace(_RE_AWARE, "${1}T${2}${3}${4}${5}")
    out = out.str.replace(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})([.+\-zZ].*)?$", "${1}:00${2}")
    out = out.str.replace(r"[zZ]$", "+00:00")
    out = out.str.replace(r"([+-]\d{2})(\d{2})$", "${1}:${2}")
    return out.str.replace(r"([+-]\d{2})$", "${1}:00")


def _check_no_nulls(values: pl.Series, file: str, first_row: int) -> None:
    if values.null_count():
        i = int(values.is_null().arg_true()[0])
        raise DataSourceError(
            f"missing timestamp in column {values.name!r}; {values.null_count()} such value(s)",
            file=file,
            row=i + first_row,
        )


def _require_zone(
    zone: str | None, text: pl.Series, naive_mask: pl.Series, file: str, first_row: int
) -> None:
    if zone is None and naive_mask.any():
        i = int(naive_mask.arg_true()[0])
        raise DataSourceError(
            f"timestamp {text[i]!r} has no offset and no zone is declared for this source: set "
            "data.source_tz / data.asset_class_tz in the config or pass --tz (naive times are never "
            "assumed to be UTC)",
            file=file,
            row=i + first_row,
        )
