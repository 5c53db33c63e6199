"""`tcols regimes SYMBOL`: share of time in each regime, mean run length and the transition matrix."""

from __future__ import annotations

import click

from trader_cols.commands._common import common_options, print_frame, session
from trader_cols.commands.ingest import parse_date


@click.command("regimes")
@click.argument("symbol")
@click.option("--start", help="First date (YYYY-MM-DD); default: the first labelled bar.")
@click.option("--end", help="Last date, inclusive (YYYY-MM-DD); default: the last stored bar.")
@common_options
def regimes_cmd(symbol: str, start: str | None, end: str | None) -> None:
    """Regime statistics of one stored symbol (labels are computed once and kept in the warehouse)."""
    import polars as pl

    from trader_cols.pipeline.features import regime_report

    sess = session()
    cfg = sess.config
    rep = regime_report(
        sess.open_warehouse(),
        symbol,
        cfg.regimes,
        interval=cfg.data.interval,
        start=parse_date(start, "--start"),
        end=parse_date(end, "--end"),
    )
    labelled = rep.labels.drop_nulls("regime")
    if labelled.height == 0:
        click.echo(
            f"{symbol}: no labelled bars in the range (the labeller needs its warm-up history)"
        )
        return
    first, last = labelled["ts"].min(), labelled["ts"].max()
    click.echo(
        f"{symbol} {cfg.data.interval}: {labelled.height} labelled bars, {first:%Y-%m-%d} .. {last:%Y-%m-%d}"
    )
    click.echo("share of time")
    print_frame(rep.share.with_columns(pl.col("share").round(4)))
    click.echo("mean run length (bars)")
    print_frame(rep.run_length.with_columns(pl.col("mean_run_bars").round(2)))
    click.echo("transition matrix (row: from, column: to; probability per bar)")
    print_frame(rep.transitions.with_columns(pl.exclude("regime").round(4)))


def register(cli: click.Group) -> None:
    cli.add_command(regimes_cmd)
