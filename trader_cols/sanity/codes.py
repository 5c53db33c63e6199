"""The catalogue of DataSanity checks: stable code, order, base severity and meaning (the table in docs/sanity.md)."""

from __future__ import annotations

from dataclasses import dataclass

ERROR = "error"
WARN = "warn"


@dataclass(frozen=True)
class Check:
    """One check. `order` fixes where its findings sort; `severity` is the base severity (a repaired finding
    is downgraded to warn); `repair` names the profile switch that lets DataSanity fix it, if any; `sql`
    names the SQL file of a check that runs over the stored warehouse instead of a frame."""

    order: int
    code: str
    severity: str
    meaning: str
    threshold: str = ""
    repair: str = ""
    sql: str = (
        ""  # dotted name of the SQL file that implements it (checks over the stored warehouse)
    )


CHECKS: tuple[Check, ...] = (
    # --- frame and schema (frame-level: symbol and ts are null)
    Check(
        10,
        "schema_missing_column",
        ERROR,
        "a required column (symbol, ts, open, high, low, close, volume) is absent",
    ),
    Check(
        11,
        "schema_dtype",
        ERROR,
        "a column has a type that cannot be cast to the canonical one (e.g. text prices)",
    ),
    Check(
        12,
        "ts_not_utc",
        ERROR,
        "ts is naive or in a zone other than UTC: sources must convert with sanity.timestamps",
    ),
    Check(
        13, "interval_mixed", ERROR, "the frame mixes intervals: validate one interval at a time"
    ),
    Check(
        14,
        "empty",
        ERROR,
        "the frame has no rows (a fetch that returned nothing is an error, not 'no trades')",
    ),
    # --- keys and time
    Check(20, "null_key", ERROR, "symbol or ts is null; such rows can never land"),
    Check(
        21,
        "row_duplicate",
        ERROR,
        "exact duplicate rows (every column equal)",
        "",
        "allow_drop_duplicates",
    ),
    Check(
        22,
        "ts_duplicate",
        ERROR,
        "one (symbol, ts) with different values; repair keeps the last row received",
        "",
        "allow_resolve_duplicate_ts",
    ),
    Check(
        23,
        "ts_not_monotonic",
        WARN,
        "rows of a symbol are out of time order in a stored file (only when input order is meaningful)",
    ),
    Check(
        24,
        "ts_future",
        ERROR,
        "bar stamped after the as-of time (the ingest time): data from the future",
    ),
    Check(
        25,
        "bar_incomplete",
        ERROR,
        "the bar's period has not ended at the as-of time (partial bar, e.g. today's daily bar)",
        "",
        "allow_drop_incomplete_bars",
    ),
    Check(
        26,
        "ts_not_session_aligned",
        ERROR,
        "a 1d/1wk/1mo bar not labelled 00:00 UTC (naive times converted where a date was meant)",
    ),
    Check(27, "ts_off_calendar", WARN, "an equity/ETF daily bar on a Saturday or Sunday"),
    Check(
        28,
        "bar_after_ingest",
        ERROR,
        "a stored bar is stamped after the start of the ingest that wrote it (stored data only)",
        sql="checks.bar_after_ingest",
    ),
    # --- prices and volume (per bar)
    Check(
        30,
        "price_missing",
        WARN,
        "open, high, low or close is null or NaN",
        "",
        "ffill_max_bars / allow_drop_missing_close",
    ),
    Check(31, "price_not_finite", ERROR, "open, high, low or close is +/-inf"),
    Check(32, "price_nonpositive", ERROR, "open, high, low or close is zero or negative"),
    Check(33, "high_below_low", ERROR, "high < low"),
    Check(34, "open_outside_range", ERROR, "open outside [low, high]", "", "allow_clip_prices"),
    Check(35, "close_outside_range", ERROR, "close outside [low, high]", "", "allow_clip_prices"),
    Check(36, "volume_negative", ERROR, "volume < 0 or +/-inf"),
    Check(37, "volume_missing", WARN, "volume is null or NaN"),
    # --- per symbol
    Check(
        40,
        "na_fraction",
        ERROR,
        "share of bars with a missing OHLC value above the limit",
        "max_na_fraction",
    ),
    Check(41, "history_short", WARN, "fewer bars than the minimum history", "min_history_bars"),
    Check(
        42,
        "calendar_gap",
        ERROR,
        "more expected sessions missing in a row than allowed (business days for equities/ETFs, every day for crypto; intraday equities: within one UTC day)",
        "max_gap_bars",
    ),
    Check(
        43,
        "data_stale",
        WARN,
        "the last bar is more expected sessions before the as-of time than allowed",
        "max_gap_bars",
    ),
    # --- outliers and runs
    Check(
        50,
        "unit_error",
        ERROR,
        "a price jumps by the unit factor (x50-x100, GBp/GBP) and reverts the next bar",
        "unit_error_factor",
    ),
    Check(
        51,
        "split_jump",
        WARN,
        "close-to-close ratio within tolerance of a split ratio (either direction) that does not revert",
        "split_ratios, split_tolerance",
    ),
    Check(
        52,
        "return_outlier",
        WARN,
        "one-bar abs(close return) above the limit or above k x trailing sigma of log returns",
        "max_abs_return, sigma_k, sigma_window_bars",
    ),
    Check(
        53,
        "stale_run",
        WARN,
        "identical open, high, low and close for N bars in a row (reported at the run's first bar)",
        "stale_run_bars",
    ),
    Check(
        54,
        "zero_volume_run",
        WARN,
        "volume exactly 0 for N bars in a row (reported at the run's first bar)",
        "zero_volume_run_bars",
    ),
)

BY_CODE: dict[str, Check] = {c.code: c for c in CHECKS}
assert len(BY_CODE) == len(CHECKS) and len({c.order for c in CHECKS}) == len(CHECKS)


def check(code: str) -> Check:
    """The catalogue entry of a code."""
    return BY_CODE[code]
