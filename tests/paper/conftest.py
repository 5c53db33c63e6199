"""Fixtures for the paper tests: a stored synthetic history, configs, a backtest run to take parameters from."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import logging
import shutil
import sys
import threading
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from trader_cols.alerts import DiscordAlerter
from trader_cols.config import Config, DiscordConfig, load_config
from trader_cols.pipeline.ingest import IngestRequest, ingest
from trader_cols.pipeline.walkforward import RunRequest, run
from trader_cols.warehouse import Warehouse

SYMBOLS = ("AAA", "BTC-USD")  # an equity (weekdays) and crypto (every day): mixed calendars
HISTORY = (date(2019, 1, 1), date(2020, 6, 30))
BASE = load_config(env={}).config
TOKEN_SUFFIX = "sEcReTsEcReT"  # must never reach the journal


def fake_gateway_module():
    """tests/brokers/fake_gateway.py (the loopback fake TWS gateway), loaded by path: test folders are not a package
    tree under pytest's importlib mode."""
    name = "tcols_tests_fake_gateway"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).parents[1] / "brokers" / "fake_gateway.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up here
        spec.loader.exec_module(module)
    return sys.modules[name]


def paper_config(risk: dict | None = None, engine: dict | None = None, gate: dict | None = None,
                 base: Config = BASE) -> Config:
    """The base config (its stop loss included) with a permissive gate and the given overrides."""
    g = {"min_sharpe": -100.0, "min_trades": 0, "max_drawdown_pct": 0.99} | (gate or {})
    return dataclasses.replace(
        base,
        risk=dataclasses.replace(base.risk, **(risk or {})),
        engine=dataclasses.replace(base.engine, **(engine or {})),
        paper=dataclasses.replace(base.paper, gate=dataclasses.replace(base.paper.gate, **g)),
    )


@pytest.fixture(scope="session")
def stored_history(tmp_path_factory):
    """A warehouse holding AAA and BTC-USD daily bars for 2019-01-01 .. 2020-06-30 (synthetic, seed 11)."""
    root = tmp_path_factory.mktemp("paper") / "base"
    wh = Warehouse(root)
    req = IngestRequest(symbols=SYMBOLS, start=HISTORY[0], end=HISTORY[1], seed=11)
    ingest(wh, req, sanity_cfg=BASE.data_sanity, data_cfg=BASE.data).raise_for_failures()
    return root


@pytest.fixture
def wh(stored_history, tmp_path) -> Warehouse:
    """A private copy of the stored history."""
    root = tmp_path / "wh"
    shutil.copytree(stored_history, root)
    return Warehouse(root, lock_timeout_s=10.0)


def backtest(wh: Warehouse, cfg: Config, start: date, end: date, symbols=SYMBOLS):
    """`tcols backtest` over [start, end] (fast grid): the run whose parameters the paper session trades."""
    return run(wh, RunRequest(symbols=symbols, start=start, end=end, kind="backtest", fast=True,
                              ingest_missing=False), cfg, results_dir=None)


@dataclass
class Webhook:
    """A local Discord stand-in: answers 204 and keeps every payload."""

    url: str = ""
    payloads: list[dict] = field(default_factory=list)

    def titles(self) -> list[str]:
        return [e["title"] for p in self.payloads for e in p["embeds"]]

    def alerter(self) -> DiscordAlerter:
        return DiscordAlerter(DiscordConfig(enabled=True, webhook_url=self.url), sleep=lambda _s: None, timeout_s=5.0)


@pytest.fixture
def webhook():
    hook = Webhook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            hook.payloads.append(json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0)))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    hook.url = f"http://127.0.0.1:{httpd.server_address[1]}/api/webhooks/123456789/t0ken-{TOKEN_SUFFIX}"
    yield hook
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


@pytest.fixture(autouse=True)
def restore_logging():
    """The CLI sets up the trader_cols logger on the test's (captured, soon closed) stderr: undo it afterwards."""
    lg = logging.getLogger("trader_cols")
    saved = (list(lg.handlers), lg.level, lg.propagate)
    yield
    for h in list(lg.handlers):
        if h not in saved[0]:
            lg.removeHandler(h)
    lg.setLevel(saved[1])
    lg.propagate = saved[2]
