"""The check catalogue, docs/sanity.md and config/data_sanity.yaml agree with the code."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from trader_cols.config import DataSanityConfig, load_config, read_config_file
from trader_cols.sanity import CHECKS
from trader_cols.sqlfiles import load_sql, sql_params

DOCS = Path(__file__).resolve().parents[2] / "docs" / "sanity.md"


def test_docs_table_lists_every_code_with_order_and_severity():
    rows = re.findall(r"^\| (\d+) \| `(\w+)` \| (\w+) \|", DOCS.read_text(), flags=re.M)
    assert sorted(rows) == sorted((str(c.order), c.code, c.severity) for c in CHECKS)


def test_codes_and_orders_are_unique_and_stable_in_form():
    assert len({c.code for c in CHECKS}) == len({c.order for c in CHECKS}) == len(CHECKS)
    assert all(re.fullmatch(r"[a-z][a-z_]+", c.code) for c in CHECKS)
    assert all(c.severity in ("error", "warn") for c in CHECKS)


def test_shipped_profiles_equal_the_code_defaults():
    shipped = read_config_file(
        Path(load_config.__code__.co_filename).parents[1] / "config" / "data_sanity.yaml"
    )
    defaults = DataSanityConfig().profiles
    loaded = load_config(env={}).config.data_sanity.profiles
    for name, keys in shipped["data_sanity"]["profiles"].items():
        got = dataclasses.asdict(defaults[name])
        for key, value in keys.items():
            want = tuple(value) if isinstance(value, list) else value
            assert got[key] == want, f"{name}.{key}: yaml {value!r} != default {got[key]!r}"
        assert loaded[name] == defaults[name]


def test_sql_checks_have_a_header_params_and_an_order_by():
    for c in CHECKS:
        if c.sql:
            text = load_sql(c.sql)
            assert text.startswith("-- purpose:") and "-- grain:" in text
            assert sql_params(c.sql) == ["interval"]
            assert re.search(r"ORDER BY b\.symbol, b\.ts\s*$", text)
