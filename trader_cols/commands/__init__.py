"""The click app `tcols`: each command parses options, loads config, calls one use case and prints."""

from __future__ import annotations

import os
import sys
import traceback

import click

from trader_cols.commands._common import Session
from trader_cols.errors import TraderColsError


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
@click.version_option(package_name="trader_cols")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """trader_cols: columnar research and paper trading. Every result lands in DuckDB."""
    ctx.ensure_object(Session)


def _register() -> None:
    from trader_cols.commands import (
        config_cmd,
        ingest,
        paper,
        regimes,
        research,
        validate,
        warehouse_cmd,
    )

    for module in (config_cmd, ingest, warehouse_cmd, research, validate, regimes, paper):
        module.register(cli)


_register()


def main(argv: list[str] | None = None) -> None:
    """Entry point: one line per error on stderr and the error's exit code; tracebacks only with --debug."""
    args = expand_multi_values(sys.argv[1:] if argv is None else list(argv))
    debug = "--debug" in args or os.environ.get("TCOLS_DEBUG") == "1"
    try:
        cli.main(args=args, prog_name="tcols", standalone_mode=False)
    except TraderColsError as exc:
        if debug:
            traceback.print_exc()
        for line in _error_lines(exc):
            click.echo(f"error: {line}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)


GREEDY_OPTIONS = ("--symbols", "--compare")


def expand_multi_values(args: list[str]) -> list[str]:
    """Let `--symbols SPY QQQ BTC-USD` take every following word up to the next option, as the seed CLI did."""
    out: list[str] = []
    current: str | None = None
    for arg in args:
        if arg.startswith("-"):
            current = arg if arg in GREEDY_OPTIONS else None
            out.append(arg)
        elif current and out[-1] != current:
            out += [current, arg]
        else:
            out.append(arg)
    return out


def _error_lines(exc: TraderColsError) -> list[str]:
    failures = getattr(exc, "failures", None)
    if failures:
        return [exc.message] + [f"{sym}: {err}" for sym, err in sorted(failures.items())]
    return [exc.message]
