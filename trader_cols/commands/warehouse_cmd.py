"""`tcols warehouse info` and `tcols sql`: look inside the warehouse."""

from __future__ import annotations

import click

from trader_cols.commands._common import common_options, print_frame, session


@click.group("warehouse")
def warehouse_group() -> None:
    """Inspect the warehouse."""


@warehouse_group.command("info")
@common_options
def info() -> None:
    """Symbols, intervals, date ranges, row counts, versions and last ingest."""
    wh = session().open_warehouse()
    df = wh.query_file("reports.warehouse_info")
    click.echo(f"warehouse {wh.root}: {df.height} series, {int(df['rows'].sum() or 0)} bars")
    print_frame(df)


@click.command("sql")
@click.argument("query")
@click.option("--write", is_flag=True, help="Allow statements that change the catalog.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json", "parquet"]), default="table")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the result to a file.")
@common_options
def sql_cmd(query: str, write: bool, fmt: str, output: str | None) -> None:
    """Run SQL over the warehouse (read-only unless --write). Tables: bars, ingest_log, bar_files, ..."""
    if fmt == "parquet" and not output:
        raise click.BadParameter("parquet output needs -o FILE", param_hint="--format")
    df = session().open_warehouse().query(query, write=write)
    print_frame(df, fmt, output)


def register(cli: click.Group) -> None:
    cli.add_command(warehouse_group)
    cli.add_command(sql_cmd)
