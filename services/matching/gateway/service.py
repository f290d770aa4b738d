"""``perpwatch run gateway``: the venue's REST and WebSocket front door on uvicorn.

Start order: topics exist, the idempotent command producer is up, the market-data view has read
every committed md record (so the first depth answer is whole), then the HTTP server listens.
The shared observability port serves /metrics, /healthz and /readyz as for every service.
"""

import asyncio
import contextlib
import logging
import signal
from collections.abc import Coroutine, Iterator
from typing import Any

import uvicorn
from aiokafka import AIOKafkaProducer

from services.matching.gateway.app import create_app
from services.matching.gateway.commands import KafkaCommandPublisher
from services.matching.gateway.feed import MarketDataFeed
from services.matching.gateway.market import MarketData
from services.matching.gateway.orders import PostgresOrderStatus
from services.matching.gateway.settings import GatewaySettings
from services.runtime.kafka import make_producer
from services.runtime.logs import configure_logging
from services.runtime.observability import Health, ObservabilityServer
from services.runtime.settings import Settings, get_settings
from services.runtime.topics import ensure_topics

log = logging.getLogger(__name__)

SERVICE = "gateway"


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signals to the process: ``run_gateway`` stops it on SIGTERM/SIGINT."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class Gateway:
    """The gateway's components and their lifecycle; :meth:`run` serves until :meth:`request_stop`."""

    def __init__(self, settings: Settings, gateway: GatewaySettings | None = None) -> None:
        self.settings = settings
        self.gateway = gateway or GatewaySettings()
        self.health = Health()
        self.market = MarketData(self.gateway.ws_buffer)
        self.feed = MarketDataFeed(settings, self.market)
        self.orders = PostgresOrderStatus(settings.database_url)
        self._producer: AIOKafkaProducer | None = None
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

    async def run(self) -> None:
        await self._observability.start()
        try:
            await ensure_topics(self.settings)
            self._producer = make_producer(self.settings)
            await self._producer.start()
            await self.feed.start()
            self.health.set_ready("market data", False, "reading venue.md.v1")
            self.health.set_ready("starting", True)
            await _first_of(self.feed.wait_caught_up(), self.stopping.wait())
            if self.stopping.is_set():
                return
            self.health.set_ready("market data", True)
            app = create_app(
                self.gateway, KafkaCommandPublisher(self._producer, self.settings), self.orders, self.market
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
            self._server = _EmbeddedServer(config)
            # Bound here rather than in serve(): the port is known (port 0 in tests) before serving.
            sock = config.bind_socket()
            self._port = int(sock.getsockname()[1])
            log.info("gateway listening", extra={"host": self.gateway.host, "port": self._port})
            self.serving.set()
            await self._server.serve(sockets=[sock])
        finally:
            await self._shutdown()

    async def _shutdown(self) -> None:
        self.health.set_ready("stopping", False, "shutting down")
        await self.feed.stop()
        if self._producer is not None:
            with contextlib.suppress(Exception):
                await self._producer.stop()
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
    configure_logging(SERVICE, settings.log_level, settings.log_format)

    async def main() -> None:
        gateway = Gateway(settings)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, gateway.request_stop)
        await gateway.run()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())


if __name__ == "__main__":
    run_gateway(get_settings())
