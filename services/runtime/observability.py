"""One small HTTP port per service: Prometheus ``/metrics``, ``/healthz`` and ``/readyz``.

Liveness says the process's event loop still turns; readiness says the service has its
partitions and its database, so Kubernetes only routes to (and waits for) a working pod.
"""

import asyncio
import logging
import time

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

log = logging.getLogger(__name__)

# A liveness probe fails when the main loop has not beaten for this long.
STALL_AFTER_S = 60.0


class Health:
    def __init__(self) -> None:
        self._ready_reasons: dict[str, str] = {"starting": "service is starting"}
        self._last_beat = time.monotonic()

    def beat(self) -> None:
        self._last_beat = time.monotonic()

    def set_ready(self, component: str, ready: bool, reason: str = "") -> None:
        if ready:
            self._ready_reasons.pop(component, None)
        else:
            self._ready_reasons[component] = reason or "not ready"

    @property
    def ready(self) -> bool:
        return not self._ready_reasons

    def not_ready_reasons(self) -> dict[str, str]:
        return dict(self._ready_reasons)

    @property
    def alive(self) -> bool:
        return time.monotonic() - self._last_beat < STALL_AFTER_S


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
        if path == "/healthz":
            ok = self._health.alive
            return (200 if ok else 503), "text/plain", b"ok\n" if ok else b"main loop stalled\n"
        if path == "/readyz":
            if self._health.ready:
                return 200, "text/plain", b"ready\n"
            reasons = "".join(f"{k}: {v}\n" for k, v in self._health.not_ready_reasons().items())
            return 503, "text/plain", reasons.encode()
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
