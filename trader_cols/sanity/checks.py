"""DataSanity's checks as lazy Polars expressions over one (symbol, ts)-sorted frame: flags, then findings.

Every expression runs over the whole long frame at once; a symbol boundary is a column (`_first`/`_last`),
never a Python loop. Values that look back or ahead (`shift`) are masked at boundaries, and rolling windows
that touch a boundary are null because the first bar of every symbol has a null return.
"""

from __future__ import annotations

import math
from datetime import datetime

import polars as pl

from trader_cols.config import SanityProfile
from trader_cols.sanity.codes import ERROR, WARN, check
from trader_cols.schema import FINDINGS, PRICE_COLUMNS

# Interval → (kind, minutes per bar for intraday).
INTRADAY_MINUTES = {"1m": 1, "2m": 2, "5m": 5, "15m": 15, "30m": 30, "60m": 60, "90m": 90, "1h": 60}
SESSION_INTERVALS = ("1d", "1wk", "1mo")
US_ZONE = "America/New_York"
US_CLOSE_HOUR = 16  # an equity/ETF daily bar is complete at 16:00 New York time on its date

IDX = "_idx"


def _missing(c: str) -> pl.Expr:
    return pl.col(c).is_null() | pl.col(c).is_nan().fill_null(False)


def _num(e: pl.Expr) -> pl.Expr:
    """A float as short, stable text for messages."""
    return e.round_sig_figs(6).cast(pl.String).fill_null("null")


def fmt(template: str, *args: pl.Expr) -> pl.Expr:
    """`template` with each `{}` replaced by the next expression as text (null shows as "null").

    NOTE: built on concat_str because pl.format panics on multi-chunk columns in Polars 2.1.
    """
    parts = template.split("{}")
    if len(parts) != len(args) + 1:
        raise ValueError(f"template {template!r} needs {len(parts) - 1} values, got {len(args)}")
    exprs: list[pl.Expr] = [pl.lit(parts[0])]
    for arg, text in zip(args, parts[1:], strict=True):
        exprs += [arg.cast(pl.String).fill_null("null"), pl.lit(text)]
    return pl.concat_str(exprs)


def ts_text(e: pl.Expr) -> pl.Expr:
    """A UTC timestamp column as message text (`2024-01-02 00:00:00 UTC`)."""
    return e.dt.strftime("%Y-%m-%d %H:%M:%S UTC").fill_null("null")


def _when(t: datetime) -> str:
    """A UTC datetime as Polars prints one in messages."""
    return f"{t:%Y-%m-%d %H:%M:%S} UTC"


def _prev(c: str | pl.Expr) -> pl.Expr:
    e = pl.col(c) if isinstance(c, str) else c
    return pl.when(pl.col("_first")).then(None).otherwise(e.shift(1))


def _next(c: str | pl.Expr) -> pl.Expr:
    e = pl.col(c) if isinstance(c, str) else c
    return pl.when(pl.col("_last")).then(None).otherwise(e.shift(-1))


def layout(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Add the row index and the symbol boundaries (`_first`, `_last` bar of each symbol)."""
    sid = pl.col("symbol").rle_id()
    return lf.with_columns(
        pl.int_range(pl.len(), dtype=pl.Int64).alias(IDX),
        (sid != sid.shift(1)).fill_null(True).alias("_first"),
        (sid != sid.shift(-1)).fill_null(True).alias("_last"),
    )


def runs(flags: pl.LazyFrame, flag: str, starts: pl.Expr) -> pl.LazyFrame:
    """Runs of consecutive bars of one symbol where `flag` holds: symbol, first and last ts, length.

    Only the (usually few) flagged bars are read; a run starts where `starts` holds or the previous flagged
    bar is not the previous bar of the same symbol.
    """
    rows = flags.filter(flag).select("symbol", "ts", IDX, "_first", starts.alias("_starts"))
    new = (
        pl.col("_starts")
        | pl.col("_first")
        | (pl.col(IDX) != pl.col(IDX).shift(1) + 1).fill_null(True)
    )
    return (
        rows.with_columns(new.cum_sum().alias("_run"))
        .group_by("_run")
        .agg(
            pl.col("symbol").first(),
            pl.col("ts").first().alias("_from"),
            pl.col("ts").last().alias("_to"),
            pl.len().alias("_len"),
        )
    )


def flag_frame(
    lf: pl.LazyFrame, p: SanityProfile, *, interval: str, as_of: datetime
) -> pl.LazyFrame:
    """Phase 1, every bar: the cheap per-bar flags, log returns, trailing sigma, run flags, and `_cand`,
    a necessary condition for a jump or gap finding that `jump_frame` then examines exactly.

    Needs `layout` columns and `_crypto`.
    """
    finite = {c: pl.col(c).is_finite().fill_null(False) for c in PRICE_COLUMNS}
    any_missing = pl.any_horizontal([_missing(c) for c in PRICE_COLUMNS])
    range_ok = finite["low"] & finite["high"] & (pl.col("low") <= pl.col("high"))
    lr = _log_ratio(pl.col("close"), _prev("close"))
    wild = (
        (pl.col("_lr").abs() > p.sigma_k * pl.col("_sigma")) & (pl.col("_sigma") > 0)
    ).fill_null(False)
    # Necessary conditions, exact checks in jump_frame. For valid bars (low <= open, close <= high, all
    # positive), any price moving by the unit factor moves high over the previous low (or low under the
    # previous high) by that factor; invalid bars and their successors are candidates anyway. A split-like or
    # too-large close move has |log return| of at least `lr_floor`; a calendar gap of more than M sessions
    # needs more than M days between the two time stamps.
    f = p.unit_error_factor
    unit_cand = (
        (pl.col("high") >= f * _prev("low")) | (pl.col("low") * f <= _prev("high"))
    ).fill_null(False)
    lr_floor = min(
        math.log(min(p.split_ratios)) - math.log1p(p.split_tolerance),
        math.log1p(p.max_abs_return),
        -math.log1p(-p.max_abs_return) if p.max_abs_return < 1 else math.inf,
    )
    epoch = pl.col("ts").dt.epoch("us")
    if interval in SESSION_INTERVALS:
        gap_cand = ((epoch - _prev(epoch)) > p.max_gap_bars * 86_400_000_000).fill_null(False)
    elif interval in INTRADAY_MINUTES:
        step_us = INTRADAY_MINUTES[interval] * 60_000_000
        gap_cand = ((epoch - _prev(epoch)) > (p.max_gap_bars + 1) * step_us).fill_null(False)
    else:
        gap_cand = pl.lit(False)
    flags = lf.with_columns(
        lr.alias("_lr"),
        # time
        (pl.col("ts") > as_of).alias("f_ts_future"),
        _aligned(interval).alias("f_ts_not_session_aligned"),
        (pl.lit(interval == "1d") & ~pl.col("_crypto") & (pl.col("ts").dt.weekday() >= 6)).alias(
            "f_ts_off_calendar"
        ),
        # prices and volume
        any_missing.alias("f_price_missing"),
        pl.any_horizontal([pl.col(c).is_infinite().fill_null(False) for c in PRICE_COLUMNS]).alias(
            "f_price_not_finite"
        ),
        pl.any_horizontal([(pl.col(c) <= 0).fill_null(False) for c in PRICE_COLUMNS]).alias(
            "f_price_nonpositive"
        ),
        (finite["low"] & finite["high"] & (pl.col("high") < pl.col("low"))).alias(
            "f_high_below_low"
        ),
        (range_ok & finite["open"] & ~pl.col("open").is_between("low", "high")).alias(
            "f_open_outside_range"
        ),
        (range_ok & finite["close"] & ~pl.col("close").is_between("low", "high")).alias(
            "f_close_outside_range"
        ),
        ((pl.col("volume") < 0) | pl.col("volume").is_infinite())
        .fill_null(False)
        .alias("f_volume_negative"),
        _missing("volume").alias("f_volume_missing"),
        (unit_cand | gap_cand).alias("_cand_ug"),
        # runs
        (
            finite["close"]
            & pl.all_horizontal([pl.col(c) == _prev(c) for c in PRICE_COLUMNS]).fill_null(False)
        ).alias("_same_as_prev"),
        (pl.col("volume") == 0).fill_null(False).alias("_zero_volume"),
    )
    invalid = pl.any_horizontal(
        [
            "f_price_missing",
            "f_price_not_finite",
            "f_price_nonpositive",
            "f_high_below_low",
            "f_open_outside_range",
            "f_close_outside_range",
        ]
    )
    flags = flags.with_columns(
        invalid.alias("_invalid"),
        pl.col("_lr").rolling_std(p.sigma_window_bars).shift(1).alias("_sigma"),
        # a stale run is the first bar plus the bars equal to it
        (pl.col("_same_as_prev") | _next("_same_as_prev").fill_null(False)).alias("_in_stale"),
    )
    return flags.with_columns(
        (
            pl.col("_cand_ug")
            | pl.col("_invalid")
            | _prev("_invalid").fill_null(False)
            | wild
            | (pl.col("_lr").abs() >= lr_floor).fill_null(False)
        ).alias("_cand"),
    ).drop("_cand_ug", "_invalid")


def jump_frame(flags: pl.DataFrame, p: SanityProfile, *, interval: str) -> pl.DataFrame:
    """Phase 2, candidate bars only: exact unit_error, split_jump, return_outlier and calendar_gap flags.

    Each candidate is examined with its two previous bars and its next bar, gathered from `flags`; a bar
    whose neighbour was not gathered sees it as missing, which no candidate does.
    """
    cand = flags.select(pl.col(IDX).filter(pl.col("_cand"))).to_series()
    n = flags.height
    near = pl.concat([cand - 2, cand - 1, cand, cand + 1]).unique().sort() if cand.len() else cand
    near = near.filter((near >= 0) & (near < n))
    cols = ["symbol", "ts", IDX, "_first", "_last", "_crypto", "_lr", "_sigma", "_cand"]
    # gather Series by Series: a DataFrame.select of 2.5 M rows copies, a gather of a few rows does not
    gathered = [flags.get_column(c).gather(near) for c in (*cols, *PRICE_COLUMNS, "adj_close")]
    small = pl.DataFrame(gathered).with_columns(
        (pl.col("_first") | (pl.col(IDX) != pl.col(IDX).shift(1) + 1)).fill_null(True),
        (pl.col("_last") | (pl.col(IDX) != pl.col(IDX).shift(-1) - 1)).fill_null(True),
    )
    log_f = math.log(p.unit_error_factor)
    ratios = sorted({*p.split_ratios, *(1.0 / r for r in p.split_ratios)})
    tol = math.log1p(p.split_tolerance)
    unit_cols = ("close", "open", "high", "low")  # the ratio reported is the first flagged one's

    def unit_jump(c: str) -> pl.Expr:
        jump = _log_ratio(pl.col(c), _prev(c)).abs()
        back = _log_ratio(_next(c), _prev(c)).abs()
        return ((jump >= log_f) & (back <= log_f / 2)).fill_null(False)

    lr = pl.col("_lr")
    gap = _gap_sessions(interval)
    out = (
        small.with_columns(
            _prev("close").alias("_prev_close"),
            _next("close").alias("_next_close"),
            _prev("adj_close").alias("_prev_adj"),
            _prev("ts").alias("_prev_ts"),
            *[unit_jump(c).alias(f"_unit_{c}") for c in unit_cols],
        )
        .with_columns(
            gap.alias("_gap"),
            (gap > p.max_gap_bars).fill_null(False).alias("f_calendar_gap"),
            pl.any_horizontal([pl.col(f"_unit_{c}") for c in unit_cols]).alias("f_unit_error"),
            pl.coalesce(
                [pl.when(f"_unit_{c}").then(pl.col(c) / _prev(c)) for c in unit_cols]
            ).alias("_unit_ratio"),
            pl.concat_str(
                [pl.when(f"_unit_{c}").then(pl.lit(c)) for c in unit_cols],
                separator=", ",
                ignore_nulls=True,
            ).alias("_unit_cols"),
            pl.any_horizontal([((lr - math.log(r)).abs() <= tol) for r in ratios])
            .fill_null(False)
            .alias("_split_like"),
            (_log_ratio(pl.col("_next_close"), pl.col("_prev_close")).abs() <= tol)
            .fill_null(False)
            .alias("_reverts"),
            (lr.exp() - 1).alias("_ret"),
        )
        .with_columns(
            (pl.col("_split_like") & ~pl.col("_reverts") & ~pl.col("f_unit_error")).alias(
                "f_split_jump"
            ),
        )
    )
    big = (pl.col("_ret").abs() > p.max_abs_return).fill_null(False)
    wild = ((lr.abs() > p.sigma_k * pl.col("_sigma")) & (pl.col("_sigma") > 0)).fill_null(False)
    explained = (
        pl.col("f_split_jump") | pl.col("f_unit_error") | _prev("f_unit_error").fill_null(False)
    )
    return out.with_columns(((big | wild) & ~explained).alias("f_return_outlier")).filter("_cand")


def _log_ratio(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    """log(a / b) where both are finite and positive, else null (NaN would compare as largest)."""
    ok = a.is_finite() & b.is_finite() & (a > 0) & (b > 0)
    return pl.when(ok).then((a / b).log())


def _aligned(interval: str) -> pl.Expr:
    if interval not in SESSION_INTERVALS:
        return pl.lit(False)
    return (pl.col("ts").dt.epoch("us") % 86_400_000_000) != 0


def _gap_sessions(interval: str) -> pl.Expr:
    """Expected sessions missing between a bar and the previous bar of its symbol (null on first bars)."""
    d, pd = pl.col("ts").dt.date(), pl.col("_prev_ts").dt.date()
    days = (d - pd).dt.total_days()
    if interval == "1d":
        business = pl.business_day_count(pd, d) - 1
        return pl.when(pl.col("_crypto")).then(days - 1).otherwise(business)
    if interval == "1wk":
        return days // 7 - 1
    if interval == "1mo":
        months = pl.col("ts").dt.year() * 12 + pl.col("ts").dt.month()
        prev_months = pl.col("_prev_ts").dt.year() * 12 + pl.col("_prev_ts").dt.month()
        return months - prev_months - 1
    minutes = INTRADAY_MINUTES.get(interval)
    if minutes is None:
        return pl.lit(None, dtype=pl.Int64)
    steps = (pl.col("ts") - pl.col("_prev_ts")).dt.total_minutes() // minutes - 1
    # equities trade in sessions: only gaps within one UTC day count
    return pl.when(pl.col("_crypto") | (d == pd)).then(steps).otherwise(0)


def bar_end(ts: pl.Expr, crypto: pl.Expr, interval: str) -> pl.Expr:
    """When a bar's period ends: open time + interval; equity/ETF daily bars at 16:00 New York time."""
    if interval in INTRADAY_MINUTES:
        return ts.dt.offset_by(f"{INTRADAY_MINUTES[interval]}m")
    if interval == "1d":
        close_ny = (
            ts.dt.replace_time_zone(None)
            .dt.offset_by(f"{US_CLOSE_HOUR}h")
            .dt.replace_time_zone(US_ZONE, ambiguous="earliest", non_existent="null")
            .dt.convert_time_zone("UTC")
        )
        return pl.when(crypto).then(ts.dt.offset_by("1d")).otherwise(close_ny)
    return ts.dt.offset_by({"1wk": "1w", "1mo": "1mo"}.get(interval, "1d"))


# ----------------------------------------------------------------------------- findings


def finding(
    code: str,
    message: pl.Expr,
    observed: pl.Expr | None = None,
    *,
    severity: pl.Expr | None = None,
    ts: pl.Expr | None = None,
    symbol: pl.Expr | None = None,
) -> list[pl.Expr]:
    """The select list of one finding row (FINDINGS schema) for the code."""
    c = check(code)
    return [
        pl.lit(c.order, dtype=pl.Int32).alias("check_order"),
        pl.lit(code).alias("code"),
        (severity if severity is not None else pl.lit(c.severity)).alias("severity"),
        (symbol if symbol is not None else pl.col("symbol")).cast(pl.String).alias("symbol"),
        (ts if ts is not None else pl.col("ts")).cast(FINDINGS["ts"]).alias("ts"),
        message.cast(pl.String).alias("message"),
        (observed if observed is not None else pl.lit(None)).cast(pl.Float64).alias("observed"),
    ]


def _repaired(allowed: bool, repairable: pl.Expr | bool = True) -> pl.Expr:
    if not allowed:
        return pl.lit(ERROR)
    return pl.when(repairable).then(pl.lit(WARN)).otherwise(pl.lit(ERROR))


def row_findings(
    flags: pl.LazyFrame,
    jumps: pl.LazyFrame,
    p: SanityProfile,
    *,
    interval: str,
    as_of: datetime,
) -> list[pl.LazyFrame]:
    """One lazy frame of findings per per-bar check (in check order); `jumps` is `jump_frame`'s result."""
    price_list = [pl.when(_missing(c)).then(pl.lit(c)) for c in PRICE_COLUMNS]
    out = [
        flags.filter("f_ts_future").select(
            finding(
                "ts_future",
                fmt(f"bar at {{}} is after the as-of time {_when(as_of)}", ts_text(pl.col("ts"))),
                (pl.col("ts") - pl.lit(as_of)).dt.total_seconds(),
            )
        ),
        flags.filter("f_ts_not_session_aligned").select(
            finding(
                "ts_not_session_aligned",
                fmt(
                    f"{interval} bar at {{}} is not at 00:00 UTC (session dates are labelled at "
                    "midnight UTC)",
                    ts_text(pl.col("ts")),
                ),
                (pl.col("ts").dt.epoch("us") % 86_400_000_000) / 3.6e9,
            )
        ),
        flags.filter("f_ts_off_calendar").select(
            finding(
                "ts_off_calendar",
                fmt("daily bar on a {} for an equity/ETF", pl.col("ts").dt.strftime("%A")),
                pl.col("ts").dt.weekday(),
            )
        ),
        flags.filter("f_price_missing").select(
            finding(
                "price_missing",
                fmt("missing {}", pl.concat_str(price_list, separator=", ", ignore_nulls=True)),
                pl.sum_horizontal([_missing(c).cast(pl.Int32) for c in PRICE_COLUMNS]),
            )
        ),
        flags.filter("f_price_not_finite").select(
            finding(
                "price_not_finite",
                fmt(
                    "infinite {}",
                    pl.concat_str(
                        [pl.when(pl.col(c).is_infinite()).then(pl.lit(c)) for c in PRICE_COLUMNS],
                        separator=", ",
                        ignore_nulls=True,
                    ),
                ),
                pl.sum_horizontal(
                    [pl.col(c).is_infinite().fill_null(False).cast(pl.Int32) for c in PRICE_COLUMNS]
                ),
            )
        ),
        flags.filter("f_price_nonpositive").select(
            finding(
                "price_nonpositive",
                fmt(
                    "non-positive price: open {} high {} low {} close {}",
                    *[_num(pl.col(c)) for c in PRICE_COLUMNS],
                ),
                pl.min_horizontal([pl.col(c) for c in PRICE_COLUMNS]),
            )
        ),
        flags.filter("f_high_below_low").select(
            finding(
                "high_below_low",
                fmt("high {} < low {}", _num(pl.col("high")), _num(pl.col("low"))),
                pl.col("high") - pl.col("low"),
            )
        ),
    ]
    for col in ("open", "close"):
        clipped = pl.col(col).clip(pl.col("low"), pl.col("high"))
        note = fmt("; clipped to {}", _num(clipped)) if p.allow_clip_prices else pl.lit("")
        out.append(
            flags.filter(f"f_{col}_outside_range").select(
                finding(
                    f"{col}_outside_range",
                    fmt(
                        f"{col} {{}} outside [low {{}}, high {{}}]{{}}",
                        _num(pl.col(col)),
                        _num(pl.col("low")),
                        _num(pl.col("high")),
                        note,
                    ),
                    pl.col(col),
                    severity=_repaired(p.allow_clip_prices),
                )
            )
        )
    out += [
        flags.filter("f_volume_negative").select(
            finding("volume_negative", fmt("volume {}", _num(pl.col("volume"))), pl.col("volume"))
        ),
        flags.filter("f_volume_missing").select(
            finding("volume_missing", pl.lit("volume is null or NaN"), pl.lit(None))
        ),
        jumps.filter("f_calendar_gap").select(
            finding(
                "calendar_gap",
                fmt(
                    f"{{}} expected sessions missing after {{}} (limit {p.max_gap_bars})",
                    pl.col("_gap"),
                    ts_text(pl.col("_prev_ts")),
                ),
                pl.col("_gap"),
            )
        ),
        jumps.filter("f_unit_error").select(
            finding(
                "unit_error",
                fmt(
                    "{} x{} against the previous bar and back the next (close {} -> {} -> {})",
                    pl.col("_unit_cols"),
                    _num(pl.col("_unit_ratio")),
                    _num(pl.col("_prev_close")),
                    _num(pl.col("close")),
                    _num(pl.col("_next_close")),
                ),
                pl.col("_unit_ratio"),
            )
        ),
        jumps.filter("f_split_jump").select(
            finding(
                "split_jump",
                fmt(
                    "close {} -> {} (x{}) looks like a split{}",
                    _num(pl.col("_prev_close")),
                    _num(pl.col("close")),
                    _num(pl.col("close") / pl.col("_prev_close")),
                    pl.when(pl.col("adj_close").is_not_null() & pl.col("_prev_adj").is_not_null())
                    .then(fmt("; adj_close x{}", _num(pl.col("adj_close") / pl.col("_prev_adj"))))
                    .otherwise(pl.lit("; unadjusted")),
                ),
                pl.col("close") / pl.col("_prev_close"),
            )
        ),
        jumps.filter("f_return_outlier").select(
            finding(
                "return_outlier",
                fmt(
                    f"close return {{}} (limit {p.max_abs_return}; {{}} x trailing sigma {{}})",
                    _num(pl.col("_ret")),
                    _num(pl.col("_lr").abs() / pl.col("_sigma")),
                    _num(pl.col("_sigma")),
                ),
                pl.col("_ret"),
            )
        ),
        runs(flags, "_in_stale", ~pl.col("_same_as_prev"))
        .filter(pl.col("_len") >= p.stale_run_bars)
        .select(
            finding(
                "stale_run",
                fmt(
                    "{} bars in a row with identical OHLC, until {}",
                    pl.col("_len"),
                    ts_text(pl.col("_to")),
                ),
                pl.col("_len"),
                ts=pl.col("_from"),
            )
        ),
        runs(flags, "_zero_volume", pl.lit(False))
        .filter(pl.col("_len") >= p.zero_volume_run_bars)
        .select(
            finding(
                "zero_volume_run",
                fmt(
                    "{} bars in a row with volume 0, until {}",
                    pl.col("_len"),
                    ts_text(pl.col("_to")),
                ),
                pl.col("_len"),
                ts=pl.col("_from"),
            )
        ),
    ]
    return out


def incomplete_findings(
    flags: pl.LazyFrame, p: SanityProfile, *, interval: str, as_of: datetime
) -> pl.LazyFrame:
    """Bars not in the future whose period has not ended at `as_of` (only recent bars are examined)."""
    end = bar_end(pl.col("ts"), pl.col("_crypto"), interval)
    recent = flags.filter(
        ~pl.col("f_ts_future") & (pl.col("ts") > pl.lit(as_of) - pl.duration(days=32))
    )
    return (
        recent.with_columns(end.alias("_end"))
        .filter(pl.col("_end") > as_of)
        .select(
            finding(
                "bar_incomplete",
                fmt(
                    f"{interval} bar ends at {{}}, after the as-of time {_when(as_of)}"
                    + ("; dropped" if p.allow_drop_incomplete_bars else ""),
                    ts_text(pl.col("_end")),
                ),
                (pl.col("_end") - pl.lit(as_of)).dt.total_seconds(),
                severity=_repaired(p.allow_drop_incomplete_bars),
            )
        )
    )


def symbol_findings(
    flags: pl.LazyFrame, p: SanityProfile, *, interval: str, as_of: datetime
) -> list[pl.LazyFrame]:
    """Per-symbol findings (ts is null): history length, NaN fraction and staleness against the as-of time."""
    per = flags.group_by("symbol").agg(
        pl.len().alias("_n"),
        pl.col("f_price_missing").sum().alias("_n_missing"),
        pl.col("ts").max().alias("_last_ts"),
        pl.col("_crypto").first().alias("_crypto"),
    )
    no_ts = pl.lit(None, dtype=FINDINGS["ts"])
    frac = pl.col("_n_missing") / pl.col("_n")
    out = [
        per.filter(frac > p.max_na_fraction).select(
            finding(
                "na_fraction",
                fmt(
                    f"{{}} of {{}} bars miss an OHLC value ({{}}; limit {p.max_na_fraction})",
                    pl.col("_n_missing"),
                    pl.col("_n"),
                    _num(frac),
                ),
                frac,
                ts=no_ts,
            )
        ),
        per.filter(pl.col("_n") < p.min_history_bars).select(
            finding(
                "history_short",
                fmt(f"{{}} bars (minimum {p.min_history_bars})", pl.col("_n")),
                pl.col("_n"),
                ts=no_ts,
            )
        ),
    ]
    if interval == "1d":
        last, now = pl.col("_last_ts").dt.date(), pl.lit(as_of).dt.date()
        behind = (
            pl.when(pl.col("_crypto"))
            .then((now - last).dt.total_days() - 1)
            .otherwise(pl.business_day_count(last, now) - 1)
        )
        out.append(
            per.with_columns(behind.alias("_behind"))
            .filter(pl.col("_behind") > p.max_gap_bars)
            .select(
                finding(
                    "data_stale",
                    fmt(
                        f"last bar {{}} is {{}} sessions before the as-of time {_when(as_of)}",
                        ts_text(pl.col("_last_ts")),
                        pl.col("_behind"),
                    ),
                    pl.col("_behind"),
                    ts=no_ts,
                )
            )
        )
    return out


def findings_from_rows(code: str, rows: pl.DataFrame) -> pl.DataFrame:
    """Findings of a SQL check from its offending rows (columns symbol, ts, message, observed)."""
    return rows.lazy().select(finding(code, pl.col("message"), pl.col("observed"))).collect()
