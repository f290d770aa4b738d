"""``perpwatch run gateway``: the venue's REST and WebSocket front door on uvicorn.

Start order: topics exist, the idempotent command producer is up, the market-data view has read
every committed md record (so the first depth answer is whole), then the HTTP server listens.
The shared observability port serves /metrics, /healthz and /readyz as for every service.
"""

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

import uvicorn

from services.matching.gateway.app import create_app
from services.matching.gateway.commands import KafkaCommandPublisher
from services.matching.gateway.feed import MarketDataFeed
from services.matching.gateway.market import MarketData
from services.matching.gateway.orders import OrderStoreUnavailable, PostgresOrderStatus
from services.matching.gateway.settings import GatewaySettings
from services.runtime.http import EmbeddedServer
from services.runtime.observability import Health, ObservabilityServer
from services.runtime.process import run_process
from services.runtime.publisher import Publisher
from services.runtime.settings import Settings, get_settings
from services.runtime.topics import ensure_topics

log = logging.getLogger(__name__)

SERVICE = "gateway"
# How often /readyz's database check runs: order status reads need it.
DATABASE_CHECK_INTERVAL_S = 5.0


class Gateway:
    """The gateway's components and their lifecycle; :meth:`run` serves until :meth:`request_stop`."""

    def __init__(self, settings: Settings, gateway: GatewaySettings | None = None) -> None:
        self.settings = settings
        self.gateway = gateway or GatewaySettings()
        self.health = Health()
        self.market = MarketData(self.gateway.ws_buffer)
        self.feed = MarketDataFeed(settings, self.market)
        self.orders = PostgresOrderStatus(settings.database_url)
        self._publisher: Publisher | None = None
        self._observability = ObservabilityServer(self.health, settings.metrics_port)
        self._server: uvicorn.Server | None = None
        self._port = self.gateway.port
        self.serving = asyncio.Event()
        self.stopping = asyncio.Event()

    @property
    def port(self) -> int:
        """The bound HTTP port once :attr:`serving` is set (useful with port 0)."""
        return self._port

    def request_stop(self) -> None:
        self.stopping.set()
        if self._server is not None:
            self._server.should_exit = True

    async def _watch_database(self) -> None:
        """Keep /readyz's ``database`` component true to the database, checked from the start.

        Without it the gateway said ready with a wrong database password until the first read.
        """
        was_ready = True
        while not self.stopping.is_set():
            try:
                await self.orders.check()
                self.health.set_ready("database", True)
                if not was_ready:
                    log.info("order store reachable again")
                was_ready = True
            except OrderStoreUnavailable as exc:
                self.health.set_ready("database", False, str(exc).strip()[:200] or "unreachable")
                if was_ready:
                    log.warning("order store unreachable", extra={"error": str(exc).strip()[:300]})
                was_ready = False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), timeout=DATABASE_CHECK_INTERVAL_S)

    async def run(self) -> None:
        await self._observability.start()
        self.health.set_ready("database", False, "not checked yet")
        watch = asyncio.create_task(self._watch_database())
        try:
            await ensure_topics(self.settings)
            self._publisher = Publisher(self.settings, SERVICE, stopping=self.stopping)
            await self._publisher.start()
            await self.feed.start()
            self.health.set_ready("market data", False, "reading venue.md.v1")
            self.health.set_ready("starting", True)
            await _first_of(self.feed.wait_caught_up(), self.stopping.wait())
            if self.stopping.is_set():
                return
            self.health.set_ready("market data", True)
            app = create_app(
                self.gateway, KafkaCommandPublisher(self._publisher, self.settings), self.orders, self.market
            )
            config = uvicorn.Config(
                app,
                host=self.gateway.host,
                port=self.gateway.port,
                log_config=None,  # the service's own JSON logging
                access_log=False,
                ws="websockets-sansio",
                lifespan="off",
            )
            self._server = EmbeddedServer(config)
            # Bound here rather than in serve(): the port is known (port 0 in tests) before serving.
            sock = config.bind_socket()
            self._port = int(sock.getsockname()[1])
            log.info("gateway listening", extra={"host": self.gateway.host, "port": self._port})
            self.serving.set()
            await self._server.serve(sockets=[sock])
        finally:
            watch.cancel()
            await asyncio.gather(watch, return_exceptions=True)
            await self._shutdown()

    async def _shutdown(self) -> None:
        self.health.set_ready("stopping", False, "shutting down")
        await self.feed.stop()
        if self._publisher is not None:
            with contextlib.suppress(Exception):
                await self._publisher.stop()
        await self.orders.close()
        await self._observability.stop()
        log.info("gateway stopped")


async def _first_of(*waits: Coroutine[Any, Any, Any]) -> None:
    tasks = [asyncio.create_task(wait) for wait in waits]
    _, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)


def run_gateway(settings: Settings) -> None:
    """Entry point of ``perpwatch run gateway``: serves until SIGTERM or SIGINT."""
    run_process(SERVICE, settings, lambda: Gateway(settings))


if __name__ == "__main__":
    run_gateway(get_settings())
