"""Logging set-up (level, optional rotating file) and the progress bar for long work."""

from __future__ import annotations

import logging
import logging.handlers
import re
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from trader_cols.errors import ConfigError

T = TypeVar("T")
LOGGER_NAME = "trader_cols"
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMG]?B)\s*$", re.IGNORECASE)
_UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}


def setup_logging(level: str = "INFO", file: str | None = None, rotation: str = "10MB", backups: int = 5) -> None:
    """Configure the `trader_cols` logger: stderr, plus a rotating file when `file` is set.

    `rotation` is a size ("10MB", "500KB") or "daily".
    """
    log = logging.getLogger(LOGGER_NAME)
    log.setLevel(level)
    for h in list(log.handlers):
        log.removeHandler(h)
        h.close()
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    err = logging.StreamHandler(sys.stderr)
    err.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    log.addHandler(err)
    if file:
        if rotation.strip().lower() == "daily":
            fh: logging.Handler = logging.handlers.TimedRotatingFileHandler(file, when="midnight", backupCount=backups)
        else:
            m = _SIZE.match(rotation)
            if not m:
                raise ConfigError(f"{rotation!r} is not a size like 10MB or 'daily'", key="logging.rotation")
            size = int(float(m.group(1)) * _UNITS[m.group(2).upper()])
            fh = logging.handlers.RotatingFileHandler(file, maxBytes=size, backupCount=backups)
        fh.setFormatter(fmt)
        log.addHandler(fh)
    log.propagate = False


def get_logger(name: str) -> logging.Logger:
    """A child of the `trader_cols` logger."""
    return logging.getLogger(f"{LOGGER_NAME}.{name.removeprefix(LOGGER_NAME + '.')}")


def progress(items: Iterable[T], label: str, total: int | None = None) -> Iterator[T]:
    """Iterate with a progress bar on stderr when it is a terminal; silent otherwise (logs say the rest)."""
    if not sys.stderr.isatty():
        yield from items
        return
    import click  # only for the bar; click is a runtime dependency anyway

    with click.progressbar(items, length=total, label=label, file=sys.stderr, show_pos=True) as bar:
        yield from bar
