"""Find the `sql/` and `config/` trees (packaged copy or source checkout) and load SQL files by dotted name."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from trader_cols.errors import TraderColsError

_PKG = Path(__file__).resolve().parent
_PARAM = re.compile(r"(?<![:$\w])\$([A-Za-z_]\w*)")


def resource_dir(name: str) -> Path:
    """The directory of a shipped resource tree (`sql` or `config`): the wheel's copy, else the checkout's."""
    for candidate in (_PKG / "_res" / name, _PKG.parent / name):
        if candidate.is_dir():
            return candidate
    raise TraderColsError(f"resource folder {name!r} not found next to {_PKG}: the installation is incomplete")


def sql_path(dotted: str) -> Path:
    """`schema.001_schema_version` → <sql>/schema/001_schema_version.sql."""
    path = resource_dir("sql").joinpath(*dotted.split(".")).with_suffix(".sql")
    if not path.is_file():
        raise TraderColsError(f"SQL file {dotted!r} not found (looked for {path})")
    return path


@cache
def load_sql(dotted: str) -> str:
    """The text of one SQL file (one statement, header comment included)."""
    return sql_path(dotted).read_text(encoding="utf-8")


def sql_params(dotted: str) -> list[str]:
    """The `$name` parameters a SQL file takes, in order of first use."""
    text = "\n".join(line.split("--", 1)[0] for line in load_sql(dotted).splitlines())
    seen: dict[str, None] = {}
    for m in _PARAM.finditer(text):
        seen.setdefault(m.group(1), None)
    return list(seen)


def list_sql(folder: str) -> list[str]:
    """Dotted names of the SQL files in one folder of `sql/`, sorted."""
    base = resource_dir("sql") / folder
    return sorted(f"{folder}.{p.stem}" for p in base.glob("*.sql"))
