"""`tcols config show`: the merged, validated config and where each value came from."""

from __future__ import annotations

import click

from trader_cols.commands._common import common_options, session


@click.group("config")
def config_group() -> None:
    """Inspect configuration."""


@config_group.command("show")
@common_options
def show() -> None:
    """Print the merged config (secrets redacted), each value with the file or variable it came from."""
    from trader_cols.config import describe

    loaded = session().loaded()
    click.echo(f"# files: {', '.join(loaded.files)}")
    click.echo(f"# config hash: {loaded.run_hash}")
    click.echo(describe(loaded))


def register(cli: click.Group) -> None:
    cli.add_command(config_group)
