"""The `tcols` CLI end to end: one line per error, documented exit codes, --debug tracebacks, SQL output."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import polars as pl
import pytest

from trader_cols.commands import expand_multi_values, main


def errors(err: str) -> list[str]:
    """The error lines of stderr (log lines may precede them)."""
    return [ln for ln in err.splitlines() if ln.startswith("error: ")]


def tcols(capsys, *args, env=None):
    """Run `tcols args…` in-process; returns (exit code, stdout, stderr)."""
    old = dict(os.environ)
    os.environ.update(env or {})
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    finally:
        os.environ.clear()
        os.environ.update(old)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def wh(tmp_path):
    return str(tmp_path / "wh")


def test_symbols_take_every_following_word():
    assert expand_multi_values(["ingest", "--symbols", "SPY", "QQQ", "BTC-USD", "--start", "2020-01-01"]) == [
        "ingest", "--symbols", "SPY", "--symbols", "QQQ", "--symbols", "BTC-USD", "--start", "2020-01-01"]


def test_ingest_info_and_sql(capsys, wh):
    code, out, err = tcols(capsys, "ingest", "--warehouse", wh, "--source", "synthetic", "--symbols", "SPY", "ETH-USD",
                           "--start", "2021-01-01", "--end", "2021-03-31")
    assert code == 0, err
    assert "SPY" in out and "ETH-USD" in out and "stored" in out
    code, out, _ = tcols(capsys, "warehouse", "info", "--warehouse", wh)
    assert code == 0 and "2 series" in out
    code, out, _ = tcols(capsys, "sql", "--warehouse", wh, "--format", "json",
                         "SELECT symbol, count(*) AS n FROM bars GROUP BY symbol ORDER BY symbol")
    rows = json.loads(out)
    assert [r["symbol"] for r in rows] == ["ETH-USD", "SPY"]
    assert rows[0]["n"] == 90 and rows[1]["n"] == 64  # crypto every day (Q1 2021), equities Monday to Friday


def test_sql_writes_csv_and_parquet_files(capsys, wh, tmp_path):
    tcols(capsys, "ingest", "--warehouse", wh, "--source", "synthetic", "--symbols", "SPY",
          "--start", "2021-01-01", "--end", "2021-01-31")
    out_file = tmp_path / "o.parquet"
    code, out, _ = tcols(capsys, "sql", "--warehouse", wh, "-o", str(out_file), "SELECT * FROM bars ORDER BY ts")
    assert code == 0 and pl.read_parquet(out_file).height == 21
    code, out, _ = tcols(capsys, "sql", "--warehouse", wh, "--format", "csv", "SELECT count(*) AS n FROM bars")
    assert out.splitlines() == ["n", "21"]


def test_sql_is_read_only_unless_write(capsys, wh):
    code, _, err = tcols(capsys, "sql", "--warehouse", wh, "CREATE TABLE t (a INT)")
    assert code == 6 and len(errors(err)) == 1 and "read-only" in errors(err)[0]
    code, _, err = tcols(capsys, "sql", "--warehouse", wh, "--write", "CREATE TABLE t (a INT)")
    assert code == 0, err


def test_config_error_is_one_line_with_exit_code_3(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("risk: {max_postion_pct: 0.1}\n")
    code, _, err = tcols(capsys, "config", "show", "--config", str(bad))
    assert code == 3
    assert len(errors(err)) == 1 and "Traceback" not in err
    assert str(bad) in errors(err)[0] and "risk.max_postion_pct" in errors(err)[0]


def test_debug_shows_the_traceback(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("risk: {max_postion_pct: 0.1}\n")
    code, _, err = tcols(capsys, "config", "show", "--config", str(bad), "--debug")
    assert code == 3 and "Traceback" in err


def test_config_show_marks_origins(capsys, tmp_path):
    code, out, _ = tcols(capsys, "config", "show", "--profile", "risk_low", env={"IBKR_PORT": "7497"})
    assert code == 0
    line = next(ln for ln in out.splitlines() if ln.strip().startswith("max_position_pct"))
    assert line.strip().startswith("max_position_pct: 0.1") and line.endswith("risk_low.yaml")
    assert any(ln.strip() == "port: 7497  # env:IBKR_PORT" for ln in out.splitlines())


def test_partial_failure_prints_one_line_per_failed_symbol(capsys, wh, tmp_path):
    folder = tmp_path / "csv"
    folder.mkdir()
    (folder / "GOOD.csv").write_text("Date,Open,High,Low,Close,Volume\n2024-01-02,1,2,0.5,1.5,10\n")
    (folder / "BAD.csv").write_text("Date,Open\n2024-01-02,1\n")
    code, out, err = tcols(capsys, "ingest", "--warehouse", wh, "--source", "csv", "--path", str(folder),
                           "--symbols", "GOOD", "BAD", "MISSING", "--start", "2024-01-01", "--end", "2024-01-31")
    assert code == 10
    lines = errors(err)
    assert lines[0] == "error: 2 of 3 symbols failed: BAD, MISSING"
    assert lines[1].startswith("error: BAD: ") and "missing columns" in lines[1]
    assert lines[2].startswith("error: MISSING: ") and "not found" in lines[2]
    assert "GOOD" in out and "stored" in out


def test_bad_date_is_a_usage_error(capsys, wh):
    code, _, err = tcols(capsys, "ingest", "--warehouse", wh, "--start", "2020-13-45")
    assert code == 2 and "2020-13-45" in err


def test_help_is_instant_and_lists_commands():
    out = subprocess.run([sys.executable, "-m", "trader_cols", "--help"], capture_output=True, text=True, check=True)
    for cmd in ("ingest", "sql", "warehouse", "config"):
        assert cmd in out.stdout
