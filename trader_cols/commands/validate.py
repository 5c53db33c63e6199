"""`tcols validate`: re-check stored bars with DataSanity and print a report (count per code, worst symbols)."""

from __future__ import annotations

import click

from trader_cols.commands._common import print_frame, session
from trader_cols.commands.ingest import split_symbols


@click.command("validate")
@click.option(
    "--symbols", multiple=True, help="Symbols (space- or comma-separated); default: all stored."
)
@click.option(
    "--profile",
    "sanity_profile",
    help="DataSanity profile (strict, relaxed, ...); default: config.",
)
@click.option(
    "--mode",
    type=click.Choice(["enforce", "warn"]),
    help="enforce: exit 5 on errors; default: config.",
)
@click.option("--interval", help="Bar interval; default: config data.interval.")
@click.option(
    "--top", type=int, default=10, show_default=True, help="How many worst symbols to list."
)
@click.option(
    "--rows", "max_rows", type=int, default=3, show_default=True, help="Example rows per code."
)
@click.option(
    "--config-profile", help="Layer config/NAME.yaml over base.yaml (what --profile is elsewhere)."
)
@click.option(
    "--config",
    "configs",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Layer this YAML/JSON file too (repeatable; later wins).",
)
@click.option("--warehouse", help="Warehouse folder (default ./warehouse or TCOLS_WAREHOUSE).")
@click.option("--debug", is_flag=True, expose_value=False, help="Show tracebacks on errors.")
def validate_cmd(
    symbols, sanity_profile, mode, interval, top, max_rows, config_profile, configs, warehouse
) -> None:
    """Re-validate stored bars, store the findings (table sanity_findings), print counts per code and the
    worst symbols. In enforce mode any error finding (or an asked symbol that is not stored) exits with 5."""
    from trader_cols.errors import DataSanityError
    from trader_cols.pipeline.validate import ValidateRequest, validate_stored

    sess = session()
    sess.profile = config_profile or sess.profile
    sess.configs = sess.configs + tuple(configs)
    sess.warehouse = warehouse or sess.warehouse
    cfg = sess.config
    request = ValidateRequest(
        symbols=split_symbols(symbols),
        interval=interval or cfg.data.interval,
        profile=sanity_profile,
        mode=mode,
    )
    wh = sess.open_warehouse()
    result = validate_stored(
        wh, request, sanity_cfg=cfg.data_sanity, asset_classes=cfg.asset_classes
    )
    report = result.report
    click.echo(
        f"validate {result.run_id} of {wh.root}: {len(result.symbols)} symbols, {result.rows} bars, "
        f"interval {request.interval}, profile {report.profile}, mode {report.mode}"
    )
    for sym in result.missing:
        click.echo(f"not stored: {sym}")
    if report.findings.height:
        click.echo("findings per code:")
        print_frame(result.counts())
        click.echo(f"worst symbols (top {top}):")
        print_frame(result.worst_symbols(top))
    click.echo(report.summary(max_rows))
    if report.mode == "enforce" and not result.ok():
        n_err = report.errors().height
        raise DataSanityError(
            f"DataSanity refused the stored data: {n_err} error finding(s) in "
            f"{report.errors()['symbol'].drop_nulls().n_unique()} symbol(s)"
            + (f"; not stored: {', '.join(result.missing)}" if result.missing else ""),
            findings=report.findings,
        )


def register(cli: click.Group) -> None:
    cli.add_command(validate_cmd)
