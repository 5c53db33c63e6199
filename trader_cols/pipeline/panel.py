"""The research panel of a run: stored bars plus every feature the strategies' grids need, regime labels, asset
classes, bar counts and realised volatility, as one long frame sorted by (symbol, ts), and the shared time index."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import polars as pl

from trader_cols.calendars import asset_classes, periods_per_year
from trader_cols.errors import DataSourceError
from trader_cols.features import FeatureSpec, compute_features
from trader_cols.regimes import label_regimes, regime_specs
from trader_cols.schema import UTC_TS
from trader_cols.sizing import realised_vol, scale_to_vol
from trader_cols.strategies import Strategy
from trader_cols.warehouse import Warehouse, query_frames

FEATURE_DTYPE = pl.Float32  # features are stored narrow; signals are computed from them in float64
BATCH_SYMBOLS = 32  # symbols whose features and regimes are computed together
BAR_COLUMNS = ("open", "high", "low", "close", "volume")
LABEL_COLUMNS = ("symbol", "asset_class", "regime")  # categorical in the panel's frame


@dataclass(frozen=True)
class Panel:
    """Everything a walkforward reads, computed once.

    `frame`: symbol, ts, bar columns, asset_class, bar_no (bars since the symbol's first stored bar), regime,
    regime_confidence, vol (annualised realised volatility for sizing) and feature columns; all rows from the
    first loaded bar (warm-up included). symbol, asset_class and regime are categoricals.
    `index`: the panel's time index (sorted distinct ts from `start` on): folds are positions in it.
    """

    frame: pl.DataFrame
    index: pl.Series
    symbols: tuple[str, ...]
    classes: dict[str, str]
    periods_per_year: dict[str, float]


def feature_specs(strategies: Sequence[Strategy], fast: bool, regimes_cfg) -> tuple[FeatureSpec, ...]:
    """Every feature spec any grid point of the strategies reads, plus the regime labeller's, deduplicated."""
    specs: dict[FeatureSpec, None] = {}
    for s in strategies:
        for params in s.grid(fast):
            specs.update(dict.fromkeys(s.features(s.resolve(params))))
        specs.update(dict.fromkeys(s.features(s.resolve())))
    specs.update(dict.fromkeys(regime_specs(regimes_cfg)))
    return tuple(specs)


def warmup_lead(warmup_bars: int) -> timedelta:
    """Calendar days that hold `warmup_bars` business-day bars (with room for holidays)."""
    return timedelta(days=int(warmup_bars * 7 / 5) + 10)


def load_panel(
    wh: Warehouse,
    symbols: Sequence[str],
    start: date,
    end: date,
    *,
    interval: str,
    strategies: Sequence[Strategy],
    fast: bool,
    warmup_bars: int,
    regimes_cfg,
    class_overrides: Mapping[str, str],
    risk,
) -> Panel:
    """Read the bars (with `warmup_bars` of history before `start` where stored) and build the panel."""
    first = datetime.combine(start, datetime.min.time(), UTC) - warmup_lead(warmup_bars)
    last = datetime.combine(end, datetime.min.time(), UTC) + timedelta(days=1) - timedelta(microseconds=1)
    names = sorted(set(symbols))
    # NOTE: read a batch of symbols at a time: the whole bars frame never sits next to the growing panel
    batches = (wh.scan_bars(names[i:i + BATCH_SYMBOLS], interval, first, last).select("symbol", "ts", *BAR_COLUMNS)
               .collect() for i in range(0, len(names), BATCH_SYMBOLS))
    panel = _assemble(batches, start, strategies=strategies, fast=fast, regimes_cfg=regimes_cfg,
                      class_overrides=class_overrides, risk=risk)
    missing = sorted(set(symbols) - set(panel.symbols))
    if missing:
        raise DataSourceError(
            f"no stored {interval} bars between {start} and {end} for {', '.join(missing)} "
            f"(run `tcols ingest --symbols {' '.join(missing)}` first)"
        )
    return panel


def build_panel(
    bars: pl.DataFrame,
    start: date | datetime,
    *,
    strategies: Sequence[Strategy],
    fast: bool,
    regimes_cfg,
    class_overrides: Mapping[str, str],
    risk,
) -> Panel:
    """The panel from a long bars frame (pure: no I/O). `risk` gives the volatility look-back for sizing.

    Symbols are processed `BATCH_SYMBOLS` at a time (every computation is per symbol), and only the feature
    columns some signal or the regime labeller reads are kept, as float32: memory stays near the final frame's."""
    same_symbol = pl.col("symbol") == pl.col("symbol").shift(1)
    if not bars.get_column("symbol").is_sorted() or bars.select(
        (same_symbol & (pl.col("ts") <= pl.col("ts").shift(1))).any()
    ).item():
        bars = bars.sort("symbol", "ts")
    counts = bars.group_by("symbol", maintain_order=True).len()["len"].to_list()
    offsets = [*itertools.accumulate(counts, initial=0)][::BATCH_SYMBOLS] + [bars.height]
    batches = (bars.slice(lo, hi - lo).select("symbol", "ts", *BAR_COLUMNS)
               for lo, hi in itertools.pairwise(offsets) if hi > lo)
    return _assemble(batches, start, strategies=strategies, fast=fast, regimes_cfg=regimes_cfg,
                     class_overrides=class_overrides, risk=risk)


def _assemble(batches: Iterable[pl.DataFrame], start: date | datetime, *, strategies: Sequence[Strategy], fast: bool,
              regimes_cfg, class_overrides: Mapping[str, str], risk) -> Panel:
    """The panel from bars sorted by (symbol, ts) and cut into batches of whole symbols, each processed alone."""
    specs = feature_specs(strategies, fast, regimes_cfg)
    keep = used_feature_columns(strategies, fast, regimes_cfg, specs)
    parts, classes = [], {}
    for chunk in batches:
        if not chunk.height:
            continue
        batch_classes = asset_classes(chunk, class_overrides)
        classes |= batch_classes
        ppy = {c: float(periods_per_year(c)) for c in set(batch_classes.values())}
        # compute_features keeps the (symbol, ts) order the chunk already has: columns are stacked, not joined
        feats = compute_features(chunk.lazy(), specs).select(*[pl.col(c).cast(FEATURE_DTYPE) for c in keep]).collect(engine="in-memory")
        frame = chunk.hstack(feats).with_columns(
            pl.col("symbol").replace_strict(batch_classes, return_dtype=pl.String).alias("asset_class"),
            pl.int_range(pl.len()).over("symbol").cast(pl.Int32).alias("bar_no"),
        ).with_columns(_vol_expr(risk.vol_lookback_bars, ppy))
        del chunk, feats
        # the labeller partitions by an integer symbol code (cheaper than strings) and returns rows in
        # (symbol, ts) order, i.e. the chunk's order
        coded = frame.with_columns(pl.col("symbol").rle_id().alias("symbol"))
        labels = label_regimes(coded, regimes_cfg, query_frames)
        # labels as categoricals (a string is a 16-byte view per row, a category 4 bytes); one chunk per column:
        # a filter over columns chunked differently would first copy the whole frame
        parts.append(frame.hstack(labels.select("regime", "regime_confidence")).with_columns(
            pl.col(*LABEL_COLUMNS).cast(pl.Categorical)).rechunk())
        del frame, coded, labels
    # NOTE: the parts are all that is kept; concatenating without rechunk copies nothing
    if not parts:
        return Panel(pl.DataFrame(), pl.Series("ts", [], UTC_TS), (), {}, {})
    frame = pl.concat(parts, rechunk=False)
    del parts
    symbols = tuple(frame["symbol"].unique(maintain_order=True).to_list())
    ppy_all = {c: float(periods_per_year(c)) for c in set(classes.values())}
    start_ts = _utc(start)
    ts = frame.get_column("ts")
    index = ts.filter(ts >= start_ts).unique().sort()  # (filtering the frame itself would copy every column)
    return Panel(frame=frame, index=index, symbols=symbols, classes=classes, periods_per_year=ppy_all)


def used_feature_columns(strategies: Sequence[Strategy], fast: bool, regimes_cfg, specs) -> list[str]:
    """The feature columns some grid point's signal or the regime labeller reads, in spec order."""
    names: set[str] = set()
    for s in strategies:
        for params in [*s.grid(fast), s.resolve()]:
            names |= set(s.signal_expr(params).meta.root_names())
    for spec in regime_specs(regimes_cfg):
        names.add(spec.columns[0])
    return [c for spec in specs for c in spec.columns if c in names]


def _vol_expr(lookback: int, ppy: Mapping[str, float]) -> pl.Expr:
    """Annualised realised volatility with each row's asset-class periods per year (causal, per symbol)."""
    classes = sorted(ppy)
    expr = realised_vol(pl.col("close"), lookback, ppy[classes[0]])
    for c in classes[1:]:
        expr = pl.when(pl.col("asset_class") == c).then(realised_vol(pl.col("close"), lookback, ppy[c])).otherwise(expr)
    return expr.alias("vol")


def sized_targets(signal: pl.Expr, risk) -> pl.Expr:
    """Volatility-targeted weights from a signal and the panel's `vol` column, capped at max_position_pct."""
    return scale_to_vol(signal, pl.col("vol"), vol_target=risk.vol_target, max_weight=risk.max_position_pct)


def window(frame: pl.DataFrame | pl.LazyFrame, index: pl.Series, lo: int, hi: int):
    """Rows of the panel whose ts is in index[lo:hi] (half-open positions); lazy in, lazy out."""
    t0, t1 = index[lo], index[hi - 1]
    return frame.filter(pl.col("ts").is_between(t0, t1))


def _utc(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.combine(value, datetime.min.time(), UTC)

