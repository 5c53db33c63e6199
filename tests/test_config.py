"""Config: merge order, env overrides, and every kind of config error naming the file and key."""

from __future__ import annotations

import dataclasses
import json

import pytest

from trader_cols.config import (
    Config,
    config_dir,
    config_hash,
    describe,
    load_config,
    profile_paths,
    read_config_file,
    to_dict,
)
from trader_cols.errors import ConfigError


def write(path, text: str):
    path.write_text(text)
    return path


def test_base_files_equal_the_code_defaults():
    # Arrange: base.yaml documents every default; the dataclasses must agree with it.
    loaded = load_config(env={})
    defaults = to_dict(Config())
    got = to_dict(loaded.config)
    # data_sanity profiles come from data_sanity.yaml, not the code defaults
    got["data_sanity"].pop("profiles")
    defaults["data_sanity"].pop("profiles")
    assert got == defaults


def test_later_files_win_and_lists_replace(tmp_path):
    a = write(tmp_path / "a.yaml", "tickers: [AAA, BBB, CCC]\nrisk: {max_position_pct: 0.1, vol_target: 0.2}\n")
    b = write(tmp_path / "b.yaml", "tickers: [ZZZ]\nrisk: {vol_target: 0.3}\n")
    loaded = load_config([*profile_paths(), a, b], env={})
    assert loaded.config.tickers == ("ZZZ",)
    assert loaded.config.risk.max_position_pct == 0.1  # merged, not replaced
    assert loaded.config.risk.vol_target == 0.3
    assert loaded.origins["risk.vol_target"] == str(b)
    assert loaded.origins["risk.max_position_pct"] == str(a)


def test_profiles_layer_over_base():
    low = load_config(profile_paths("risk_low"), env={}).config.risk
    strict = load_config(profile_paths("risk_strict"), env={}).config.risk
    assert low.max_position_pct < strict.max_position_pct
    assert strict.allow_short and not low.allow_short


def test_risk_strict_is_documented_as_aggressive():
    text = (config_dir() / "risk_strict.yaml").read_text()
    assert "AGGRESSIVE" in text


def test_env_overrides_win_over_files(tmp_path):
    env = {"MAX_POSITION_PCT": "0.05", "IBKR_PORT": "7497", "IBKR_PAPER_TRADING": "false",
           "TCOLS_WAREHOUSE": str(tmp_path), "LOG_LEVEL": "DEBUG"}
    loaded = load_config(env=env)
    c = loaded.config
    assert c.risk.max_position_pct == 0.05
    assert c.paper.ibkr.port == 7497
    assert c.paper.ibkr.paper_trading is False
    assert c.warehouse.path == str(tmp_path)
    assert c.logging.level == "DEBUG"
    assert loaded.origins["paper.ibkr.port"] == "env:IBKR_PORT"


def test_cli_overrides_win_over_env():
    loaded = load_config(env={"TCOLS_WAREHOUSE": "/from/env"}, overrides={"warehouse.path": "/from/cli"})
    assert loaded.config.warehouse.path == "/from/cli"


def test_json_config_files_are_accepted(tmp_path):
    p = write(tmp_path / "c.json", json.dumps({"engine": {"initial_capital": 5000}}))
    assert load_config([*profile_paths(), p], env={}).config.engine.initial_capital == 5000.0


@pytest.mark.parametrize(
    ("text", "key", "fragment"),
    [
        ("risk: {max_postion_pct: 0.1}\n", "risk.max_postion_pct", "did you mean 'max_position_pct'"),
        ("risk: {vol_target: -0.1}\n", "risk.vol_target", "out of range"),
        ("risk: {max_drawdown_pct: 1.5}\n", "risk.max_drawdown_pct", "out of range"),
        ("risk: {max_drawdown_pct: 0}\n", "risk.max_drawdown_pct", "out of range"),
        ("engine: {initial_capital: lots}\n", "engine.initial_capital", "expected a number"),
        ("engine: {fill_on: next_opn}\n", "engine.fill_on", "did you mean 'next_open'"),
        ("walkforward: {train_len: 2.5}\n", "walkforward.train_len", "expected an integer"),
        ("tickers: SPY\n", "tickers", "expected a list"),
        ("risk: 3\n", "risk", "expected a mapping"),
        ("data_sanity: {profile: strct}\n", "data_sanity.profile", "did you mean 'strict'"),
        ("asset_classes: {SPY: bond}\n", "asset_classes.SPY", "not an asset class"),
        ("risk: {allow_short: maybe}\n", "risk.allow_short", "expected true or false"),
    ],
)
def test_bad_values_name_file_and_key(tmp_path, text, key, fragment):
    p = write(tmp_path / "bad.yaml", text)
    with pytest.raises(ConfigError) as err:
        load_config([*profile_paths(), p], env={})
    msg = str(err.value)
    assert err.value.key == key
    assert err.value.file == str(p)
    assert str(p) in msg and key in msg and fragment in msg


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="file not found") as err:
        load_config([tmp_path / "nope.yaml"], env={})
    assert err.value.file.endswith("nope.yaml")


def test_unreadable_file(tmp_path):
    p = tmp_path / "binary.yaml"
    p.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ConfigError, match="cannot read"):
        read_config_file(p)


def test_invalid_yaml_gives_line_and_column(tmp_path):
    p = write(tmp_path / "broken.yaml", "risk:\n  max_position_pct: [0.1\n  vol_target: 2\n")
    with pytest.raises(ConfigError, match=r"invalid YAML at line \d+, column \d+") as err:
        load_config([p], env={})
    assert err.value.file == str(p)


def test_invalid_json_gives_line_and_column(tmp_path):
    p = write(tmp_path / "broken.json", '{"risk": {\n "vol_target": }\n}')
    with pytest.raises(ConfigError, match=r"invalid JSON at line 2, column \d+"):
        load_config([p], env={})


def test_top_level_must_be_mapping(tmp_path):
    p = write(tmp_path / "list.yaml", "- a\n- b\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config([p], env={})


@pytest.mark.parametrize(
    ("var", "value", "fragment"),
    [("IBKR_PORT", "four", "expected an integer"), ("MAX_POSITION_PCT", "lots", "expected a number"),
     ("IBKR_PAPER_TRADING", "perhaps", "expected a boolean"), ("MAX_POSITION_PCT", "25", "out of range")],
)
def test_bad_env_values(var, value, fragment):
    with pytest.raises(ConfigError, match=fragment) as err:
        load_config(env={var: value})
    assert var in str(err.value) or err.value.file == f"env:{var}"


def test_unknown_profile_suggests():
    with pytest.raises(ConfigError, match="did you mean 'risk_low'"):
        profile_paths("risk_lo")


def test_config_is_frozen():
    c = load_config(env={}).config
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.risk.max_position_pct = 0.9  # type: ignore[misc]


def test_hash_is_canonical_and_excludes_secrets(tmp_path):
    a = load_config(env={"DISCORD_WEBHOOK_URL": "https://discord.example/secret-1"})
    b = load_config(env={"DISCORD_WEBHOOK_URL": "https://discord.example/secret-2"})
    c = load_config(env={"MAX_POSITION_PCT": "0.11"})
    assert config_hash(a.config) == config_hash(b.config)
    assert config_hash(a.config) != config_hash(c.config)
    text = describe(a)
    assert "secret-1" not in text and "***" in text


def test_seed_aliases_fold_into_test_len_and_stride(tmp_path):
    p = write(tmp_path / "wf.yaml", "walkforward: {fold_length: 21, step_size: 10}\n")
    wf = load_config([*profile_paths(), p], env={}).config.walkforward
    assert (wf.test_len, wf.stride) == (21, 10)
