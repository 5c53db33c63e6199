"""Discord webhook alerts (fills summary, NO-GO, halt, disconnect, error) sent with bounded, secret-safe retries.

The webhook URL is a secret: it never appears in logs, exceptions or return values. It is rewritten to the
versioned route /api/v10/webhooks/<id>/<token> (the unversioned route is served by an old API version whose
`retry_after` may be in milliseconds). Payloads keep Discord's limits (≤ 10 embeds, ≤ 6000 characters of embed
text, 25 fields per embed, per-field caps) and suppress every mention (`allowed_mentions: {"parse": []}`).

Answers: 2xx → "sent"; 429 → wait `retry_after` seconds (capped at `max_sleep_s`, injected sleep) and retry, at
most `max_retries` times, then "rate_limited"; 5xx or a network error → the same bounded retry with a doubling
wait, then "failed"; 400 (and other 4xx) → "rejected", no retry; 401/403/404 → the webhook is gone: alerts are
disabled for the life of this object, logged once, "gone". Sending never raises.
"""

from __future__ import annotations

import json
import math
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from trader_cols.config import DiscordConfig
from trader_cols.errors import ConfigError
from trader_cols.logs import get_logger

if TYPE_CHECKING:
    from trader_cols.brokers.base import Fill

AlertKind = Literal["fills", "no_go", "halt", "disconnect", "error"]
SendResult = Literal["sent", "disabled", "rejected", "gone", "rate_limited", "failed"]
KINDS: tuple[str, ...] = ("fills", "no_go", "halt", "disconnect", "error")
COLORS = {"fills": 0x2ECC71, "no_go": 0xE67E22, "halt": 0xE74C3C, "disconnect": 0xF1C40F, "error": 0xC0392B}

# Discord's limits (resources/message.mdx "Embed Limits", resources/webhook.mdx).
MAX_EMBEDS = 10
MAX_EMBED_CHARS = 6000  # title + description + field names/values + footer + author, over all embeds
MAX_TITLE = 256
MAX_DESCRIPTION = 4096
MAX_FIELDS = 25
MAX_FIELD_NAME = 256
MAX_FIELD_VALUE = 1024
MAX_FOOTER = 2048
MAX_USERNAME = 80

API_VERSION = 10
DISCORD_HOSTS = frozenset({"discord.com", "discordapp.com", "canary.discord.com", "ptb.discord.com"})
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_WEBHOOK_PATH = re.compile(r"^/api(?:/v\d+)?/webhooks/(\d+)/([A-Za-z0-9_.\-]+)/?$")
GONE_STATUSES = frozenset({401, 403, 404})
URL_HELP = "expected https://discord.com/api/webhooks/<id>/<token>"

log = get_logger("alerts")


@dataclass(frozen=True)
class Alert:
    """One alert. `fields` are (name, value) pairs shown as a table; `ts` is shown as the embed timestamp."""

    kind: AlertKind
    title: str
    description: str = ""
    fields: tuple[tuple[str, str], ...] = ()
    ts: datetime | None = None
    footer: str = "trader_cols"


# ----------------------------------------------------------------------------- alert builders


def fills_alert(fills: Sequence[Fill], *, ts: datetime | None = None, title: str = "Paper fills") -> Alert:
    """A summary of fills: counts, traded value and commission, then one field per fill."""
    bought = sum(f.qty * f.price for f in fills if f.side == "buy")
    sold = sum(f.qty * f.price for f in fills if f.side == "sell")
    fees = sum(f.commission for f in fills if not math.isnan(f.commission))
    desc = f"{len(fills)} fill(s): bought {bought:,.2f}, sold {sold:,.2f}, commission {fees:,.2f}"
    rows = tuple(
        (f"{f.side.upper()} {f.symbol}", f"{f.qty:g} @ {f.price:,.4f} · fee {f.commission:,.2f} · {f.client_order_id}")
        for f in fills
    )
    return Alert("fills", title, desc, rows, ts)


def no_go_alert(reasons: Iterable[str], *, ts: datetime | None = None) -> Alert:
    """Preflight said NO-GO: every reason, one per line."""
    lines = [f"• {r}" for r in reasons]
    return Alert("no_go", "NO-GO: paper trading will not start", "\n".join(lines) or "no reason given", (), ts)


def halt_alert(reason: str, detail: Mapping[str, Any] | None = None, *, ts: datetime | None = None) -> Alert:
    """Trading halted (loss cut, drawdown, …) with the numbers behind it."""
    return Alert("halt", f"HALT: {reason}", "", _pairs(detail), ts)


def disconnect_alert(message: str, detail: Mapping[str, Any] | None = None, *, ts: datetime | None = None) -> Alert:
    """The broker connection dropped (and maybe came back, with its reconciliation)."""
    return Alert("disconnect", "Broker connection", message, _pairs(detail), ts)


def error_alert(message: str, detail: Mapping[str, Any] | None = None, *, ts: datetime | None = None) -> Alert:
    """An error the operator should see."""
    return Alert("error", "Error", message, _pairs(detail), ts)


def _pairs(detail: Mapping[str, Any] | None) -> tuple[tuple[str, str], ...]:
    return tuple((str(k), v if isinstance(v, str) else json.dumps(v, default=str)) for k, v in (detail or {}).items())


# ----------------------------------------------------------------------------- payload


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def build_payload(alert: Alert, *, username: str = "trader_cols") -> dict[str, Any]:
    """The webhook JSON for `alert`, within Discord's limits.

    Fields go 25 to an embed over at most 10 embeds; what does not fit the 6000-character budget is dropped and
    counted in a last line ("… N more not shown").
    """
    color = COLORS.get(alert.kind, 0x95A5A6)
    title = _cut(alert.title or alert.kind, MAX_TITLE)
    footer = _cut(alert.footer, MAX_FOOTER)
    reserve = 40  # room for the "… N more not shown" line
    budget = MAX_EMBED_CHARS - reserve - len(footer)
    description = _cut(alert.description, min(MAX_DESCRIPTION, max(0, budget - len(title))))
    first: dict[str, Any] = {"title": title, "color": color, "footer": {"text": footer}}
    if description:
        first["description"] = description
    if alert.ts is not None:
        first["timestamp"] = alert.ts.isoformat()
    budget -= len(title) + len(description)
    embeds = [first]
    shown = 0
    for name, value in alert.fields:
        name, value = _cut(name or "-", MAX_FIELD_NAME), _cut(value or "-", MAX_FIELD_VALUE)
        cost = len(name) + len(value)
        if cost > budget:
            break
        if len(embeds[-1].get("fields", ())) == MAX_FIELDS:
            if len(embeds) == MAX_EMBEDS:
                break
            embeds.append({"color": color})
        embeds[-1].setdefault("fields", []).append({"name": name, "value": value, "inline": False})
        budget -= cost
        shown += 1
    left = len(alert.fields) - shown
    if left:
        note = f"… {left} more not shown"
        last = embeds[-1]
        last["description"] = f"{last['description']}\n{note}" if last.get("description") else note
    return {"username": _cut(username, MAX_USERNAME), "embeds": embeds, "allowed_mentions": {"parse": []}}


def embed_chars(payload: Mapping[str, Any]) -> int:
    """Characters Discord counts toward the 6000 limit of a payload's embeds."""
    total = 0
    for e in payload.get("embeds", ()):
        total += len(e.get("title", "")) + len(e.get("description", ""))
        total += len(e.get("footer", {}).get("text", "")) + len(e.get("author", {}).get("name", ""))
        total += sum(len(f["name"]) + len(f["value"]) for f in e.get("fields", ()))
    return total


# ----------------------------------------------------------------------------- URL


def webhook_endpoint(url: str) -> str:
    """The versioned execute-webhook URL for a Discord webhook URL; ConfigError (never echoing it) if malformed.

    https on a Discord host, or http/https on a loopback host (local test servers).
    """
    try:
        parts = urllib.parse.urlsplit(url.strip())
        host = (parts.hostname or "").lower()
    except ValueError:
        raise ConfigError(f"is not a URL ({URL_HELP})", key="alerts.discord.webhook_url") from None
    loopback = host in LOOPBACK_HOSTS
    if not (host in DISCORD_HOSTS and parts.scheme == "https") and not (loopback and parts.scheme in ("http", "https")):
        raise ConfigError(f"is not an https Discord webhook URL ({URL_HELP})", key="alerts.discord.webhook_url")
    m = _WEBHOOK_PATH.match(parts.path)
    if not m:
        raise ConfigError(f"has no /api/webhooks/<id>/<token> path ({URL_HELP})", key="alerts.discord.webhook_url")
    path = f"/api/v{API_VERSION}/webhooks/{m.group(1)}/{m.group(2)}"
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


# ----------------------------------------------------------------------------- sender


class DiscordAlerter:
    """Sends alerts to one Discord webhook from a `DiscordConfig`. Disabled config: every send is "disabled".

    `sleep` is the wait between retries (tests inject a recorder); `timeout_s` bounds each HTTP request.
    """

    def __init__(
        self,
        config: DiscordConfig,
        *,
        sleep: Callable[[float], None] = time.sleep,
        timeout_s: float = 10.0,
        username: str = "trader_cols",
    ):
        self.max_retries = config.max_retries
        self.max_sleep_s = config.max_sleep_s
        self.timeout_s = timeout_s
        self.username = username
        self._sleep = sleep
        self._enabled = bool(config.enabled)
        self._url: str | None = None
        self._secrets: tuple[str, ...] = ()
        if not self._enabled:
            return
        if not config.webhook_url:
            raise ConfigError("alerts are enabled but no webhook URL is set (DISCORD_WEBHOOK_URL)",
                              key="alerts.discord.webhook_url")
        self._url = webhook_endpoint(config.webhook_url)
        m = _WEBHOOK_PATH.match(urllib.parse.urlsplit(self._url).path)
        token = m.group(2) if m else ""
        self._secrets = tuple(s for s in (self._url, config.webhook_url.strip(), token) if s)
        host = (urllib.parse.urlsplit(self._url).hostname or "").lower()
        # Never send a local test server's traffic through an environment proxy.
        handlers = [urllib.request.ProxyHandler({})] if host in LOOPBACK_HOSTS else []
        self._opener = urllib.request.build_opener(*handlers)

    def __repr__(self) -> str:
        return f"<DiscordAlerter {'enabled' if self._enabled else 'disabled'}>"

    @property
    def enabled(self) -> bool:
        """False when configured off or after the webhook answered 401/403/404."""
        return self._enabled

    def send(self, alert: Alert) -> SendResult:
        """Post `alert`; never raises. See the module docstring for the retry rules."""
        if not self._enabled or self._url is None:
            log.debug("alert %s not sent: Discord alerts are disabled", alert.kind)
            return "disabled"
        body = json.dumps(build_payload(alert, username=self.username)).encode()
        retries = 0
        while True:
            status, headers, data = self._post(body)
            if status is not None and 200 <= status < 300:
                log.debug("alert %s sent", alert.kind)
                return "sent"
            if status in GONE_STATUSES:
                self._enabled = False
                log.error("Discord webhook answered %s (%s): alerts are disabled until restart; check "
                          "DISCORD_WEBHOOK_URL", status, self._discord_error(data))
                return "gone"
            if status == 429 or status is None or status >= 500:
                if retries >= self.max_retries:
                    result: SendResult = "rate_limited" if status == 429 else "failed"
                    log.warning("alert %s dropped after %d retries: %s", alert.kind, retries,
                                self._describe(status, data))
                    return result
                wait = self._retry_after(headers, data) if status == 429 else 2.0**retries
                wait = min(max(wait, 0.0), self.max_sleep_s)
                log.info("alert %s: %s; retrying in %.2f s", alert.kind, self._describe(status, data), wait)
                self._sleep(wait)
                retries += 1
                continue
            log.warning("alert %s rejected by Discord (%s %s); not retried", alert.kind, status,
                        self._discord_error(data))
            return "rejected"

    def _post(self, body: bytes) -> tuple[int | None, Mapping[str, str], bytes]:
        assert self._url is not None
        req = urllib.request.Request(self._url, data=body, method="POST", headers={
            "Content-Type": "application/json",
            "User-Agent": "trader_cols alerts (urllib)",
        })
        try:
            with self._opener.open(req, timeout=self.timeout_s) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as e:
            try:
                return e.code, dict(e.headers or {}), e.read()
            finally:
                e.close()
        except urllib.error.URLError as e:
            return None, {}, self._scrub(f"network error: {e.reason}").encode()
        except (TimeoutError, OSError) as e:
            return None, {}, self._scrub(f"network error: {type(e).__name__}: {e}").encode()

    def _retry_after(self, headers: Mapping[str, str], data: bytes) -> float:
        try:
            value = float(json.loads(data or b"{}").get("retry_after"))
        except (ValueError, TypeError, AttributeError):
            value = math.nan
        if not math.isfinite(value):
            try:
                value = float({k.lower(): v for k, v in headers.items()}.get("retry-after", "1"))
            except ValueError:
                value = 1.0
        return value if math.isfinite(value) else 1.0

    def _discord_error(self, data: bytes) -> str:
        try:
            info = json.loads(data or b"{}")
            text = f"code {info.get('code')}: {info.get('message')}" if isinstance(info, dict) else str(info)
        except ValueError:
            text = data[:200].decode(errors="replace")
        return self._scrub(text)[:300]

    def _describe(self, status: int | None, data: bytes) -> str:
        if status is None:
            return self._scrub(data.decode(errors="replace"))[:300]
        return f"HTTP {status} ({self._discord_error(data)})"

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text
