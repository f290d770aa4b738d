"""Webhook delivery from the ``alert_outbox`` table: nothing lost, nothing sent twice by key.

The alert service writes one outbox row per delivered notification and webhook in the same
batch as its ``alerts.v1`` event, before it commits its offsets; this worker sends them:

- a due row is *claimed* by pushing its ``next_attempt_at`` one lease ahead (``FOR UPDATE SKIP
  LOCKED``: several workers never take the same row); a worker killed mid-delivery leaves the row
  to be retried when the lease ends, with the same idempotency key, which the receiver uses to
  drop the copy;
- a 2xx (or 409: the receiver already has that key) marks it delivered, and it is never sent
  again, across restarts;
- a failure (connection refused, timeout, 5xx, 408, 429) is retried with exponential backoff
  and full jitter until ``delivery_deadline_s`` after the row was written, then given up with
  the last error (logged, and kept in the row); another 4xx is given up at once.

Payload formats per target: ``json`` (the ``alerts.v1`` notification itself, which carries
``idempotency_key``), ``slack`` (incoming-webhook ``text`` + ``attachments``) and ``telegram``
(Bot API ``sendMessage``: ``chat_id`` + ``text``). Every request carries the
``Idempotency-Key`` header.
"""

import asyncio
import contextlib
import logging
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import aiohttp
import psycopg
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.alert.metrics import OUTBOX_AGE, WEBHOOK_ATTEMPTS
from services.runtime.observability import Health, ObservabilityServer
from services.runtime.settings import Settings

log = logging.getLogger(__name__)

Format = Literal["json", "slack", "telegram"]
_RETRYABLE_4XX = frozenset({408, 425, 429})


@dataclass(frozen=True)
class WebhookTarget:
    name: str
    url: str
    format: Format = "json"
    chat_id: str = ""


def parse_webhooks(text: str) -> list[WebhookTarget]:
    """``name=url[|format[:chat_id]]`` joined by ','. Raises ``ValueError`` on a malformed entry."""
    targets: list[WebhookTarget] = []
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        name, sep, rest = entry.partition("=")
        url, _, fmt_text = rest.partition("|")
        fmt, _, chat_id = fmt_text.partition(":")
        name, url, fmt = name.strip(), url.strip(), (fmt.strip() or "json")
        if not sep or not name or not url.startswith(("http://", "https://")):
            raise ValueError(f"webhook entry {entry!r} is not name=http(s)://url[|format]")
        if fmt not in ("json", "slack", "telegram"):
            raise ValueError(f"webhook {name!r}: format {fmt!r} is not json, slack or telegram")
        if fmt == "telegram" and not chat_id:
            raise ValueError(f"webhook {name!r}: telegram needs a chat id: url|telegram:CHAT_ID")
        if any(t.name == name for t in targets):
            raise ValueError(f"webhook {name!r} is listed twice")
        targets.append(WebhookTarget(name, url, fmt, chat_id.strip()))  # type: ignore[arg-type]
    return targets


def _headline(note: dict[str, Any]) -> str:
    state = "RESOLVED" if note.get("status") == "resolved" else "FIRING"
    return f"[{state}] [{str(note.get('severity', '')).upper()}] {note.get('summary', '')}"


def render(target: WebhookTarget, note: dict[str, Any]) -> dict[str, Any]:
    """The request body for a target, from the ``alerts.v1`` notification as JSON."""
    if target.format == "json":
        return note
    labels = note.get("labels") or {}
    if target.format == "slack":
        color = (
            "good"
            if note.get("status") == "resolved"
            else ("danger" if note.get("severity") == "critical" else "warning")
        )
        return {
            "text": _headline(note),
            "attachments": [
                {
                    "color": color,
                    "fields": [{"title": k, "value": v, "short": True} for k, v in sorted(labels.items())]
                    + [{"title": "value", "value": str(note.get("value")), "short": True}],
                    "footer": f"perpwatch alert {note.get('idempotency_key', '')}",
                }
            ],
        }
    lines = [_headline(note), *(f"{k}: {v}" for k, v in sorted(labels.items()))]
    return {
        "chat_id": target.chat_id,
        "text": "\n".join(lines),
        "disable_web_page_preview": True,
    }


def backoff_s(attempt: int, *, base_s: float, cap_s: float, rng: random.Random) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2^(attempt-1))]."""
    return rng.uniform(0, min(cap_s, base_s * 2 ** max(0, attempt - 1)))


class DeliverySettings(BaseSettings):
    """Webhook delivery knobs, from ``PERPWATCH_ALERT_*`` (the targets are shared with the service)."""

    model_config = SettingsConfigDict(env_prefix="PERPWATCH_ALERT_", extra="ignore", frozen=True)

    webhooks: str = Field(default="", description="Targets `name=url[|format[:chat_id]]` joined by ','.")
    delivery_deadline_s: float = Field(
        default=3600.0, gt=0, description="Give a notification up after this long."
    )
    delivery_timeout_s: float = Field(default=5.0, gt=0, description="Timeout of one HTTP request.")
    delivery_lease_s: float = Field(
        default=30.0, gt=0, description="A claimed row is retried after this long."
    )
    delivery_backoff_s: float = Field(default=0.5, gt=0, description="First retry delay (before jitter).")
    delivery_max_backoff_s: float = Field(default=60.0, gt=0, description="Cap of the retry delay.")
    delivery_poll_s: float = Field(default=0.5, gt=0, description="Pause when nothing is due.")
    delivery_batch: int = Field(default=100, ge=1, description="Rows claimed at once.")


_CLAIM = """
UPDATE alert_outbox o
SET next_attempt_at = now() + make_interval(secs => %(lease)s), attempts = o.attempts + 1
FROM (
    SELECT idempotency_key, webhook FROM alert_outbox
    WHERE delivered_at IS NULL AND gave_up_at IS NULL AND next_attempt_at <= now()
      AND webhook = ANY(%(webhooks)s)
    ORDER BY event_ts, idempotency_key
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
) due
WHERE o.idempotency_key = due.idempotency_key AND o.webhook = due.webhook
RETURNING o.idempotency_key, o.webhook, o.payload, o.attempts, o.created_at, o.event_ts
"""


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    retry: bool
    error: str


class OutboxDelivery:
    def __init__(
        self,
        database_url: str,
        targets: list[WebhookTarget],
        settings: DeliverySettings | None = None,
        *,
        metrics_port: int | None = None,
    ) -> None:
        self._url = database_url
        self._targets = {t.name: t for t in targets}
        self._settings = settings or DeliverySettings()
        self._rng = random.Random()
        self.stopping = asyncio.Event()
        self.delivered = 0
        self.failures = 0
        self.given_up = 0
        self.health = Health("alert-delivery")
        self.metrics_port = metrics_port

    def request_stop(self) -> None:
        self.stopping.set()

    async def run(self) -> None:
        if not self._targets:
            log.warning("no webhook configured (PERPWATCH_ALERT_WEBHOOKS): nothing to deliver")
        # The same /healthz, /readyz and /metrics port as every service, when one is asked for.
        server = (
            ObservabilityServer(self.health, self.metrics_port) if self.metrics_port is not None else None
        )
        if server is not None:
            await server.start()
        self.health.set_ready("starting", True)
        timeout = aiohttp.ClientTimeout(total=self._settings.delivery_timeout_s)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as session:
                while not self.stopping.is_set():
                    self.health.beat()
                    try:
                        sent = await self.deliver_due(session)
                        self.health.set_ready("database", True)
                    except psycopg.OperationalError as exc:
                        log.warning("database unavailable, delivery paused", extra={"error": str(exc)})
                        self.health.set_ready("database", False, str(exc)[:200])
                        sent = 0
                        await self._pause(2.0)
                    if not sent:
                        await self._pause(self._settings.delivery_poll_s)
        finally:
            if server is not None:
                await server.stop()

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), timeout=seconds)

    async def deliver_due(self, session: aiohttp.ClientSession) -> int:
        """Claim and send what is due now; returns how many rows were attempted."""
        s = self._settings
        async with await psycopg.AsyncConnection.connect(self._url, autocommit=True) as conn:
            rows = await (
                await conn.execute(
                    _CLAIM,
                    {"lease": s.delivery_lease_s, "webhooks": list(self._targets), "limit": s.delivery_batch},
                )
            ).fetchall()
            if rows:
                OUTBOX_AGE.set(max((datetime.now(UTC) - row[4]).total_seconds() for row in rows))
            for key, webhook, payload, attempts, created_at, _ in rows:
                outcome = await self._send(session, self._targets[webhook], key, payload)
                await self._record(conn, key, webhook, attempts, created_at, outcome)
        return len(rows)

    async def _send(
        self, session: aiohttp.ClientSession, target: WebhookTarget, key: str, payload: dict[str, Any]
    ) -> Outcome:
        headers = {"Idempotency-Key": key, "User-Agent": "perpwatch-alert/1"}
        try:
            async with session.post(target.url, json=render(target, payload), headers=headers) as answer:
                status = answer.status
                if 200 <= status < 300 or status == 409:
                    return Outcome(True, False, "")
                text = (await answer.text())[:300]
                return Outcome(False, status >= 500 or status in _RETRYABLE_4XX, f"HTTP {status}: {text}")
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return Outcome(False, True, f"{type(exc).__name__}: {exc}"[:300])

    async def _record(
        self,
        conn: psycopg.AsyncConnection[Any],
        key: str,
        webhook: str,
        attempts: int,
        created_at: datetime,
        outcome: Outcome,
    ) -> None:
        s = self._settings
        if outcome.delivered:
            WEBHOOK_ATTEMPTS.labels(webhook, "delivered").inc()
            self.delivered += 1
            await conn.execute(
                "UPDATE alert_outbox SET delivered_at = now(), last_error = ''"
                " WHERE idempotency_key = %s AND webhook = %s",
                (key, webhook),
            )
            return
        self.failures += 1
        age_s = (datetime.now(UTC) - created_at).total_seconds()
        if not outcome.retry or age_s >= s.delivery_deadline_s:
            WEBHOOK_ATTEMPTS.labels(webhook, "given_up").inc()
            self.given_up += 1
            log.error(
                "webhook delivery given up",
                extra={"key": key, "webhook": webhook, "attempts": attempts, "error": outcome.error},
            )
            await conn.execute(
                "UPDATE alert_outbox SET gave_up_at = now(), last_error = %s"
                " WHERE idempotency_key = %s AND webhook = %s",
                (outcome.error, key, webhook),
            )
            return
        WEBHOOK_ATTEMPTS.labels(webhook, "retry").inc()
        delay = backoff_s(
            attempts, base_s=s.delivery_backoff_s, cap_s=s.delivery_max_backoff_s, rng=self._rng
        )
        await conn.execute(
            "UPDATE alert_outbox SET next_attempt_at = now() + make_interval(secs => %s), last_error = %s"
            " WHERE idempotency_key = %s AND webhook = %s",
            (delay, outcome.error, key, webhook),
        )


def run(settings: Settings) -> None:
    """Entry point of the webhook delivery process (``perpwatch run alert-delivery``)."""
    from services.runtime.process import run_process

    delivery = DeliverySettings()
    run_process(
        "alert-delivery",
        settings,
        lambda: OutboxDelivery(
            settings.database_url,
            parse_webhooks(delivery.webhooks),
            delivery,
            metrics_port=settings.metrics_port,
        ),
    )
