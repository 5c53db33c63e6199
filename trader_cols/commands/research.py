"""`tcols walkforward`, `tcols backtest`, `tcols runs` and `tcols strategies`."""

from __future__ import annotations

from datetime import date

import click

from trader_cols.commands._common import common_options, print_frame, session
from trader_cols.commands.ingest import parse_date, split_symbols


def _print_result(res) -> None:
    import polars as pl

    m = res.summary["metrics"]
    click.echo(f"run {res.run_id}: {res.summary['kind']} over {len(res.summary['symbols'])} symbols, "
               f"{res.summary['folds']} folds, out of sample {res.summary['oos_start'][:10]} .. {res.summary['oos_end'][:10]}"
               + ("  [optimistic: fills at the deciding bar's close]" if res.summary["optimistic_fills"] else ""))
    headline = pl.DataFrame([{k: m[k] for k in ("cagr", "sharpe", "sortino", "max_drawdown", "win_rate", "avg_trade",
                                               "turnover", "exposure", "trades", "end_equity")}])
    print_frame(headline.with_columns(pl.all().round(4)))
    if res.json_path:
        click.echo(f"summary: {res.json_path}")
    click.echo(f"query it: tcols sql \"SELECT * FROM fold_report WHERE run_id = '{res.run_id}'\"")


def _run(kind: str, symbols, start, end, **kw):
    from trader_cols.pipeline.walkforward import RunRequest, run

    sess = session()
    cfg = sess.config
    req = RunRequest(
        symbols=split_symbols(symbols) or tuple(cfg.tickers),
        start=parse_date(start, "--start") or date.fromisoformat(cfg.data.start),
        end=parse_date(end, "--end") or date.fromisoformat(cfg.data.end),
        kind=kind, interval=cfg.data.interval, **kw,
    )
    res = run(sess.open_warehouse(), req, cfg)
    _print_result(res)


@click.command("walkforward")
@click.option("--symbols", multiple=True, help="Symbols; default: config tickers.")
@click.option("--start-date", "--start", "start", help="First date of the walkforward (YYYY-MM-DD).")
@click.option("--end-date", "--end", "end", help="Last date (inclusive).")
@click.option("--train-len", type=click.IntRange(min=2), help="Training window in bars (config walkforward.train_len).")
@click.option("--test-len", type=click.IntRange(min=1), help="Test window in bars.")
@click.option("--stride", type=click.IntRange(min=1), help="Bars between fold starts.")
@click.option("--perf-mode", type=click.Choice(["RELAXED", "STRICT"], case_sensitive=False),
              help="STRICT: strict DataSanity, any finding fails the run; RELAXED: relaxed profile, warnings.")
@click.option("--validate-data", is_flag=True, help="Run DataSanity over the run's bars first.")
@click.option("--jobs", type=click.IntRange(min=1), default=None, help="Tune folds in N processes (same results).")
@click.option("--fast", is_flag=True, help="Small tuning grid.")
@click.option("--resume", "resume", metavar="RUN_ID", help="Continue a run: stored folds are not recomputed.")
@common_options
def walkforward_cmd(symbols, start, end, train_len, test_len, stride, perf_mode, validate_data, jobs, fast, resume):
    """Tune on each training window, trade the next test window out of sample, store everything."""
    _run("walkforward", symbols, start, end, train_len=train_len, test_len=test_len, stride=stride,
         perf_mode=perf_mode.upper() if perf_mode else None, validate_data=validate_data,
         jobs=jobs or session().config.engine.jobs, fast=fast, resume=resume)


@click.command("backtest")
@click.option("--symbols", multiple=True, help="Symbols; default: config tickers.")
@click.option("--start", help="First date (YYYY-MM-DD).")
@click.option("--end", help="Last date (inclusive).")
@click.option("--initial-capital", type=click.FloatRange(min=0, min_open=True), help="Starting cash.")
@click.option("--fast", is_flag=True, help="Small tuning grid.")
@click.option("--validate-data", is_flag=True, help="Run DataSanity over the bars first.")
@common_options
def backtest_cmd(symbols, start, end, initial_capital, fast, validate_data):
    """One in-sample run (tuned and traded on the same bars) through the walkforward's code. Not a forecast."""
    _run("backtest", symbols, start, end, initial_capital=initial_capital, fast=fast, validate_data=validate_data)


@click.command("runs")
@click.option("--compare", "compare", multiple=True, metavar="RUN_ID", help="Show these runs side by side.")
@click.option("--limit", type=int, default=20, show_default=True)
@common_options
def runs_cmd(compare, limit):
    """List runs (newest first) with their out-of-sample headline, or compare chosen ones."""
    wh = session().open_warehouse()
    cols = ("run_id, kind, status, started_at, n_folds, round(cagr, 4) AS cagr, round(sharpe, 3) AS sharpe, "
            "round(max_drawdown, 4) AS max_dd, round(win_rate, 3) AS win_rate, trades, round(end_equity, 2) AS "
            "end_equity, optimistic")
    if compare:
        df = wh.query(f"SELECT {cols} FROM run_summary WHERE list_contains($ids, run_id) ORDER BY started_at, run_id",
                      {"ids": list(compare)})
        missing = sorted(set(compare) - set(df["run_id"].to_list()))
        if missing:
            from trader_cols.errors import WarehouseError

            raise WarehouseError(f"no runs {', '.join(missing)} (see `tcols runs`)")
    else:
        df = wh.query(f"SELECT {cols} FROM run_summary ORDER BY started_at DESC, run_id LIMIT $n", {"n": limit})
    print_frame(df)


@click.command("strategies")
def strategies_cmd():
    """List the strategies with their parameters, defaults and tuning grids."""
    import polars as pl

    from trader_cols.strategies import REGISTRY

    rows = [
        {"strategy": s.name, "style": s.style, "param": p.name, "default": str(p.default),
         "grid": ", ".join(map(str, p.grid)), "fast_grid": ", ".join(map(str, p.fast_grid))}
        for s in REGISTRY.values() for p in s.params
    ]
    for s in REGISTRY.values():
        click.echo(f"{s.name}: {s.summary}")
    print_frame(pl.DataFrame(rows))


def register(cli: click.Group) -> None:
    for cmd in (walkforward_cmd, backtest_cmd, runs_cmd, strategies_cmd):
        cli.add_command(cmd)
