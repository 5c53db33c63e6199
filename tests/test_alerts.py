"""Discord alerts against a local scripted webhook server: payload limits, 204/429/404/400/5xx, no secret leaks."""

from __future__ import annotations

import json
import logging
import socket
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from trader_cols.alerts import (
    DiscordAlerter,
    build_payload,
    disconnect_alert,
    embed_chars,
    error_alert,
    fills_alert,
    halt_alert,
    no_go_alert,
    webhook_endpoint,
)
from trader_cols.brokers.base import Fill
from trader_cols.config import DiscordConfig
from trader_cols.errors import ConfigError

pytestmark = pytest.mark.timeout(60)
TOKEN = "sEcReT-t0ken_abcdefghijklmnopqrstuvwxyz0123456789"
WEBHOOK_ID = "112233445566778899"
T = datetime(2024, 1, 2, 21, 0, tzinfo=UTC)


@dataclass
class Scripted:
    """What the local server answers, in order (the last answer repeats), and what it received."""

    script: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)
    requests: list[tuple[str, str, dict]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def server():
    state = Scripted()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                state.requests.append((self.path, self.headers.get("Content-Type"), json.loads(body)))
                status, headers, payload = state.script.pop(0) if len(state.script) > 1 else state.script[0]
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):  # keep the test output (and the secret path) quiet
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/api/webhooks/{WEBHOOK_ID}/{TOKEN}"
    yield state
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


@pytest.fixture
def logs():
    """Every record of the trader_cols.alerts logger (attached directly: propagation may be off)."""
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record):
            records.append(record)

    handler = Collect(logging.DEBUG)
    lg = logging.getLogger("trader_cols.alerts")
    old = lg.level
    lg.setLevel(logging.DEBUG)
    lg.addHandler(handler)
    yield records
    lg.removeHandler(handler)
    lg.setLevel(old)


def alerter(server: Scripted, sleeps: list[float], **cfg) -> DiscordAlerter:
    conf = DiscordConfig(enabled=True, webhook_url=server.url, **({"max_retries": 3, "max_sleep_s": 5.0} | cfg))
    return DiscordAlerter(conf, sleep=sleeps.append, timeout_s=5.0)


def no_secret(records, *values):
    text = " ".join(r.getMessage() + " " + str(r.args) + " " + str(r.exc_text or "") for r in records)
    text += " ".join(str(v) for v in values)
    assert TOKEN not in text and "/webhooks/" not in text


def fill(i: int, side: str = "buy") -> Fill:
    return Fill(f"x{i}", f"tc-1-SYM{i}-abc", f"SYM{i}", side, 10.0 + i, 100.0 + i, 1.0, T)


def json_body(obj) -> bytes:
    return json.dumps(obj).encode()


def test_payload_respects_discord_limits():
    long = "x" * 5000
    alert = fills_alert([fill(i, "buy" if i % 2 else "sell") for i in range(400)], ts=T, title="t" * 300)
    alert = type(alert)(alert.kind, alert.title, long, alert.fields + (("n" * 400, "v" * 2000),), T)
    payload = build_payload(alert)
    embeds = payload["embeds"]
    assert 1 <= len(embeds) <= 10 and embed_chars(payload) <= 6000
    assert payload["allowed_mentions"] == {"parse": []}
    assert len(embeds[0]["title"]) <= 256 and len(embeds[0]["description"]) <= 4096
    assert embeds[0]["timestamp"] == "2024-01-02T21:00:00+00:00"
    for e in embeds:
        assert len(e.get("fields", [])) <= 25
        assert all(len(f["name"]) <= 256 and len(f["value"]) <= 1024 for f in e.get("fields", []))
    assert "more not shown" in embeds[-1]["description"]


def test_small_fills_summary_shows_every_fill():
    payload = build_payload(fills_alert([fill(1), fill(2, "sell")], ts=T))
    [embed] = payload["embeds"]
    assert embed["description"] == "2 fill(s): bought 1,111.00, sold 1,224.00, commission 2.00"
    assert [f["name"] for f in embed["fields"]] == ["BUY SYM1", "SELL SYM2"]
    assert embed["fields"][0]["value"] == "11 @ 101.0000 · fee 1.00 · tc-1-SYM1-abc"
    assert embed["color"] == 0x2ECC71


def test_other_alert_kinds():
    ng = build_payload(no_go_alert(["data stale: SPY last bar 3 days old", "walkforward Sharpe -0.2 < 0"]))
    assert ng["embeds"][0]["title"].startswith("NO-GO") and ng["embeds"][0]["description"].count("•") == 2
    h = build_payload(halt_alert("max drawdown 35% reached", {"equity": 65000.0, "peak": 100000.0}))
    assert h["embeds"][0]["fields"] == [{"name": "equity", "value": "65000.0", "inline": False},
                                        {"name": "peak", "value": "100000.0", "inline": False}]
    d = build_payload(disconnect_alert("reconnected after 2 attempts", {"new_fills": ["e1"]}))
    assert d["embeds"][0]["fields"][0]["value"] == '["e1"]'
    assert build_payload(error_alert("boom"))["embeds"][0]["description"] == "boom"


def test_204_is_sent_to_the_v10_route(server, logs):
    server.script = [(204, {}, b"")]
    sleeps: list[float] = []
    a = alerter(server, sleeps)
    alert = no_go_alert(["x"], ts=T)
    assert a.send(alert) == "sent"
    [(path, ctype, payload)] = server.requests
    assert path == f"/api/v10/webhooks/{WEBHOOK_ID}/{TOKEN}" and ctype == "application/json"
    assert payload == build_payload(alert) and sleeps == []
    no_secret(logs, repr(a))


def test_429_waits_retry_after_then_succeeds(server, logs):
    server.script = [(429, {"Retry-After": "1"}, json_body({"message": "You are being rate limited.",
                                                           "retry_after": 0.25, "global": False})),
                     (204, {}, b"")]
    sleeps: list[float] = []
    assert alerter(server, sleeps).send(error_alert("e")) == "sent"
    assert sleeps == [0.25] and len(server.requests) == 2
    no_secret(logs)


def test_429_wait_is_capped_and_retries_are_bounded(server, logs):
    server.script = [(429, {}, json_body({"retry_after": 120.0}))]
    sleeps: list[float] = []
    assert alerter(server, sleeps, max_retries=2, max_sleep_s=3.0).send(error_alert("e")) == "rate_limited"
    assert sleeps == [3.0, 3.0] and len(server.requests) == 3
    server.requests.clear()
    server.script = [(429, {"Retry-After": "0.5"}, b"not json"), (204, {}, b"")]
    sleeps.clear()
    assert alerter(server, sleeps).send(error_alert("e")) == "sent"
    assert sleeps == [0.5]  # the header when the body has no retry_after
    no_secret(logs)


def test_404_disables_and_logs_once(server, logs):
    server.script = [(404, {"Content-Type": "application/json"}, json_body({"message": "Unknown Webhook",
                                                                           "code": 10015}))]
    sleeps: list[float] = []
    a = alerter(server, sleeps)
    assert a.send(error_alert("e")) == "gone"
    assert not a.enabled
    assert a.send(error_alert("again")) == "disabled" and a.send(halt_alert("h")) == "disabled"
    assert len(server.requests) == 1 and sleeps == []
    errors = [r for r in logs if r.levelno >= logging.WARNING]
    assert len(errors) == 1 and "10015" in errors[0].getMessage()
    no_secret(logs, repr(a))


def test_400_is_not_retried(server, logs):
    server.script = [(400, {}, json_body({"code": 50035, "message": "Invalid Form Body"}))]
    sleeps: list[float] = []
    a = alerter(server, sleeps)
    assert a.send(error_alert("e")) == "rejected"
    assert len(server.requests) == 1 and sleeps == [] and a.enabled
    assert any("50035" in r.getMessage() for r in logs if r.levelno == logging.WARNING)
    no_secret(logs)


def test_5xx_retries_with_backoff(server, logs):
    server.script = [(502, {}, b"bad gateway"), (500, {}, b""), (204, {}, b"")]
    sleeps: list[float] = []
    assert alerter(server, sleeps).send(error_alert("e")) == "sent"
    assert sleeps == [1.0, 2.0]
    no_secret(logs)


def test_unreachable_webhook_fails_without_raising(logs):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/api/webhooks/{WEBHOOK_ID}/{TOKEN}"
    sleeps: list[float] = []
    a = DiscordAlerter(DiscordConfig(enabled=True, webhook_url=url, max_retries=2), sleep=sleeps.append,
                       timeout_s=2.0)
    assert a.send(error_alert("e")) == "failed"
    assert sleeps == [1.0, 2.0]
    no_secret(logs)


def test_disabled_config_sends_nothing():
    a = DiscordAlerter(DiscordConfig(enabled=False, webhook_url=None))
    assert a.send(error_alert("e")) == "disabled" and not a.enabled


@pytest.mark.parametrize(
    "url, expected",
    [
        (f"https://discord.com/api/webhooks/{WEBHOOK_ID}/{TOKEN}",
         f"https://discord.com/api/v10/webhooks/{WEBHOOK_ID}/{TOKEN}"),
        (f"https://discordapp.com/api/v9/webhooks/{WEBHOOK_ID}/{TOKEN}/?thread_id=5",
         f"https://discordapp.com/api/v10/webhooks/{WEBHOOK_ID}/{TOKEN}?thread_id=5"),
        (f"http://localhost:8080/api/webhooks/{WEBHOOK_ID}/{TOKEN}",
         f"http://localhost:8080/api/v10/webhooks/{WEBHOOK_ID}/{TOKEN}"),
    ],
)
def test_webhook_url_is_rewritten_to_v10(url, expected):
    assert webhook_endpoint(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        f"http://discord.com/api/webhooks/{WEBHOOK_ID}/{TOKEN}",  # not https
        f"https://evil.example/api/webhooks/{WEBHOOK_ID}/{TOKEN}",  # not Discord
        f"https://discord.com/webhooks/{WEBHOOK_ID}/{TOKEN}",  # wrong path
        f"https://discord.com/api/webhooks/abc/{TOKEN}",  # id not numeric
        f"not a url {TOKEN}",
    ],
)
def test_bad_webhook_urls_are_config_errors_that_do_not_echo_the_secret(url):
    with pytest.raises(ConfigError) as err:
        DiscordAlerter(DiscordConfig(enabled=True, webhook_url=url))
    assert TOKEN not in str(err.value) and err.value.key == "alerts.discord.webhook_url"
    assert "discord.com/api/webhooks/<id>/<token>" in str(err.value)


def test_enabled_without_url_is_a_config_error():
    with pytest.raises(ConfigError, match="no webhook URL"):
        DiscordAlerter(DiscordConfig(enabled=True, webhook_url=None))


def test_config_repr_hides_the_webhook_url(server):
    conf = DiscordConfig(enabled=True, webhook_url=server.url)
    assert TOKEN not in repr(conf) and TOKEN not in repr(DiscordAlerter(conf))
