"""`tcols regimes SYMBOL` (regime statistics) and `tcols features SYMBOL...` (cached indicators)."""

from __future__ import annotations

import click

from trader_cols.commands._common import common_options, print_frame, session
from trader_cols.commands.ingest import parse_date, split_symbols


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


@click.command("features")
@click.argument("symbols", nargs=-1, required=True)
@click.option(
    "--start", help="First date (YYYY-MM-DD) to show; indicators always use the full history."
)
@click.option("--end", help="Last date to show, inclusive (YYYY-MM-DD).")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "csv", "json", "parquet"]), default="table"
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the frame to a file.")
@click.option(
    "--rows",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="As a table: the last ROWS bars of each symbol (files and csv/json get every row).",
)
@common_options
def features_cmd(symbols, start, end, fmt, output, rows) -> None:
    """The configured indicators (config `features.indicators`) of stored symbols, from the cache."""
    import polars as pl

    from trader_cols.features import specs_from_config
    from trader_cols.pipeline.features import cached_features, utc

    if fmt == "parquet" and not output:
        raise click.BadParameter("parquet output needs -o FILE", param_hint="--format")
    sess = session()
    cfg = sess.config
    specs = specs_from_config(cfg.features.indicators)
    frame, report = cached_features(
        sess.open_warehouse(), split_symbols(symbols), specs, interval=cfg.data.interval
    )
    lo, hi = parse_date(start, "--start"), parse_date(end, "--end")
    if lo is not None:
        frame = frame.filter(pl.col("ts") >= utc(lo))
    if hi is not None:
        frame = frame.filter(pl.col("ts") <= utc(hi))
    click.echo(
        f"{len(specs)} specs x {len(symbols)} symbols: {len(report.computed)} computed, "
        f"{report.reused} from the cache",
        err=True,
    )
    if fmt == "table" and not output:
        frame = frame.group_by("symbol", maintain_order=True).tail(rows)
    print_frame(frame, fmt, output)


def register(cli: click.Group) -> None:
    cli.add_command(regimes_cmd)
    cli.add_command(features_cmd)
