"""`tcols paper` (and `paper status`), `tcols preflight` and `tcols health`."""

from __future__ import annotations

import sys

import click

from trader_cols.commands._common import common_options, print_frame, session
from trader_cols.commands.ingest import parse_date, split_symbols

NO_GO_EXIT = 1  # preflight said NO-GO (0 = GO)


def _config_or_error():
    """(config, None) or (None, message) when the config does not load."""
    from trader_cols.errors import ConfigError

    try:
        return session().config, None
    except ConfigError as exc:
        return None, str(exc)


def _replay(values):
    if not values:
        return None
    start, end = (parse_date(v, "--replay") for v in values)
    if end < start:
        raise click.BadParameter(f"END {end} is before START {start}", param_hint="--replay")
    return start, end


def _probe(kind: str, cfg, *, keep: bool = False):
    """A function that connects the configured broker and says what it found (IBKR: the paper account)."""

    def probe() -> str:
        if kind == "sim":
            return "simulated broker (in process, always a paper account)"
        from trader_cols.brokers.ibkr import IbkrBroker

        broker = IbkrBroker(cfg.paper.ibkr, asset_classes=cfg.asset_classes)
        broker.connect()
        try:
            return f"IBKR {broker.where} connected, paper account {broker.account}"
        finally:
            if not keep:
                broker.disconnect()

    return probe


@click.group("paper", invoke_without_command=True)
@click.option("--symbols", multiple=True, help="Symbols; default: config tickers.")
@click.option("--broker", type=click.Choice(["sim", "ibkr"]), help="Broker; default: config paper.broker.")
@click.option("--once", is_flag=True, help="Run one cycle (the bars that are new) and exit.")
@click.option("--every", type=click.Choice(["1d", "1h", "15m"]), help="Wake period; default: config paper.every.")
@click.option("--replay", nargs=2, metavar="START END", help="Replay stored history START..END (dates) through the "
              "simulated broker.")
@click.option("--params-run", metavar="RUN_ID", help="Trade the chosen parameters of this run (default: the latest "
              "walkforward made with this config).")
@click.option("--name", help="Session name (default: derived from broker, symbols and interval).")
@click.option("--no-ingest", is_flag=True, help="Live: decide on the stored bars, do not ingest first.")
@click.option("--max-cycles", type=click.IntRange(min=1), help="Stop after this many cycles.")
@common_options
@click.pass_context
def paper_cmd(ctx, symbols, broker, once, every, replay, params_run, name, no_ingest, max_cycles):
    """Paper trade: preflight, then a cycle per new bar (live) or per stored bar (--replay), every step journalled.

    Exit codes: 0 done, 1 NO-GO (nothing traded), others as for every command (README)."""
    if ctx.invoked_subcommand is not None:
        return
    from trader_cols.paper import PaperRequest, run_paper
    from trader_cols.paper.status import read_status

    cfg, error = _config_or_error()
    if cfg is None:
        click.echo(f"NO-GO\n  FAIL config: {error}")
        sys.exit(NO_GO_EXIT)
    window = _replay(replay)
    if once and every:
        raise click.BadParameter("--once runs one cycle; --every keeps waking: choose one", param_hint="--every")
    req = PaperRequest(
        symbols=split_symbols(symbols) or tuple(cfg.tickers), interval=cfg.data.interval,
        broker="sim" if window else (broker or cfg.paper.broker), replay=window, once=once, every=every,
        params_run=params_run, refresh_data=not no_ingest, name=name, max_cycles=max_cycles,
    )
    if window and broker == "ibkr":
        raise click.BadParameter("a replay runs through the simulated broker", param_hint="--broker")
    wh = session().open_warehouse()
    result = run_paper(wh, req, cfg)
    if result.preflight is not None and result.preflight.checks:
        click.echo(result.preflight.text())
    if result.status == "no_go":
        sys.exit(NO_GO_EXIT)
    click.echo(f"session {result.paper_id}: {result.status}, {result.cycles} cycle(s) run")
    for line in read_status(wh, result.paper_id).lines():
        click.echo(line)


@paper_cmd.command("status")
@click.option("--name", help="Session id (default: the most recently active).")
@click.option("--list", "list_all", is_flag=True, help="List every session.")
@common_options
def status_cmd(name, list_all):
    """Positions, P&L today, drawdown, last cycle, halts and recent events of a paper session."""
    from trader_cols.paper.status import list_sessions, read_status

    wh = session().open_warehouse()
    if list_all:
        print_frame(list_sessions(wh))
        return
    st = read_status(wh, name)
    for line in st.lines():
        click.echo(line)
    if st.positions.height:
        click.echo("positions:")
        print_frame(st.positions)
    if st.events.height:
        click.echo("recent events:")
        print_frame(st.events)


@click.command("preflight")
@click.option("--symbols", multiple=True, help="Symbols; default: config tickers.")
@click.option("--broker", type=click.Choice(["sim", "ibkr"]), help="Broker; default: config paper.broker.")
@click.option("--replay", nargs=2, metavar="START END", help="Check for a replay of START..END instead.")
@click.option("--params-run", metavar="RUN_ID", help="Judge this run instead of the latest walkforward.")
@common_options
def preflight_cmd(symbols, broker, replay, params_run):
    """GO or NO-GO for paper trading, with every reason. Exit codes: 0 GO, 1 NO-GO."""
    from datetime import UTC, datetime

    from trader_cols.paper.preflight import preflight

    cfg, error = _config_or_error()
    wh = session().open_warehouse() if cfg is not None else None
    window = _replay(replay)
    report = preflight(
        wh, cfg, symbols=(split_symbols(symbols) or tuple(cfg.tickers)) if cfg else (), interval=cfg.data.interval
        if cfg else "1d", now=datetime.now(UTC), replay=window, params_run=params_run,
        connect_broker=_probe("sim" if window else (broker or cfg.paper.broker), cfg) if cfg else None,
        config_error=error,
    )
    click.echo(report.text())
    if not report.go:
        if cfg is not None:
            from trader_cols.alerts import DiscordAlerter, no_go_alert

            DiscordAlerter(cfg.alerts.discord).send(no_go_alert(report.reasons))
        sys.exit(NO_GO_EXIT)


@click.command("health")
@click.option("--symbols", multiple=True, help="Symbols to check when there is no session yet.")
@click.option("--broker", type=click.Choice(["sim", "ibkr"]), help="Broker to probe; default: the session's.")
@click.option("--name", help="Paper session id (default: the most recently active).")
@common_options
def health_cmd(symbols, broker, name):
    """Warehouse, config, data freshness, broker connectivity and the paper loop's last cycle, one line each.

    Exit codes (fit for cron and monitoring): 0 all OK, 1 a warning, 2 something critical."""
    from datetime import UTC, datetime

    from trader_cols.errors import TraderColsError
    from trader_cols.paper.health import exit_code, health
    from trader_cols.paper.status import pick_session

    cfg, error = _config_or_error()
    wh = sess_row = None
    if cfg is not None:
        wh = session().open_warehouse()
        try:
            sess_row = pick_session(wh, name)
        except TraderColsError:
            sess_row = None
    kind = broker or (sess_row["broker"] if sess_row else (cfg.paper.broker if cfg else "sim"))
    checks = health(wh, cfg, now=datetime.now(UTC), symbols=split_symbols(symbols) or (tuple(cfg.tickers) if cfg
                    else ()), interval=cfg.data.interval if cfg else "1d", session=sess_row,
                    probe_broker=_probe(kind, cfg) if cfg else None, config_error=error)
    for c in checks:
        click.echo(f"{c.level.upper():4} {c.name}: {c.detail}")
    sys.exit(exit_code(checks))


def register(cli: click.Group) -> None:
    for cmd in (paper_cmd, preflight_cmd, health_cmd):
        cli.add_command(cmd)
