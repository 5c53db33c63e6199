"""`tcols ingest`: bring bars from a source into the warehouse."""

from __future__ import annotations

from datetime import date

import click

from trader_cols.commands._common import common_options, print_frame, session


def parse_date(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date like 2024-01-31", param_hint=name) from None


def split_symbols(values: tuple[str, ...]) -> tuple[str, ...]:
    """`--symbols SPY QQQ`, `--symbols SPY,QQQ` and repeated `--symbols` all give ('SPY', 'QQQ')."""
    out = [s.strip() for v in values for s in v.split(",") if s.strip()]
    return tuple(dict.fromkeys(out))


@click.command("ingest")
@click.option("--symbols", multiple=True, help="Symbols (space- or comma-separated); default: config tickers.")
@click.option("--start", help="First date (inclusive), YYYY-MM-DD; default: config data.start.")
@click.option("--end", help="Last date (inclusive), YYYY-MM-DD; default: config data.end.")
@click.option("--interval", help="Bar interval (1d, 1h, 15m, ...); default: config data.interval.")
@click.option("--source", type=click.Choice(["yfinance", "csv", "parquet", "synthetic"]),
              help="Where bars come from; default: config data.source.")
@click.option("--path", "path", type=click.Path(), help="File or folder for csv/parquet.")
@click.option("--tz", help="IANA zone of naive timestamps in files (e.g. America/New_York).")
@click.option("--auto-adjust/--no-auto-adjust", default=None, help="yfinance adjustment; default: config.")
@click.option("--refresh", is_flag=True, help="Fetch the whole range even where bars are stored.")
@click.option("--seed", type=int, help="Seed of the synthetic source; default: config engine.seed.")
@common_options
def ingest_cmd(symbols, start, end, interval, source, path, tz, auto_adjust, refresh, seed) -> None:
    """Fetch, validate and store bars. One failing symbol never stops the others (exit code 10 if any failed)."""
    from trader_cols.pipeline.ingest import IngestRequest, ingest

    cfg = session().config
    data = cfg.data
    request = IngestRequest(
        symbols=split_symbols(symbols) or tuple(cfg.tickers),
        start=parse_date(start, "--start") or date.fromisoformat(data.start),
        end=parse_date(end, "--end") or date.fromisoformat(data.end),
        interval=interval or data.interval,
        source=source or data.source,
        path=path or data.path,
        tz=tz,
        auto_adjust=data.auto_adjust if auto_adjust is None else auto_adjust,
        refresh=refresh,
        seed=cfg.engine.seed if seed is None else seed,
    )
    wh = session().open_warehouse()
    result = ingest(wh, request, sanity_cfg=cfg.data_sanity, data_cfg=data, asset_classes=cfg.asset_classes)
    click.echo(f"ingest {result.ingest_id} into {wh.root}")
    print_frame(result.summary.drop("message"))
    if result.findings.height:
        counts = result.findings.group_by("code", "severity").len().sort("code")
        click.echo(f"DataSanity: {result.findings.height} findings")
        print_frame(counts)
    result.raise_for_failures()


def register(cli: click.Group) -> None:
    cli.add_command(ingest_cmd)
