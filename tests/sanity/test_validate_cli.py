"""`tcols validate` and the validate use case over a real (temporary) warehouse."""

from __future__ import annotations

from datetime import UTC, date, datetime

import click
import polars as pl
import pytest
from click.testing import CliRunner

from trader_cols.commands import cli, main
from trader_cols.commands.validate import validate_cmd
from trader_cols.config import DataSanityConfig, load_config
from trader_cols.errors import DataSanityError
from trader_cols.pipeline.ingest import IngestRequest, ingest
from trader_cols.pipeline.validate import ValidateRequest, validate_stored
from trader_cols.warehouse import Warehouse, query_frames

CFG = load_config(env={}).config
NOW = datetime(2022, 1, 4, 12, tzinfo=UTC)


def stored(tmp_path, *, now=NOW, mode="warn") -> Warehouse:
    wh = Warehouse(tmp_path / "wh", lock_timeout_s=5.0)
    sanity = DataSanityConfig(profile="relaxed", mode=mode)
    req = IngestRequest(
        symbols=("AAA", "BBB", "BTC-USD"), start=date(2021, 1, 1), end=date(2021, 12, 31)
    )
    result = ingest(wh, req, sanity_cfg=sanity, data_cfg=CFG.data, now=now)
    assert not result.failures
    return wh


def corrupt_file(wh: Warehouse, symbol: str) -> None:
    """Make one low negative and swap two rows in the stored file (written behind the warehouse's back)."""
    path = wh.bar_file("1d", symbol)
    df = pl.read_parquet(path)
    df = df.with_columns(
        pl.when(pl.int_range(pl.len()) == 10).then(-1.0).otherwise(pl.col("low")).alias("low")
    )
    pl.concat([df.slice(0, 20), df.slice(21, 1), df.slice(20, 1), df.slice(22)]).write_parquet(path)


def test_clean_store_validates_and_findings_are_stored(tmp_path):
    wh = stored(tmp_path)
    result = validate_stored(
        wh, ValidateRequest(profile="strict", mode="enforce"), sanity_cfg=CFG.data_sanity, now=NOW
    )
    assert result.ok() and result.symbols == ("AAA", "BBB", "BTC-USD") and result.rows > 700
    assert result.report.errors().height == 0


def test_corrupted_store_is_reported_and_stored_for_sql(tmp_path):
    wh = stored(tmp_path)
    corrupt_file(wh, "BBB")
    result = validate_stored(
        wh,
        ValidateRequest(symbols=("BBB", "ZZZ"), profile="strict", mode="enforce"),
        sanity_cfg=CFG.data_sanity,
        now=NOW,
    )
    assert not result.ok() and result.missing == ("ZZZ",)
    assert set(result.report.findings["code"]) == {"price_nonpositive", "ts_not_monotonic"}
    assert result.worst_symbols()["symbol"].to_list() == ["BBB"]
    rows = wh.query(
        "SELECT code, severity, context, symbol FROM sanity_findings WHERE run_id = $r ORDER BY check_order",
        {"r": result.run_id},
    )
    assert rows.rows() == [
        ("ts_not_monotonic", "warn", "validate", "BBB"),
        ("price_nonpositive", "error", "validate", "BBB"),
    ]


def test_bars_stamped_after_their_ingest_are_found_by_the_sql_check(tmp_path):
    # warn mode lets bars later than the ingest time land; validate's SQL check finds them afterwards
    wh = stored(tmp_path, now=datetime(2021, 12, 30, 12, tzinfo=UTC), mode="warn")
    result = validate_stored(
        wh, ValidateRequest(symbols=("AAA",), mode="enforce"), sanity_cfg=CFG.data_sanity, now=NOW
    )
    late = result.report.findings.filter(pl.col("code") == "bar_after_ingest")
    assert late["ts"].to_list() == [datetime(2021, 12, 31, tzinfo=UTC)]
    assert late["severity"].to_list() == ["error"] and late["observed"][0] == 12 * 3600


def test_sql_check_on_frames():
    ts = pl.Series(
        [datetime(2024, 1, 2, tzinfo=UTC), datetime(2024, 1, 3, tzinfo=UTC)],
        dtype=pl.Datetime("us", "UTC"),
    )
    bars = pl.DataFrame(
        {"symbol": ["A", "A"], "interval": ["1d", "1d"], "ts": ts, "ingest_id": ["i1", "i1"]}
    )
    log = pl.DataFrame(
        {
            "ingest_id": ["i1"],
            "symbol": ["A"],
            "interval": ["1d"],
            "started_at": pl.Series(
                [datetime(2024, 1, 2, 12, tzinfo=UTC)], dtype=pl.Datetime("us", "UTC")
            ),
        }
    )
    dirty = query_frames("checks.bar_after_ingest", {"interval": "1d"}, bars=bars, ingest_log=log)
    assert dirty.select("symbol", "ts", "observed").rows() == [("A", ts[1], 43200.0)]
    clean = query_frames(
        "checks.bar_after_ingest", {"interval": "1d"}, bars=bars.head(1), ingest_log=log
    )
    assert clean.height == 0


def invoke(*args: str):
    group = click.Group(commands={"validate": validate_cmd})
    return CliRunner().invoke(group, ["validate", *args])


def test_cli_prints_counts_and_worst_symbols_and_fails_in_enforce_mode(tmp_path):
    wh = stored(tmp_path)
    corrupt_file(wh, "BBB")
    res = invoke("--warehouse", str(wh.root), "--profile", "strict", "--mode", "enforce")
    assert isinstance(res.exception, DataSanityError) and res.exception.exit_code == 5
    assert "findings per code:" in res.output and "worst symbols (top 10):" in res.output
    assert "price_nonpositive: 1 error(s), 0 warning(s) in 1 symbol(s)" in res.output
    table = [ln for ln in res.output.split("worst symbols")[1].splitlines() if ln.startswith("│")]
    assert table[1].startswith("│ BBB ")  # the first row under the header
    warn = invoke(
        "--warehouse", str(wh.root), "--profile", "strict", "--mode", "warn", "--symbols", "BBB"
    )
    assert warn.exit_code == 0 and "mode warn" in warn.output


def test_cli_is_registered_and_exit_codes_through_main(tmp_path, capsys):
    assert "validate" in cli.commands
    wh = stored(tmp_path)
    args = ["validate", "--warehouse", str(wh.root), "--symbols", "AAA", "BBB", "--mode", "enforce"]
    main(args)  # no error: returns normally (exit code 0)
    assert "validate val-" in capsys.readouterr().out
    corrupt_file(wh, "AAA")
    with pytest.raises(SystemExit) as bad:
        main(args)
    assert bad.value.code == 5
    err = capsys.readouterr().err
    assert "error: DataSanity refused the stored data: 1 error finding(s) in 1 symbol(s)" in err


def test_ingest_in_enforce_mode_quarantines_the_bad_symbol_and_lands_the_others(tmp_path):
    from trader_cols.errors import PartialFailure
    from trader_cols.sources.base import Fetched
    from trader_cols.sources.synthetic import fetch_synthetic

    def fetch(req, syms, start, end):
        bars = fetch_synthetic(syms, start, end, interval=req.interval, seed=req.seed).bars
        bad = (pl.col("symbol") == "BBB") & (pl.col("ts") == pl.col("ts").min())
        return Fetched.of(
            [bars.with_columns(pl.when(bad).then(-1.0).otherwise(pl.col("low")).alias("low"))]
        )

    wh = Warehouse(tmp_path / "wh", lock_timeout_s=5.0)
    req = IngestRequest(symbols=("AAA", "BBB"), start=date(2021, 1, 1), end=date(2021, 6, 30))
    sanity = DataSanityConfig(profile="strict", mode="enforce")
    result = ingest(
        wh, req, sanity_cfg=sanity, data_cfg=CFG.data, now=NOW, fetchers={"synthetic": fetch}
    )
    assert set(result.failures) == {"BBB"} and "price_nonpositive" in str(result.failures["BBB"])
    status = dict(zip(result.summary["symbol"], result.summary["status"], strict=True))
    assert status == {"AAA": "stored", "BBB": "rejected"}
    with pytest.raises(PartialFailure):
        result.raise_for_failures()
    assert wh.read_bars(["AAA"]).height > 100 and wh.read_bars(["BBB"]).height == 0
    q = wh.query("SELECT symbol, codes, count(*) AS n FROM quarantine GROUP BY ALL ORDER BY symbol")
    assert q.rows() == [("BBB", "price_nonpositive", 129)]
    f = wh.query(
        "SELECT symbol, code, severity FROM sanity_findings WHERE context = 'ingest' ORDER BY symbol"
    )
    assert ("BBB", "price_nonpositive", "error") in f.rows()


def test_ingest_in_warn_mode_lands_and_stores_findings(tmp_path):
    wh = stored(tmp_path, now=datetime(2021, 12, 31, 12, tzinfo=UTC), mode="warn")
    # the last daily bar is still open at the ingest time: the relaxed profile drops it, with an audit row
    repairs = wh.query("SELECT symbol, action FROM sanity_repairs ORDER BY symbol")
    assert repairs.rows() == [
        ("AAA", "drop_incomplete_bar"),
        ("BBB", "drop_incomplete_bar"),
        ("BTC-USD", "drop_incomplete_bar"),
    ]
    found = wh.query("SELECT DISTINCT code FROM sanity_findings ORDER BY code")["code"].to_list()
    assert "bar_incomplete" in found
    assert wh.read_bars(["AAA"])["ts"].max() < datetime(2021, 12, 31, tzinfo=UTC)
