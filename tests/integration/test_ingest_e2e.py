"""End to end on the real broker: every simulated venue -> ingest service -> md.* topics.

All thirteen venue dialects (the twelve exchanges, Binance USD-M and COIN-M apart) run at once.
The simulator counts every event it really sent (WebSocket frames and REST answers); the topics
must hold exactly that many, per venue and channel, across venue disconnects in the middle (a
token-first venue with REST snapshots, and an Engine.IO one). Every channel a venue declares is
published. Books rebuilt from the topic, in partition order, must end on the venues' own books.
"""

import asyncio
import time
from collections import Counter, defaultdict
from decimal import Decimal

from schemas.common import ExchangeId
from schemas.market_data import BookDelta, BookSnapshot, ConnectorState, ConnectorStatus
from services.book_builder.core.builder import BookBuilder, BookState
from services.ingest.connector import ConnectorOptions
from services.ingest.connector.parse import CHANNEL_OF_EVENT
from services.ingest.service import FeedSpec, IngestService
from services.instruments.catalog import load_snapshot
from services.runtime.settings import Settings
from services.simulator.model import Fault, FaultKind, ModelConfig
from services.simulator.server import Simulator, SimulatorConfig
from services.venues import adapter_for, book_spec_for, registered_venues
from tests.integration.helpers import read_topic

VENUES: tuple[ExchangeId, ...] = tuple(registered_venues())
DROPPED = (ExchangeId.KUCOIN_FUTURES, ExchangeId.COINDCX)
MARKET_TOPICS = (
    "md.trades.v1",
    "md.book.v1",
    "md.bbo.v1",
    "md.funding.v1",
    "md.open_interest.v1",
    "md.liquidations.v1",
)


async def _wait(condition: object, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.05)


async def test_simulated_venues_reach_kafka_without_loss(settings: Settings) -> None:
    started = time.monotonic()
    market = ModelConfig(tick_s=0.05, funding_every_s=0.5, open_interest_every_s=0.5)
    config = SimulatorConfig(venues=VENUES, seed=2024, duration_s=60, model=market)
    async with Simulator(config) as simulator:
        feeds = [
            FeedSpec(venue, tuple(g.native_symbol for g in simulator.model.grids if g.venue == venue))
            for venue in VENUES
        ]
        options: dict[ExchangeId, ConnectorOptions] = {
            venue: simulator.connector_options(
                venue, backoff_initial_s=0.05, backoff_cap_s=0.5, open_interest_poll_s=0.5, seed=1
            )
            for venue in VENUES
        }
        service = IngestService(feeds, settings, options=options)
        running = asyncio.create_task(service.run())
        try:
            await _wait(lambda: len(service.connectors) == len(VENUES), 30)
            for connector in service.connectors.values():
                await connector.wait_connected(10)
            for venue in VENUES:
                simulator.inject(Fault(FaultKind.LIQUIDATION_BURST, venue=venue, duration_s=0.5))
            await asyncio.sleep(1.0)
            for dropped in DROPPED:
                simulator.inject(Fault(FaultKind.DISCONNECT, venue=dropped, duration_s=0.2))
            connections = [service.connectors[d].connections[0] for d in DROPPED]
            await _wait(lambda: all(c.sessions == 2 and c.connected.is_set() for c in connections), 10)
            await asyncio.sleep(1.0)
            await simulator.settle()
        finally:
            service.request_stop()
            await asyncio.wait_for(running, timeout=30)

    published: Counter[tuple[str, str]] = Counter()
    books: dict[str, list[BookSnapshot | BookDelta]] = defaultdict(list)
    for topic in MARKET_TOPICS:
        for record_key, event in await read_topic(settings, topic):
            assert record_key == event.key.encode()
            published[(event.exchange.value, CHANNEL_OF_EVENT[type(event)].value)] += 1
            if isinstance(event, BookSnapshot | BookDelta):
                books[event.key].append(event)
    sent = Counter(simulator.stats.sent_events)
    print(f"events sent {sum(sent.values())}, published {sum(published.values())}")
    for venue in VENUES:
        counts = {c: n for (v, c), n in sorted(published.items()) if v == venue.value}
        print(f"  {venue.value:15} {counts}")
    assert published == sent
    catalog = load_snapshot()
    expected = {(v.value, c.value) for v in VENUES for c in adapter_for(v, catalog).capabilities}
    assert set(published) == expected  # every channel of every venue, and nothing undeclared

    assert await read_topic(settings, "dlq.v1") == []
    statuses = [event for _, event in await read_topic(settings, "md.status.v1")]
    assert all(isinstance(s, ConnectorStatus) for s in statuses)
    by_venue: dict[ExchangeId, list[ConnectorState]] = defaultdict(list)
    for status in statuses:
        by_venue[status.exchange].append(status.state)
    for venue in VENUES:
        assert by_venue[venue][0] is ConnectorState.CONNECTED
        assert by_venue[venue][-1] is ConnectorState.DISCONNECTED  # the clean stop
    for dropped in DROPPED:
        assert ConnectorState.RESUBSCRIBED in by_venue[dropped]

    # In partition order, every book syncs (REST snapshots landed beside their diffs) and ends
    # on the venue's own top of book.
    for book_key, events in books.items():
        exchange = events[0].exchange
        rule = book_spec_for(exchange).rule
        assert rule is not None
        builder = BookBuilder(rule)
        for event in events:
            builder.on_event(event)
        assert builder.state is BookState.LIVE, book_key
        native = events[0].native_symbol
        grid = simulator.model.grid(exchange, native)
        assert grid is not None
        view = simulator.model.book(exchange, native, 1)
        instrument = catalog.get(exchange, native)
        best_bid = builder.book.best_bid()
        assert best_bid is not None
        assert Decimal(best_bid[0]) == instrument.base_price(view.bids[0][0] * grid.tick), book_key
    synced = {(events[0].exchange, events[0].native_symbol) for events in books.values()}
    assert synced == {(g.venue, g.native_symbol) for g in simulator.model.grids}
    elapsed = time.monotonic() - started
    print(f"end to end over {len(VENUES)} venues in {elapsed:.1f}s")
    assert elapsed < 60
