"""One small HTTP port per service: Prometheus ``/metrics``, ``/healthz`` and ``/readyz``.

Liveness says the process's event loop still turns; readiness says the service has its
partitions and its database, so Kubernetes only routes to (and waits for) a working pod.
"""

import asyncio
import logging
import time
from typing import Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

log = logging.getLogger(__name__)

# A liveness probe fails when the main loop has not beaten for this long.
STALL_AFTER_S = 60.0


class Health:
    """What /healthz and /readyz report: liveness, readiness with reasons, and what feeds them.

    Status, for an operator at a glance:
    - ``unhealthy``: the main loop has not turned for ``STALL_AFTER_S`` (liveness fails);
    - ``degraded``: alive but not ready (the reasons say why: database, kafka, a feed...);
    - ``healthy``: alive and ready.
    """

    def __init__(self, service: str = "") -> None:
        self.service = service
        self._ready_reasons: dict[str, str] = {"starting": "service is starting"}
        self._started = time.monotonic()
        self._last_beat = self._started
        self._last_input: dict[str, float] = {}
        self.lag: dict[str, int] = {}
        self.components: dict[str, str] = {}

    def beat(self) -> None:
        self._last_beat = time.monotonic()

    def set_ready(self, component: str, ready: bool, reason: str = "") -> None:
        if ready:
            self._ready_reasons.pop(component, None)
        else:
            self._ready_reasons[component] = reason or "not ready"

    def saw_input(self, topic: str) -> None:
        self._last_input[topic] = time.monotonic()

    @property
    def ready(self) -> bool:
        return not self._ready_reasons

    def not_ready_reasons(self) -> dict[str, str]:
        return dict(self._ready_reasons)

    @property
    def alive(self) -> bool:
        return time.monotonic() - self._last_beat < STALL_AFTER_S

    def report(self) -> dict[str, Any]:
        now = time.monotonic()
        if not self.alive:
            status, reason = "unhealthy", f"main loop stalled for {now - self._last_beat:.0f}s"
        elif not self.ready:
            status = "degraded"
            reason = "; ".join(f"{k}: {v}" for k, v in self._ready_reasons.items())
        else:
            status, reason = "healthy", ""
        return {
            "service": self.service,
            "status": status,
            "reason": reason,
            "ready": self.ready and self.alive,
            "uptime_s": round(now - self._started, 1),
            "inputs": {
                topic: {
                    "last_message_age_s": round(now - seen, 1)
                    if (seen := self._last_input.get(topic))
                    else None,
                    "consumer_lag": self.lag.get(topic),
                }
                for topic in sorted(self._last_input.keys() | self.lag.keys())
            },
            "components": dict(self.components),
            "not_ready": self.not_ready_reasons(),
        }


class ObservabilityServer:
    """A minimal HTTP/1.1 server on asyncio: no extra thread, no web framework."""

    def __init__(self, health: Health, port: int, registry: CollectorRegistry = REGISTRY) -> None:
        self._health = health
        self._port = port
        self._registry = registry
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            return self._port
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, host="0.0.0.0", port=self._port)
        log.info("observability endpoint listening", extra={"port": self.port})

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def _route(self, path: str) -> tuple[int, str, bytes]:
        if path == "/metrics":
            return 200, CONTENT_TYPE_LATEST, generate_latest(self._registry)
        if path in ("/healthz", "/readyz"):
            report = self._health.report()
            ok = report["status"] != "unhealthy" if path == "/healthz" else report["ready"]
            return (200 if ok else 503), "application/json", orjson.dumps(report) + b"\n"
        return 404, "text/plain", b"not found\n"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await asyncio.wait_for(reader.readline(), timeout=5)
            while (await asyncio.wait_for(reader.readline(), timeout=5)) not in (b"\r\n", b"\n", b""):
                pass
            parts = request_line.decode("latin-1").split()
            path = parts[1].split("?")[0] if len(parts) >= 2 else "/"
            status, content_type, body = self._route(path)
            reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[status]
            writer.write(
                f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
