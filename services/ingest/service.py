"""The ingest service: live venue feeds in, normalized events on the ``md.*`` topics out.

``IngestService`` runs one ``VenueConnector`` per feed (exchange, symbols, channels) and
publishes what they produce: events on ``md.*`` keyed ``exchange:symbol`` (one instrument's
events share a partition, in venue order, REST snapshots included), connector lifecycle on
``md.status.v1``, rejected frames on ``dlq.v1``. Metrics and health are on the observability
port. SIGTERM stops the connectors (closing their sockets), then confirms every delivery: every
frame received before the stop is published.

Book resync: ``IngestService.request_snapshot(exchange, native_symbol)`` fetches a fresh REST
snapshot through the venue's rate limiter and publishes it into the book's partition. It is the
hook for the book builder's gap recovery; no request topic feeds it yet.

Configuration for ``perpwatch run ingest`` (until it moves into ``Settings``):
``PERPWATCH_INGEST_FEEDS`` (``Settings.ingest_feeds``) lists feeds as ``exchange:SYMBOL,SYMBOL[:channel,channel]`` joined
by ``;`` (symbols native or canonical, channels default to all the venue offers), and
``PERPWATCH_INGEST_ENDPOINTS`` points at a JSON file or string as printed by
``perpwatch simulate`` (``{"venues": {exchange: {"ws_url", "rest_url"}}}``) to override URLs.
"""

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import orjson

from schemas.common import ExchangeId, InstrumentEvent
from schemas.dead_letter import DeadLetter
from schemas.market_data import ConnectorStatus
from services.ingest.connector import ConnectorOptions, VenueConnector, resolve_symbols
from services.ingest.instrument_refresh import refresh_into_cache
from services.ingest.topics import topic_for
from services.ingest.venue import Channel
from services.instruments.catalog import InstrumentCatalog, load_snapshot
from services.runtime.observability import Health, ObservabilityServer
from services.runtime.process import run_process
from services.runtime.publisher import Publisher, PublisherStopped
from services.runtime.settings import Settings
from services.runtime.topics import ensure_topics
from services.venues import adapter_for

log = logging.getLogger(__name__)

SERVICE = "ingest"
STATUS_TOPIC = "md.status.v1"


@dataclass(frozen=True)
class FeedSpec:
    exchange: ExchangeId
    symbols: tuple[str, ...]
    """Native (BTCUSDT) or canonical (BTC-USDT-PERP) symbols."""
    channels: frozenset[Channel] = frozenset(Channel)


def parse_feed(text: str) -> FeedSpec:
    """``binance_usdm:BTCUSDT,ETHUSDT`` or ``okx:BTC-USDT-PERP:book,trades``."""
    parts = text.strip().split(":")
    if len(parts) not in (2, 3) or not parts[1]:
        raise ValueError(f"feed {text!r}: expected exchange:SYMBOL[,SYMBOL...][:channel,...]")
    exchange = ExchangeId(parts[0].strip())
    symbols = tuple(s.strip() for s in parts[1].split(",") if s.strip())
    channels = (
        frozenset(Channel(c.strip()) for c in parts[2].split(",") if c.strip())
        if len(parts) == 3
        else frozenset(Channel)
    )
    return FeedSpec(exchange, symbols, channels or frozenset(Channel))


def parse_feeds(text: str) -> list[FeedSpec]:
    return [parse_feed(part) for part in text.split(";") if part.strip()]


def endpoint_overrides(source: str) -> dict[ExchangeId, ConnectorOptions]:
    """Connector URL overrides from ``perpwatch simulate``'s endpoints JSON (a path or the JSON)."""
    text = source.strip()
    document = orjson.loads(text if text.startswith("{") else Path(text).read_bytes())
    return {
        ExchangeId(name): ConnectorOptions(ws_url=urls.get("ws_url"), rest_url=urls.get("rest_url"))
        for name, urls in document.get("venues", {}).items()
    }


class KafkaEventSink:
    """Connector output to Kafka: events keyed ``exchange:symbol``, status keyed by exchange.

    Deliveries are confirmed in the background (``IngestService`` calls ``publisher.confirm()``
    twice a second and at stop); a failed record is sent again on a new producer.
    """

    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher
        self.events_published = 0

    async def events(self, events: list[InstrumentEvent]) -> None:
        send = self.publisher.send
        for event in events:
            await send(topic_for(event), event)
        self.events_published += len(events)

    async def status(self, status: ConnectorStatus) -> None:
        await self.publisher.send(STATUS_TOPIC, status)

    async def reject(self, letter: DeadLetter) -> None:
        await self.publisher.send_dead_letter(letter)


class IngestService:
    def __init__(
        self,
        feeds: list[FeedSpec],
        settings: Settings,
        *,
        options: Mapping[ExchangeId, ConnectorOptions] | None = None,
        catalog: InstrumentCatalog | None = None,
    ) -> None:
        if not feeds:
            raise ValueError("no feeds to ingest (set PERPWATCH_INGEST_FEEDS)")
        self.feeds = feeds
        self.settings = settings
        self.health = Health()
        self._options = dict(options or {})
        self._stopping = asyncio.Event()
        self._server = ObservabilityServer(self.health, settings.metrics_port)
        self.connectors: dict[ExchangeId, VenueConnector] = {}
        self.sink: KafkaEventSink | None = None
        self.catalog = catalog or load_snapshot()
        # Validate everything before touching the network: a bad symbol fails at start-up.
        self._plan = [
            (
                adapter_for(feed.exchange, self.catalog),
                [i.native_symbol for i in resolve_symbols(feed.exchange, list(feed.symbols), self.catalog)],
                feed,
            )
            for feed in feeds
        ]

    @property
    def metrics_port(self) -> int:
        return self._server.port

    def request_stop(self) -> None:
        if not self._stopping.is_set():
            log.info("stop requested: closing feeds, then flushing")
            self._stopping.set()

    async def request_snapshot(self, exchange: ExchangeId, native_symbol: str) -> bool:
        """Re-publish a REST book snapshot for one instrument (the book builder's resync hook)."""
        connector = self.connectors.get(exchange)
        if connector is None:
            return False
        return await connector.request_snapshot(native_symbol)

    async def run(self) -> None:
        await self._server.start()
        publisher: Publisher | None = None
        tasks: list[asyncio.Task[None]] = []
        background: list[asyncio.Task[None]] = []
        try:
            await ensure_topics(self.settings)
            publisher = Publisher(self.settings, SERVICE, stopping=self._stopping)
            await publisher.start()
            self.sink = KafkaEventSink(publisher)
            for adapter, natives, feed in self._plan:
                connector = VenueConnector(
                    adapter,
                    natives,
                    feed.channels,
                    self.sink,
                    self._options.get(feed.exchange),
                    catalog=self.catalog,
                )
                self.connectors[feed.exchange] = connector
                tasks.append(asyncio.create_task(connector.run()))
            self.health.set_ready("starting", True)
            confirming = asyncio.create_task(self._confirm_deliveries(publisher))
            background = [confirming, asyncio.create_task(self._heartbeat(publisher))]
            log.info(
                "ingest started",
                extra={"feeds": [f"{f.exchange.value}:{','.join(f.symbols)}" for f in self.feeds]},
            )
            stop = asyncio.create_task(self._stopping.wait())
            # A feed or the delivery confirmation that ends by itself ends the service (and says why).
            await asyncio.wait([stop, confirming, *tasks], return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            if confirming.done() and not confirming.cancelled() and confirming.exception() is not None:
                log.error("delivery confirmation failed", exc_info=confirming.exception())
        finally:
            self.health.set_ready("stopping", False, "shutting down")
            await asyncio.gather(*(c.stop() for c in self.connectors.values()), return_exceptions=True)
            await asyncio.gather(*tasks, return_exceptions=True)
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            if publisher is not None:
                with contextlib.suppress(PublisherStopped):
                    await publisher.confirm()
                await publisher.stop()
            await self._server.stop()
            log.info("ingest stopped", extra={"events": self.sink.events_published if self.sink else 0})

    async def _confirm_deliveries(self, publisher: Publisher) -> None:
        """Twice a second: wait for what was sent, resending failures on a new producer."""
        while True:
            await publisher.confirm()
            await asyncio.sleep(0.5)

    async def _heartbeat(self, publisher: Publisher) -> None:
        while True:
            self.health.beat()
            self.health.components["producer"] = publisher.state
            for exchange, connector in self.connectors.items():
                up = all(c.connected.is_set() for c in connector.connections)
                self.health.set_ready(f"feed {exchange.value}", up, "a connection is down")
            await asyncio.sleep(0.5)


def feeds_from_settings(settings: Settings) -> tuple[list[FeedSpec], dict[ExchangeId, ConnectorOptions]]:
    feeds = parse_feeds(settings.ingest_feeds)
    endpoints = settings.ingest_endpoints
    return feeds, endpoint_overrides(endpoints) if endpoints else {}


async def refreshed_catalog(
    feeds: list[FeedSpec], options: Mapping[ExchangeId, ConnectorOptions], cache_dir: Path
) -> InstrumentCatalog:
    """Instrument metadata refreshed from each fed venue (bounded), cached, over the snapshot."""
    committed = load_snapshot(cache_dir)
    adapters = [adapter_for(exchange, committed) for exchange in {feed.exchange for feed in feeds}]
    rest_urls = {
        exchange: option.rest_url for exchange, option in options.items() if option.rest_url is not None
    }
    await refresh_into_cache(adapters, rest_urls, cache_dir)
    return load_snapshot(cache_dir)


def run_ingest(
    settings: Settings,
    feeds: list[FeedSpec] | None = None,
    options: Mapping[ExchangeId, ConnectorOptions] | None = None,
) -> None:
    """Entry point of ``perpwatch run ingest``: runs until SIGTERM or SIGINT, then drains."""
    if feeds is None:
        feeds, env_options = feeds_from_settings(settings)
        options = options or env_options
    planned: list[FeedSpec] = feeds

    async def build() -> IngestService:
        catalog = await refreshed_catalog(planned, options or {}, Path(settings.instrument_cache_dir))
        return IngestService(planned, settings, options=options, catalog=catalog)

    run_process(SERVICE, settings, build)
