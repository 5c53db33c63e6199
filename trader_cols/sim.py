"""The only bridge between Polars frames and the simulation kernels: long frames in, dense arrays through, frames out.

Bars and targets arrive long (one row per symbol and ts); the kernels take C-contiguous float64 `[T, N]` arrays
(or `[N, T]` for the per-symbol kernel). When the long frame is dense and sorted so that the wanted layout is its
row order — by (ts, symbol) for `[T, N]`, by (symbol, ts) for `[N, T]` — each price column is handed to the
kernel as a reshaped view of its Arrow buffer, without a copy; otherwise the rows are scattered into a NaN grid.
Symbols are ordered by name, timestamps ascending. A target is the weight decided at its ts's close (see
trader_cols/kernels/simulate.py for every rule the kernel applies).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import polars as pl

from trader_cols.errors import ConfigError, DataSanityError
from trader_cols.kernels.records import (
    FILL_DTYPE,
    N_STATS,
    REASON_NAMES,
    STAT_NAMES,
    STAT_TRADES,
    STAT_WINS,
    SimParams,
    coerce_params,
)
from trader_cols.kernels.roundtrips import round_trip_stats_nb
from trader_cols.kernels.simulate import simulate_batch_nb, simulate_independent_nb, simulate_nb
from trader_cols.schema import UTC_TS

if TYPE_CHECKING:
    from trader_cols.config import EngineConfig, RiskConfig

PRICES = ("open", "high", "low", "close")
TARGET = "target_weight"

EQUITY_SCHEMA: dict[str, pl.DataType] = {
    "ts": UTC_TS,
    "equity": pl.Float64(),
    "cash": pl.Float64(),
    "gross_exposure": pl.Float64(),
}
POSITIONS_SCHEMA: dict[str, pl.DataType] = {
    "symbol": pl.String(),
    "ts": UTC_TS,
    "qty": pl.Float64(),
    "weight": pl.Float64(),
}
FILLS_SCHEMA: dict[str, pl.DataType] = {
    "ts": UTC_TS,
    "symbol": pl.String(),
    "side": pl.String(),
    "qty": pl.Float64(),
    "price": pl.Float64(),
    "fees": pl.Float64(),
    "reason": pl.String(),
    "optimistic": pl.Boolean(),
}


def sim_params(risk: RiskConfig | Any, engine: EngineConfig | Any) -> SimParams:
    """Kernel parameters from a risk config and an engine config (any objects with those attribute names).

    `stop_loss_pct=None` turns the stop off; `fractional_shares=False` trades whole shares; `fill_on` is
    'next_open' (default timing) or 'close' (optimistic same-bar fills).
    """
    fill_on = getattr(engine, "fill_on", "next_open")
    if fill_on not in ("next_open", "close"):
        raise ConfigError(
            f"fill_on must be 'next_open' or 'close', got {fill_on!r}", key="engine.fill_on"
        )
    stop = risk.stop_loss_pct
    return coerce_params(
        SimParams(
            initial_capital=engine.initial_capital,
            commission_bps=engine.commission_bps,
            commission_per_share=engine.commission_per_share,
            commission_min=engine.commission_min,
            slippage_bps=engine.slippage_bps,
            lot_size=0.0 if engine.fractional_shares else 1.0,
            fill_on_close=fill_on == "close",
            allow_short=risk.allow_short,
            max_position_pct=risk.max_position_pct,
            max_gross_leverage=risk.max_gross_leverage,
            daily_loss_cut_pct=risk.daily_loss_cut_pct,
            max_drawdown_pct=risk.max_drawdown_pct,
            stop_loss_pct=math.nan if stop is None else stop,
            cooloff_bars=risk.cooloff_bars,
            hold_on_nan=risk.hold_on_nan,
        )
    )


class Market(NamedTuple):
    """Bars as dense arrays: `[T, N]` (time-major) or `[N, T]` (symbol-major), with their labels."""

    symbols: tuple[str, ...]
    ts: np.ndarray  # int64 microseconds since the epoch, UTC, ascending, [T]
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    tradable: np.ndarray  # bool: the bar exists and is marked tradable
    session_id: np.ndarray  # int64 [T]
    symbol_major: bool  # False: arrays are [T, N]; True: [N, T]
    zero_copy: bool  # the price arrays are views of the frame's Arrow buffers


@dataclass(frozen=True)
class SimResult:
    """Frames of one simulation, ready for the warehouse, and its run statistics."""

    equity: pl.DataFrame  # ts, equity, cash, gross_exposure (per symbol: symbol first)
    positions: pl.DataFrame  # symbol, ts, qty, weight
    fills: pl.DataFrame  # ts, symbol, side, qty, price, fees, reason, optimistic
    stats: pl.DataFrame  # one row (per symbol: one per symbol) of records.STAT_NAMES
    symbols: tuple[str, ...]
    params: SimParams
    optimistic: bool  # fills at the deciding bar's close (fill_on='close')


@dataclass(frozen=True)
class BatchResult:
    """Equity of P target sets over the same bars, one kernel call."""

    param_sets: tuple[Any, ...]  # the label of each set, in row order
    ts: pl.Series
    equity: np.ndarray  # [P, T]
    gross_exposure: np.ndarray  # [P, T]
    metrics: pl.DataFrame  # param_set, final_equity, total_return and records.STAT_NAMES


# ----------------------------------------------------------------------------- frames → arrays


def _codes(symbols: pl.Series, names: tuple[str, ...], what: str) -> np.ndarray:
    """Index of each symbol in `names` (int64); unknown symbols are an error that names them."""
    try:
        phys = symbols.cast(pl.Enum(list(names))).to_physical()
    except pl.exceptions.InvalidOperationError:
        unknown = sorted(set(symbols.unique().to_list()) - set(names))[:5]
        raise DataSanityError(f"{what} has symbols that the bars do not: {unknown}") from None
    return phys.to_numpy().astype(np.int64)


def _ts_index(ts: np.ndarray, grid: np.ndarray, what: str) -> np.ndarray:
    """Row of each timestamp in the ascending `grid`; timestamps not in it are an error."""
    idx = np.searchsorted(grid, ts)
    bad = (idx >= len(grid)) | (grid[np.minimum(idx, len(grid) - 1)] != ts)
    if bad.any():
        first = pl.Series([int(ts[np.argmax(bad)])]).cast(pl.Datetime("us", "UTC"))[0]
        raise DataSanityError(
            f"{what} has {int(bad.sum())} timestamps that no bar has, first {first}"
        )
    return idx


def _frozen(a: np.ndarray) -> np.ndarray:
    """`a` marked read-only, so the kernels always see one array type (zero-copy Arrow views are read-only)."""
    a.flags.writeable = False
    return a


def _column(df: pl.DataFrame, name: str) -> np.ndarray:
    """A float64 column as NumPy: a view of the Arrow buffer when it has no nulls, else a copy with NaN."""
    s = df.get_column(name).cast(pl.Float64)
    if s.null_count() == 0:
        return s.to_numpy()
    return s.fill_null(np.nan).to_numpy()


def _layout(
    symbol_codes: np.ndarray, ts: np.ndarray, n_bars: int, n: int, symbol_major: bool
) -> bool:
    """True when the rows are exactly the dense grid in the wanted order, so a reshape is the layout."""
    if len(symbol_codes) != n_bars * n:
        return False
    shape = (n, n_bars) if symbol_major else (n_bars, n)
    codes = symbol_codes.reshape(shape)
    stamps = ts.reshape(shape)
    if symbol_major:
        return bool(
            (codes == np.arange(n)[:, None]).all()
            and (stamps == stamps[:1]).all()
            and (np.diff(stamps[0]) > 0).all()
        )
    return bool(
        (codes == np.arange(n)[None, :]).all()
        and (stamps == stamps[:, :1]).all()
        and (np.diff(stamps[:, 0]) > 0).all()
    )


def _session_ids(ts: np.ndarray, session_tz: str) -> np.ndarray:
    """Session of each bar: its calendar date in `session_tz` (daily bars: one session each)."""
    dates = pl.Series(ts).cast(pl.Datetime("us", "UTC")).dt.convert_time_zone(session_tz).dt.date()
    return dates.to_physical().to_numpy().astype(np.int64)


def market_arrays(
    bars: pl.DataFrame, *, symbol_major: bool = False, session_tz: str = "UTC"
) -> Market:
    """Long bars (symbol, ts, open, high, low, close[, tradable]) → dense arrays with symbol and ts labels.

    Missing (symbol, ts) bars become NaN prices and not tradable (the kernel holds such symbols); null prices
    become NaN. A duplicate (symbol, ts) is a DataSanityError. `session_tz` sets where a session (the unit of
    the daily loss limit) begins: bars are grouped by their calendar date in that time zone.
    """
    missing = [c for c in ("symbol", "ts", *PRICES) if c not in bars.columns]
    if missing:
        raise DataSanityError(f"bars lack columns {missing}")
    if bars.height == 0:
        raise DataSanityError("bars are empty: nothing to simulate")
    bars = (
        bars.rechunk()
    )  # one Arrow chunk per column (free when it already is), so views are possible
    names = tuple(sorted(bars.get_column("symbol").unique().to_list()))
    ts_all = bars.get_column("ts").cast(UTC_TS).to_physical().to_numpy()
    grid = np.unique(ts_all)
    n_bars, n = len(grid), len(names)
    codes = _codes(bars.get_column("symbol"), names, "bars")
    shape = (n, n_bars) if symbol_major else (n_bars, n)
    has_tradable = "tradable" in bars.columns

    if _layout(codes, ts_all, n_bars, n, symbol_major):
        arrays = [_column(bars, c).reshape(shape) for c in PRICES]
        zero_copy = all(not a.flags.owndata or not a.flags.writeable for a in arrays)
        if has_tradable:
            tradable = bars.get_column("tradable").fill_null(False).to_numpy().reshape(shape).copy()
        else:
            tradable = np.ones(shape, dtype=np.bool_)
    else:
        ti = _ts_index(ts_all, grid, "bars")
        rows, cols = (codes, ti) if symbol_major else (ti, codes)
        seen = np.zeros(shape, dtype=np.int64)
        np.add.at(seen, (rows, cols), 1)
        if (seen > 1).any():
            r, c = np.argwhere(seen > 1)[0]
            sym, stamp = (names[r], grid[c]) if symbol_major else (names[c], grid[r])
            when = pl.Series([int(stamp)]).cast(UTC_TS)[0]
            raise DataSanityError(
                f"bars have duplicate rows for symbol {sym} at {when}", symbol=sym
            )
        arrays = []
        for c in PRICES:
            a = np.full(shape, np.nan)
            a[rows, cols] = _column(bars, c)
            arrays.append(a)
        tradable = np.zeros(shape, dtype=np.bool_)
        flags = bars.get_column("tradable").fill_null(False).to_numpy() if has_tradable else True
        tradable[rows, cols] = flags
        zero_copy = False
    return Market(
        symbols=names,
        ts=grid,
        open=_frozen(arrays[0]),
        high=_frozen(arrays[1]),
        low=_frozen(arrays[2]),
        close=_frozen(arrays[3]),
        tradable=_frozen(tradable),
        session_id=_frozen(_session_ids(grid, session_tz)),
        symbol_major=symbol_major,
        zero_copy=zero_copy,
    )


def dense_market(
    symbols: tuple[str, ...], ts: np.ndarray, prices: tuple[np.ndarray, ...], tradable: np.ndarray,
    *, session_tz: str = "UTC",
) -> Market:
    """A time-major Market from `[T, N]` open, high, low, close arrays already laid out (NaN where no bar), the
    bars that exist (`tradable`), the symbols' names and the int64 microsecond timestamps of the rows."""
    o, h, lo, c = (_frozen(a) for a in prices)
    return Market(symbols=tuple(symbols), ts=ts, open=o, high=h, low=lo, close=c, tradable=_frozen(tradable),
                  session_id=_frozen(_session_ids(ts, session_tz)), symbol_major=False, zero_copy=False)


def grid_cells(symbols: pl.Series, ts: pl.Series, names: tuple[str, ...], grid: np.ndarray, what: str) -> np.ndarray:
    """Flat time-major cell (row × N + symbol index) of each long row on the `[T, N]` grid of `grid` (int64 µs,
    ascending) × `names`: where a long column's values go in a dense array. A symbol or timestamp off the grid is
    a DataSanityError naming `what`."""
    codes = _codes(symbols.cast(pl.String), names, what)
    return _ts_index(ts.cast(UTC_TS).to_physical().to_numpy(), grid, what) * len(names) + codes


def market_on_grid(rows: pl.LazyFrame, names: tuple[str, ...], grid: np.ndarray, *, session_tz: str = "UTC") -> Market:
    """A time-major Market over `grid` × `names` from long bars (symbol, ts, open, high, low, close) that lie on it,
    NaN and not tradable where a symbol has no bar; one price column is collected at a time (peak memory). Rows
    already sorted by (symbol, ts) over the full grid are reshaped instead of scattered."""
    n_bars, n = len(grid), len(names)
    dense = rows.select(pl.len()).collect().item() == n_bars * n
    if dense:  # every symbol on every bar, sorted by (symbol, ts): the rows are the [N, T] layout
        cells = None
        tradable = np.ones((n_bars, n), dtype=np.bool_)
    else:
        keys = rows.select("symbol", "ts").collect()
        cells = grid_cells(keys["symbol"], keys["ts"], names, grid, "bars")
        del keys
        tradable = np.zeros(n_bars * n, dtype=np.bool_)
        tradable[cells] = True
        tradable = tradable.reshape(n_bars, n)
    prices = []
    for c in PRICES:
        values = rows.select(pl.col(c).cast(pl.Float64).fill_null(np.nan)).collect().to_series().to_numpy()
        if cells is None:
            prices.append(np.ascontiguousarray(values.reshape(n, n_bars).T))
        else:
            a = np.full(n_bars * n, np.nan)
            a[cells] = values
            prices.append(a.reshape(n_bars, n))
        del values
    return dense_market(names, grid, tuple(prices), tradable, session_tz=session_tz)


def target_array(targets: pl.DataFrame, market: Market, column: str = TARGET) -> np.ndarray:
    """Long targets (symbol, ts, target_weight) → an array in the market's layout; absent or null → NaN (hold).

    Symbols or timestamps the bars do not have, duplicates and infinite weights are DataSanityErrors.
    """
    return target_arrays(targets, market, [column])[0]


def target_arrays(targets: pl.DataFrame, market: Market, columns: list[str]) -> np.ndarray:
    """Several target columns of one long frame → `[len(columns), *layout]`, mapping rows to cells once."""
    missing = [c for c in ("symbol", "ts", *columns) if c not in targets.columns]
    if missing:
        raise DataSanityError(f"targets lack columns {missing}")
    n_bars, n = len(market.ts), len(market.symbols)
    shape = (n, n_bars) if market.symbol_major else (n_bars, n)
    targets = targets.rechunk()
    values = [_column(targets, c) for c in columns]
    for c, v in zip(columns, values, strict=True):
        if np.isinf(v).any():
            raise DataSanityError(f"targets {c} have {int(np.isinf(v).sum())} infinite weights")
    codes = _codes(targets.get_column("symbol"), market.symbols, "targets")
    ts = targets.get_column("ts").cast(UTC_TS).to_physical().to_numpy()
    if (
        len(ts) == n_bars * n
        and np.array_equal(ts.reshape(shape), _grid_ts(market, shape))
        and _layout(codes, ts, n_bars, n, market.symbol_major)
    ):
        if len(values) == 1:  # a view of the Arrow buffer, no copy
            return _frozen(values[0].reshape(shape))[None]
        return _frozen(np.stack([v.reshape(shape) for v in values]))
    out = np.empty((len(columns), *shape))
    ti = _ts_index(ts, market.ts, "targets")
    rows, cols = (codes, ti) if market.symbol_major else (ti, codes)
    seen = np.zeros(shape, dtype=np.int64)
    np.add.at(seen, (rows, cols), 1)
    if (seen > 1).any():
        raise DataSanityError(f"targets have {int((seen > 1).sum())} duplicate (symbol, ts) rows")
    out.fill(np.nan)
    for k, v in enumerate(values):
        out[k][rows, cols] = v
    return _frozen(out)


def _grid_ts(market: Market, shape: tuple[int, int]) -> np.ndarray:
    return np.broadcast_to(market.ts[None, :] if market.symbol_major else market.ts[:, None], shape)


# ----------------------------------------------------------------------------- arrays → frames


def _ts_series(ts: np.ndarray, name: str = "ts") -> pl.Series:
    return pl.Series(name, ts, dtype=pl.Int64).cast(UTC_TS)


def _symbol_series(codes: np.ndarray, names: tuple[str, ...]) -> pl.Series:
    return pl.Series("symbol", list(names), dtype=pl.String).gather(codes.astype(np.int64))


def _fills_frame(fills: np.ndarray, market: Market, optimistic: bool) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "ts": _ts_series(market.ts[fills["bar"]]),
            "symbol": _symbol_series(fills["col"], market.symbols),
            "side": pl.Series(["sell", "buy"], dtype=pl.String).gather(
                (fills["side"] > 0).astype(np.int64)
            ),
            "qty": np.ascontiguousarray(fills["qty"]),
            "price": np.ascontiguousarray(fills["price"]),
            "fees": np.ascontiguousarray(fills["fees"]),
            "reason": pl.Series(REASON_NAMES, dtype=pl.String).gather(
                fills["reason"].astype(np.int64)
            ),
            "optimistic": np.full(len(fills), optimistic),
        },
        schema=FILLS_SCHEMA,
    )


def _last_priced_close(market: Market) -> np.ndarray:
    """Close of the latest priced bar at or before each bar, time-major [T, N] (the kernel's mark price)."""
    o, h, lo, c = (
        np.asarray(a.T if market.symbol_major else a)
        for a in (market.open, market.high, market.low, market.close)
    )
    with np.errstate(invalid="ignore"):
        ok = (o > 0) & (h > 0) & (lo > 0) & (c > 0) & np.isfinite(o + h + lo + c)
    row = np.where(ok, np.arange(len(c))[:, None], -1)
    np.maximum.accumulate(row, axis=0, out=row)
    out = c[np.maximum(row, 0), np.arange(c.shape[1])[None, :]]
    return np.where(row >= 0, out, np.nan)


def position_weights(positions_tn: np.ndarray, equity_t: np.ndarray, market: Market) -> np.ndarray:
    """Each position's value at the kernel's mark over its book's equity, time-major [T, N]; `equity_t` is [T]
    or [T, N]. NaN where the equity is not positive and a position is held."""
    marks = _last_priced_close(market)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.where(positions_tn != 0.0, positions_tn * marks, 0.0)
        eq = equity_t[:, None] if equity_t.ndim == 1 else equity_t
        return np.where(eq > 0, value / eq, np.where(value == 0.0, 0.0, np.nan))


def positions_frame(
    positions_tn: np.ndarray, weights_tn: np.ndarray, symbols: tuple[str, ...], ts: np.ndarray
) -> pl.DataFrame:
    """Long positions by (symbol, ts) from time-major [T, N] quantities and weights."""
    n_bars, n = positions_tn.shape
    return pl.DataFrame(
        {
            "symbol": _symbol_series(np.repeat(np.arange(n), n_bars), symbols),
            "ts": _ts_series(np.tile(ts, n)),
            "qty": np.ascontiguousarray(positions_tn.T).ravel(),
            "weight": np.ascontiguousarray(weights_tn.T).ravel(),
        },
        schema=POSITIONS_SCHEMA,
    )


def _positions_frame(
    positions_tn: np.ndarray, equity_t: np.ndarray, market: Market
) -> pl.DataFrame:
    """Long positions by (symbol, ts) from time-major [T, N] quantities; `equity_t` is [T] or [T, N]."""
    weights = position_weights(positions_tn, equity_t, market)
    return positions_frame(positions_tn, weights, market.symbols, market.ts)


def _stats_frame(stats: np.ndarray) -> pl.DataFrame:
    stats = np.atleast_2d(stats)
    out = {name: stats[:, k] for k, name in enumerate(STAT_NAMES)}
    out["n_fills"] = stats[:, 0].astype(np.int64)
    out["unfunded_orders"] = stats[:, 3].astype(np.int64)
    out["trades"] = stats[:, STAT_TRADES].astype(np.int64)
    out["winning_trades"] = stats[:, STAT_WINS].astype(np.int64)
    return pl.DataFrame(out)


# ----------------------------------------------------------------------------- entry points


def _run_with_buffer(kernel, args: tuple, capacity: int):
    """Call `kernel(*args, fills)`; if the fill buffer was too small, once more with exactly enough room."""
    fills = np.empty(capacity, FILL_DTYPE)
    out = kernel(*args, fills)
    n_fills = out[-2]
    if n_fills > capacity:
        fills = np.empty(n_fills, FILL_DTYPE)
        out = kernel(*args, fills)
    stats = out[-1]
    round_trip_stats_nb(fills, n_fills, args[3].shape[1] if stats.ndim == 1 else stats.shape[0],
                        stats.reshape((-1, N_STATS)))
    return out, fills[:n_fills].copy()


def _kernel_args(market: Market, target: np.ndarray, params: SimParams) -> tuple:
    """The positional arguments every simulation kernel takes, in its order."""
    return (market.open, market.high, market.low, market.close, target, market.tradable, market.session_id, params)


class DenseBook(NamedTuple):
    """A shared-cash simulation as the kernel leaves it: time-major arrays, the fill log and the run statistics."""

    equity: np.ndarray  # [T]
    cash: np.ndarray  # [T]
    gross_exposure: np.ndarray  # [T]
    positions: np.ndarray  # [T, N] quantities after each bar
    fills: pl.DataFrame  # FILLS_SCHEMA
    stats: pl.DataFrame


def simulate_arrays(market: Market, target: np.ndarray, params: SimParams) -> DenseBook:
    """The kernel of `simulate` on a time-major market and a `[T, N]` target array in its layout (NaN = hold),
    without the long frames (for callers that reduce the arrays themselves)."""
    params = coerce_params(params)
    args = _kernel_args(market, target, params)
    capacity = market.close.size + 1024
    (equity, cash, gross, _ee, _eg, positions, _n, stats), fills = _run_with_buffer(
        simulate_nb, args, capacity
    )
    return DenseBook(equity, cash, gross, positions, _fills_frame(fills, market, params.fill_on_close),
                     _stats_frame(stats))


def simulate(
    bars: pl.DataFrame, targets: pl.DataFrame, params: SimParams, *, session_tz: str = "UTC"
) -> SimResult:
    """Simulate one book in which all symbols share cash and the risk limits (time-outer kernel).

    `bars`: long (symbol, ts, open, high, low, close[, tradable]); `targets`: long (symbol, ts, target_weight),
    the weight decided at ts's close. Returns equity per ts, long positions, fills with reason names, stats.
    """
    params = coerce_params(params)
    market = market_arrays(bars, session_tz=session_tz)
    book = simulate_arrays(market, target_array(targets, market), params)
    equity_frame = pl.DataFrame(
        {"ts": _ts_series(market.ts), "equity": book.equity, "cash": book.cash, "gross_exposure": book.gross_exposure},
        schema=EQUITY_SCHEMA,
    )
    return SimResult(
        equity=equity_frame,
        positions=_positions_frame(book.positions, book.equity, market),
        fills=book.fills,
        stats=book.stats,
        symbols=market.symbols,
        params=params,
        optimistic=params.fill_on_close,
    )


def simulate_per_symbol(
    bars: pl.DataFrame, targets: pl.DataFrame, params: SimParams, *, session_tz: str = "UTC"
) -> SimResult:
    """Simulate every symbol as its own book with `params.initial_capital` (symbol-outer kernel, same rules).

    Bars sorted by (symbol, ts) with every symbol on every ts go to the kernel without a copy. `equity` and
    `stats` then have one row per symbol (equity: symbol, ts, equity, cash, gross_exposure).
    """
    params = coerce_params(params)
    market = market_arrays(bars, symbol_major=True, session_tz=session_tz)
    target = target_array(targets, market)
    args = _kernel_args(market, target, params)
    capacity = market.close.size + 1024
    (equity, cash, gross, positions, _n, stats), fills = _run_with_buffer(
        simulate_independent_nb, args, capacity
    )
    n, n_bars = equity.shape
    equity_frame = pl.DataFrame(
        {
            "symbol": _symbol_series(np.repeat(np.arange(n), n_bars), market.symbols),
            "ts": _ts_series(np.tile(market.ts, n)),
            "equity": equity.ravel(),
            "cash": cash.ravel(),
            "gross_exposure": gross.ravel(),
        }
    )
    return SimResult(
        equity=equity_frame,
        positions=_positions_frame(
            np.ascontiguousarray(positions.T), np.ascontiguousarray(equity.T), market
        ),
        fills=_fills_frame(fills, market, params.fill_on_close),
        stats=pl.DataFrame({"symbol": list(market.symbols)}).hstack(_stats_frame(stats)),
        symbols=market.symbols,
        params=params,
        optimistic=params.fill_on_close,
    )


def simulate_batch(
    bars: pl.DataFrame,
    targets_by_set: list[pl.DataFrame] | pl.DataFrame,
    params: SimParams,
    *,
    session_tz: str = "UTC",
    columns: list[str] | None = None,
) -> BatchResult:
    """Simulate P target sets over the same bars in one kernel call, in parallel over the sets (no fills kept).

    `targets_by_set` is a list of long target frames (labelled 0..P-1), one long frame with a `param_set`
    column (labelled by its sorted distinct values), or — with `columns` — one wide frame (symbol, ts and one
    target column per set, labelled by the column names; the cheapest form). Each set is a shared-cash book as
    in `simulate`.
    """
    params = coerce_params(params)
    market = market_arrays(bars, session_tz=session_tz)
    if columns is not None:
        if not columns:
            raise DataSanityError("simulate_batch needs at least one target set")
        return _run_batch(market, target_arrays(targets_by_set, market, list(columns)), tuple(columns), params)
    if isinstance(targets_by_set, pl.DataFrame):
        if "param_set" not in targets_by_set.columns:
            raise DataSanityError(
                "a single targets frame for simulate_batch needs a param_set column"
            )
        labels = tuple(targets_by_set.get_column("param_set").unique().sort().to_list())
        frames = [targets_by_set.filter(pl.col("param_set") == label) for label in labels]
    else:
        frames = list(targets_by_set)
        labels = tuple(range(len(frames)))
    if not frames:
        raise DataSanityError("simulate_batch needs at least one target set")
    stacked = np.empty((len(frames), *market.close.shape))
    for k, frame in enumerate(frames):
        stacked[k] = target_array(frame, market)
    return _run_batch(market, _frozen(stacked), labels, params)


def simulate_batch_arrays(market: Market, targets: np.ndarray, labels: tuple, params: SimParams) -> BatchResult:
    """`simulate_batch` on a time-major market and a read-only `[P, T, N]` stack of target arrays in its layout
    (NaN = hold), one set per label: for callers that fill the stack a few sets at a time."""
    return _run_batch(market, targets, tuple(labels), coerce_params(params))


def _run_batch(market: Market, stacked: np.ndarray, labels: tuple, params: SimParams) -> BatchResult:
    equity, gross, stats = simulate_batch_nb(*_kernel_args(market, stacked, params))
    metrics = pl.DataFrame(
        {
            "param_set": list(labels),
            "final_equity": equity[:, -1],
            "total_return": equity[:, -1] / params.initial_capital - 1.0,
        }
    ).hstack(_stats_frame(stats))
    return BatchResult(
        param_sets=labels,
        ts=_ts_series(market.ts),
        equity=equity,
        gross_exposure=gross,
        metrics=metrics,
    )
