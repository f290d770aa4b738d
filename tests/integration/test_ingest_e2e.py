"""End to end on the real broker: simulated venues -> ingest service -> md.* topics.

The simulator counts every event it really sent (WebSocket frames and REST answers); the topics
must hold exactly that many, per venue and channel, across a venue disconnect in the middle.
Books rebuilt from the topic, in partition order, must end on the venues' own books.
"""

import asyncio
import time
from collections import Counter, defaultdict
from decimal import Decimal

from schemas.common import ExchangeId
from schemas.market_data import BookDelta, BookSnapshot, ConnectorState, ConnectorStatus
from services.book_builder.core.builder import BookBuilder, BookState
from services.book_builder.core.rules import sequence_rule_for
from services.ingest.connector import ConnectorOptions
from services.ingest.connector.parse import CHANNEL_OF_EVENT
from services.ingest.instruments import load_snapshot
from services.ingest.service import FeedSpec, IngestService
from services.runtime.settings import Settings
from services.simulator.dialects import available_dialects
from services.simulator.model import Fault, FaultKind, ModelConfig
from services.simulator.server import Simulator, SimulatorConfig
from tests.integration.helpers import read_topic

VENUES: tuple[ExchangeId, ...] = tuple(
    v for v in (ExchangeId.BINANCE_USDM, ExchangeId.BYBIT, ExchangeId.OKX) if v in available_dialects()
)
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
    config = SimulatorConfig(venues=VENUES, seed=2024, duration_s=60, model=ModelConfig(tick_s=0.05))
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
            dropped = VENUES[-1]
            simulator.inject(Fault(FaultKind.DISCONNECT, venue=dropped, duration_s=0.2))
            connection = service.connectors[dropped].connections[0]
            await _wait(lambda: connection.sessions == 2 and connection.connected.is_set(), 10)
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
    print(
        f"events sent {sum(sent.values())}, published {sum(published.values())}: {dict(sorted(published.items()))}"
    )
    assert published == sent
    assert {venue for venue, _ in published} == {v.value for v in VENUES}

    assert await read_topic(settings, "dlq.v1") == []
    statuses = [event for _, event in await read_topic(settings, "md.status.v1")]
    assert all(isinstance(s, ConnectorStatus) for s in statuses)
    by_venue: dict[ExchangeId, list[ConnectorState]] = defaultdict(list)
    for status in statuses:
        by_venue[status.exchange].append(status.state)
    for venue in VENUES:
        assert by_venue[venue][0] is ConnectorState.CONNECTED
        assert by_venue[venue][-1] is ConnectorState.DISCONNECTED  # the clean stop
    assert ConnectorState.RESUBSCRIBED in by_venue[dropped]

    # In partition order, every book syncs (REST snapshots landed beside their diffs) and ends
    # on the venue's own top of book.
    catalog = load_snapshot()
    for book_key, events in books.items():
        exchange = events[0].exchange
        rule = sequence_rule_for(exchange)
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
