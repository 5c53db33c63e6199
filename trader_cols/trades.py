"""Round-trip trades from a fill log, and per-bar P&L by symbol from positions, prices and fills (pure Polars).

A trade is one position episode of a symbol: from flat to flat again, or up to a reversal (a fill that flips a
long into a short closes the first trade and opens the next). Adds and partial exits stay inside the episode.
"""

from __future__ import annotations

import polars as pl

from trader_cols.schema import UTC_TS

EPS = 1e-9  # positions smaller than this (in units) count as flat

TRADES: dict[str, pl.DataType] = {
    "symbol": pl.String(), "side": pl.String(), "entry_ts": UTC_TS, "exit_ts": UTC_TS, "qty": pl.Float64(),
    "entry_price": pl.Float64(), "exit_price": pl.Float64(), "pnl": pl.Float64(), "ret": pl.Float64(),
    "fees": pl.Float64(), "exit_reason": pl.String(),
}


def round_trips(fills: pl.DataFrame, last_close: pl.DataFrame) -> pl.DataFrame:
    """Trades (schema `TRADES`) from fills (ts, symbol, side 'buy'/'sell', qty > 0, price, fees, reason), in
    the order they happened. Trades still open at the end are marked at `last_close` (symbol, close) and have a
    null exit_ts. pnl is after fees; ret = pnl / (largest |position| × entry price)."""
    if fills.height == 0:
        return pl.DataFrame(schema=TRADES)
    f = fills.with_row_index("seq").with_columns(
        (pl.when(pl.col("side") == "buy").then(1.0).otherwise(-1.0) * pl.col("qty")).alias("signed")
    )
    f = f.with_columns(pl.col("signed").cum_sum().over("symbol", order_by="seq").alias("after"))
    f = f.with_columns((pl.col("after") - pl.col("signed")).alias("before"))
    flat = lambda c: pl.col(c).abs() < EPS  # noqa: E731
    flips = ~flat("before") & ~flat("after") & (pl.col("before").sign() != pl.col("after").sign())
    # A reversal is split into its closing part (to flat, old trade) and its opening part (new trade).
    closing = f.filter(flips).with_columns(
        (-pl.col("before")).alias("signed"), pl.lit(0.0).alias("after"),
        (pl.col("fees") * pl.col("before").abs() / pl.col("qty")).alias("fees"), pl.lit(0).alias("part"),
    )
    opening = f.filter(flips).with_columns(
        pl.col("after").alias("signed"), pl.lit(0.0).alias("before"),
        (pl.col("fees") * pl.col("after").abs() / pl.col("qty")).alias("fees"), pl.lit(1).alias("part"),
    )
    legs = pl.concat([f.filter(~flips).with_columns(pl.lit(0).alias("part")), closing, opening], how="diagonal_relaxed")
    legs = legs.sort("symbol", "seq", "part").with_columns(
        flat("before").cast(pl.Int32).cum_sum().over("symbol").alias("trade"),
        (pl.col("after").abs() > pl.col("before").abs()).alias("adds"),
    )
    trades = legs.group_by("symbol", "trade", maintain_order=True).agg(
        pl.when(pl.col("signed").first() > 0).then(pl.lit("long")).otherwise(pl.lit("short")).alias("side"),
        pl.col("ts").first().alias("entry_ts"),
        pl.when(flat("after").last()).then(pl.col("ts").last()).alias("exit_ts"),
        pl.col("after").abs().max().alias("qty"),
        ((pl.col("price") * pl.col("signed").abs()).filter(pl.col("adds")).sum()
         / pl.col("signed").abs().filter(pl.col("adds")).sum()).alias("entry_price"),
        ((pl.col("price") * pl.col("signed").abs()).filter(~pl.col("adds")).sum()
         / pl.col("signed").abs().filter(~pl.col("adds")).sum()).alias("exit_price"),
        (-(pl.col("signed") * pl.col("price")).sum()).alias("cash_flow"),
        pl.col("fees").sum().alias("fees"),
        pl.col("after").last().alias("open_qty"),
        pl.when(flat("after").last()).then(pl.col("reason").last()).alias("exit_reason"),
    )
    trades = trades.join(last_close.select("symbol", pl.col("close").alias("_mark")), on="symbol", how="left")
    pnl = pl.col("cash_flow") + pl.col("open_qty") * pl.col("_mark").fill_null(0.0) - pl.col("fees")
    return trades.with_columns(
        pnl.alias("pnl"),
        pl.when(pl.col("exit_ts").is_null()).then(None).otherwise(pl.col("exit_price")).alias("exit_price"),
    ).with_columns(
        (pl.col("pnl") / (pl.col("qty") * pl.col("entry_price"))).fill_nan(0.0).alias("ret"),
    ).select(list(TRADES)).cast(TRADES)


def bar_pnl(positions: pl.DataFrame, marks: pl.DataFrame, fills: pl.DataFrame) -> pl.DataFrame:
    """P&L of each symbol on each bar: q_t·m_t − q_{t−1}·m_{t−1} − Σ fills (signed qty × price) − fees.

    `positions`: symbol, ts, qty (after the bar); `marks`: symbol, ts, mark (the price positions are valued at);
    `fills`: ts, symbol, side, qty, price, fees. Summed over symbols it is the change in equity.
    """
    flows = (
        fills.group_by("symbol", "ts")
        .agg(
            (pl.when(pl.col("side") == "buy").then(-1.0).otherwise(1.0) * pl.col("qty") * pl.col("price"))
            .sum().alias("flow"),
            pl.col("fees").sum().alias("fees"),
        )
    )
    value = positions.join(marks, on=["symbol", "ts"], how="left").sort("symbol", "ts").with_columns(
        (pl.col("qty") * pl.col("mark").fill_null(0.0)).alias("value")
    )
    return (
        value.join(flows, on=["symbol", "ts"], how="left")
        .with_columns(
            (pl.col("value") - pl.col("value").shift(1, fill_value=0.0).over("symbol")
             + pl.col("flow").fill_null(0.0) - pl.col("fees").fill_null(0.0)).alias("pnl")
        )
        .select("symbol", "ts", "pnl")
    )
