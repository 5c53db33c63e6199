"""What every command shares: the options that load config and the warehouse, and how results are printed."""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass, field
from pathlib import Path

import click


@dataclass
class Session:
    """Per-invocation state: which config files and warehouse the user chose; config loaded once, lazily."""

    profile: str | None = None
    configs: tuple[str, ...] = ()
    warehouse: str | None = None
    overrides: dict = field(default_factory=dict)
    _loaded: object = None

    def loaded(self):
        """The validated config (`LoadedConfig`), loaded on first use; logging is set up from it."""
        if self._loaded is None:
            from trader_cols.config import load_config, profile_paths
            from trader_cols.logs import setup_logging

            over = dict(self.overrides)
            if self.warehouse:
                over["warehouse.path"] = self.warehouse
            self._loaded = load_config(profile_paths(self.profile, self.configs), overrides=over)
            lg = self._loaded.config.logging
            setup_logging(lg.level, lg.file, lg.rotation, lg.backups)
        return self._loaded

    @property
    def config(self):
        return self.loaded().config

    def open_warehouse(self):
        from trader_cols.warehouse import Warehouse

        return Warehouse.from_config(self.config.warehouse)


def _store(name: str, multiple: bool = False):
    def callback(ctx: click.Context, _param, value):
        if value in (None, ()):
            return value
        sess = ctx.ensure_object(Session)
        if multiple:
            sess.configs = sess.configs + tuple(value)
        else:
            setattr(sess, name, value)
        return value

    return callback


def common_options(fn):
    """--profile, --config (repeatable), --warehouse and --debug, accepted on every command."""

    @click.option("--profile", help="Layer config/NAME.yaml over base.yaml.", expose_value=False,
                  callback=_store("profile"), is_eager=True)
    @click.option("--config", "configs", multiple=True, type=click.Path(dir_okay=False),
                  help="Layer this YAML/JSON file too (repeatable; later wins).", expose_value=False,
                  callback=_store("configs", multiple=True), is_eager=True)
    @click.option("--warehouse", help="Warehouse folder (default ./warehouse or TCOLS_WAREHOUSE).",
                  expose_value=False, callback=_store("warehouse"), is_eager=True)
    @click.option("--debug", is_flag=True, expose_value=False, help="Show tracebacks on errors.")
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)

    return wrapper


def session() -> Session:
    """The current invocation's Session."""
    return click.get_current_context().ensure_object(Session)


def print_frame(df, fmt: str = "table", output: str | None = None) -> None:
    """Print a Polars frame as a table, CSV or JSON, or write it to a file (csv, json or parquet by `fmt`)."""
    import polars as pl

    if output:
        path = Path(output)
        if fmt == "parquet" or path.suffix == ".parquet":
            df.write_parquet(path)
        elif fmt == "json" or path.suffix == ".json":
            df.write_json(path)
        else:
            df.write_csv(path)
        click.echo(f"wrote {df.height} rows to {path}")
        return
    if fmt == "csv":
        sys.stdout.write(df.write_csv())
    elif fmt == "json":
        sys.stdout.write(df.write_json() + "\n")
    else:
        with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_hide_dataframe_shape=True, fmt_str_lengths=100,
                       tbl_width_chars=200, tbl_hide_column_data_types=True):
            click.echo(str(df))
