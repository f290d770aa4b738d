"""``perpwatch run api``: the query API, its WebSocket and the dashboard on uvicorn.

Start order: topics exist, the Kafka feed is assigned (at the latest offsets, md.status.v1 read
back a little), then the HTTP server listens. The shared observability port serves /metrics,
/healthz and /readyz as for every service.
"""

import asyncio
import contextlib
import logging
import socket
from pathlib import Path
from typing import Any

import uvicorn

from services.api.app import Rules, create_app
from services.api.feed import KafkaFeed
from services.api.hub import Hub
from services.api.settings import ApiSettings
from services.api.store import PostgresStore
from services.instruments.catalog import load_snapshot
from services.runtime.http import EmbeddedServer
from services.runtime.observability import Health, ObservabilityServer
from services.runtime.process import run_process
from services.runtime.settings import Settings, get_settings
from services.runtime.topics import ensure_topics

log = logging.getLogger(__name__)

SERVICE = "api"


def alert_rules(settings: Settings) -> tuple[Rules | None, Any]:
    """The alert service's rule store and validator, when that package is importable."""
    try:
        from schemas.alert import AlertRule
        from schemas.topics import TOPICS_BY_NAME
        from services.alert.core.catalog import registered_catalog
        from services.alert.core.rules import compile_rule
        from services.alert.rules_api import RuleStore
        from services.alert.service import AlertSettings, input_topics
    except ImportError:
        log.warning("alert rules endpoints off: services.alert is not importable", exc_info=True)
        return None, None
    catalog = registered_catalog(input_topics(AlertSettings().inputs, list(TOPICS_BY_NAME)))
    store = RuleStore(settings)
    return Rules(model=AlertRule, validate=lambda rule: compile_rule(rule, catalog), store=store), store


class Api:
    """The API's components and their lifecycle; :meth:`run` serves until :meth:`request_stop`."""

    def __init__(self, settings: Settings, api: ApiSettings | None = None) -> None:
        self.settings = settings
        self.api = api or ApiSettings()
        self.health = Health(SERVICE)
        self.hub = Hub(self.api.topics(), self.api.ws_queue)
        self.feed = KafkaFeed(settings, self.hub, self.api.topics(), self.api.status_history)
        self.store = PostgresStore(
            settings.database_url, connections=self.api.db_connections, timeout_s=self.api.db_timeout_s
        )
        self._observability = ObservabilityServer(self.health, settings.metrics_port)
        self._server: uvicorn.Server | None = None
        self._rule_store: Any = None
        self._port = self.api.port
        self.serving = asyncio.Event()
        self.stopping = asyncio.Event()

    @property
    def port(self) -> int:
        """The bound HTTP port once :attr:`serving` is set (useful with port 0)."""
        return self._port

    @property
    def metrics_port(self) -> int:
        return self._observability.port

    def request_stop(self) -> None:
        self.stopping.set()
        if self._server is not None:
            self._server.should_exit = True

    async def run(self) -> None:
        await self._observability.start()
        beat = asyncio.create_task(self._beat())
        try:
            self.health.set_ready("kafka", False, "assigning the live topics")
            await ensure_topics(self.settings)
            await self.feed.start()
            self.health.set_ready("kafka", True)
            if self.stopping.is_set():
                return
            rules, self._rule_store = alert_rules(self.settings)
            catalog = load_snapshot(Path(self.settings.instrument_cache_dir))
            app = create_app(self.api, self.store, self.hub, catalog, rules)
            config = uvicorn.Config(
                app,
                host=self.api.host,
                port=self.api.port,
                log_config=None,  # the service's own JSON logging
                access_log=False,  # the correlation middleware logs each request once
                ws="websockets-sansio",
                lifespan="off",
            )
            self._server = EmbeddedServer(config)
            sock = config.bind_socket()
            if self.api.socket_send_buffer:
                # Accepted connections inherit it from the listening socket.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.api.socket_send_buffer)
            self._port = int(sock.getsockname()[1])
            log.info(
                "api listening",
                extra={
                    "host": self.api.host,
                    "port": self._port,
                    "dashboard": f"http://127.0.0.1:{self._port}/",
                },
            )
            self.health.set_ready("starting", True)
            self.serving.set()
            await self._server.serve(sockets=[sock])
        finally:
            beat.cancel()
            await self._shutdown()

    async def _beat(self) -> None:
        while True:
            self.health.beat()
            self.health.components["websocket_clients"] = str(len(self.hub.subscribers))
            await asyncio.sleep(1)

    async def _shutdown(self) -> None:
        self.health.set_ready("stopping", False, "shutting down")
        await self.feed.stop()
        if self._rule_store is not None:
            with contextlib.suppress(Exception):
                await self._rule_store.close()
        await self._observability.stop()
        log.info("api stopped")


def run_api(settings: Settings) -> None:
    """Entry point of ``perpwatch run api``: serves until SIGTERM or SIGINT."""
    run_process(SERVICE, settings, lambda: Api(settings))


if __name__ == "__main__":
    run_api(get_settings())
