"""The real connectors against the exchange simulator: subscribe, survive drops and stalls,
honour rate limits, split subscriptions, dead-letter bad frames; never lose or repeat a frame.

The simulator counts every frame it really sent, so "no loss, no duplicate" is checked exactly:
what the connector published equals what the venue sent, channel by channel, and trade ids
arrive in the order sent, once each.
"""

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from prometheus_client import REGISTRY

from schemas.common import ExchangeId
from schemas.market_data import BookDelta, BookSnapshot, ConnectorState, Trade
from services.book_builder.core.builder import BookBuilder, BookState
from services.ingest.connector import FrameTap, MemorySink, VenueConnector
from services.ingest.connector.parse import CHANNEL_OF_EVENT, normalize_raw
from services.ingest.venue import Channel, RestRequest, VenueAdapter
from services.instruments.catalog import load_snapshot
from services.simulator.model import Fault, FaultKind, ModelConfig
from services.simulator.server import Simulator, SimulatorConfig
from services.venues import adapter_for, book_spec_for, registered_venues
from services.venues.binance_usdm.adapter import BinanceUsdmAdapter
from services.venues.coindcx.dialect import CoindcxDialect

VENUES = registered_venues()
# Funding and open interest twice a second: every channel shows up within a second.
FAST_MARKET = ModelConfig(tick_s=0.05, funding_every_s=0.5, open_interest_every_s=0.5)
FAST = {"backoff_initial_s": 0.05, "backoff_cap_s": 0.5, "protocol_ping_interval_s": None, "seed": 7}


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    config = SimulatorConfig(
        venues=tuple(VENUES), seed=11, duration_s=60, record_frames=True, model=FAST_MARKET
    )
    async with Simulator(config) as running:
        yield running


@dataclass
class Feed:
    connector: VenueConnector
    sink: MemorySink
    task: "asyncio.Task[None]"
    adapter: VenueAdapter

    async def stop(self) -> None:
        await self.connector.stop()
        await asyncio.wait_for(self.task, timeout=10)

    def states(self) -> list[ConnectorState]:
        return [s.state for s in self.sink.statuses]

    def received(self) -> Counter[str]:
        return Counter(CHANNEL_OF_EVENT[type(e)].value for e in self.sink.received)


def start_feed(
    simulator: Simulator,
    venue: ExchangeId,
    *,
    channels: frozenset[Channel] = frozenset(Channel),
    adapter: VenueAdapter | None = None,
    tap: FrameTap | None = None,
    **options: Any,
) -> Feed:
    adapter = adapter or adapter_for(venue, load_snapshot())
    natives = [g.native_symbol for g in simulator.model.grids if g.venue == venue]
    sink = MemorySink()
    connector = VenueConnector(
        adapter, natives, channels, sink, simulator.connector_options(venue, **{**FAST, **options}), tap=tap
    )
    return Feed(connector, sink, asyncio.create_task(connector.run()), adapter)


async def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> float:  # noqa: ASYNC109
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.02)
    return time.monotonic() - started


def sent_counts(simulator: Simulator, venue: ExchangeId) -> Counter[str]:
    return Counter({c: n for (v, c), n in simulator.stats.sent_events.items() if v == venue.value})


def received_trade_ids(feed: Feed) -> list[tuple[str, str]]:
    """(symbol, trade id): trade ids are unique per symbol."""
    return [(e.native_symbol, e.trade_id) for e in feed.sink.received if isinstance(e, Trade)]


def sent_trade_ids(simulator: Simulator, feed: Feed) -> list[tuple[str, str]]:
    ids: list[tuple[str, str]] = []
    for venue, _, text in simulator.stats.recorded:
        if venue != feed.adapter.exchange.value:
            continue
        events = normalize_raw(feed.adapter, text.encode(), 0) or []
        ids.extend((e.native_symbol, e.trade_id) for e in events if isinstance(e, Trade))
    return ids


# Venues whose every book message is a whole book: there is no "one snapshot per session".
SNAPSHOT_ONLY = frozenset({ExchangeId.HYPERLIQUID, ExchangeId.COINDCX})
# Venues that name trades by time, side, price and size (no venue id): two identical fills in the
# same millisecond share a name, and a subscription's trade snapshot repeats earlier trades.
REPEATED_TRADE_IDS = frozenset({ExchangeId.MEXC, ExchangeId.PHEMEX, ExchangeId.COINDCX, ExchangeId.BITGET})


def book_snapshots(feed: Feed) -> Counter[str]:
    return Counter(e.native_symbol for e in feed.sink.received if isinstance(e, BookSnapshot))


def symbols_of(simulator: Simulator, venue: ExchangeId) -> list[str]:
    return [g.native_symbol for g in simulator.model.grids if g.venue == venue]


def resynced(simulator: Simulator, feed: Feed) -> bool:
    """Every book has its second session's snapshot (stream or REST)."""
    snapshots = book_snapshots(feed)
    return all(snapshots[s] >= 2 for s in symbols_of(simulator, feed.adapter.exchange))


def assert_books_synced(simulator: Simulator, feed: Feed) -> None:
    """Replaying the published book events through the book builder ends on the venue's book."""
    venue = feed.adapter.exchange
    rule = book_spec_for(venue).rule
    assert rule is not None
    for grid in (g for g in simulator.model.grids if g.venue == venue):
        builder = BookBuilder(rule)
        for event in feed.sink.received:
            if isinstance(event, BookSnapshot | BookDelta) and event.native_symbol == grid.native_symbol:
                builder.on_event(event)
        assert builder.state is BookState.LIVE, f"{venue.value} {grid.native_symbol} never synced"
        view = simulator.model.book(venue, grid.native_symbol, 1)
        best_bid, best_ask = builder.book.best_bid(), builder.book.best_ask()
        assert best_bid is not None
        assert best_ask is not None
        instrument = load_snapshot().get(venue, grid.native_symbol)
        expected_bid = instrument.base_price(view.bids[0][0] * grid.tick)
        expected_ask = instrument.base_price(view.asks[0][0] * grid.tick)
        assert (Decimal(best_bid[0]), Decimal(best_ask[0])) == (expected_bid, expected_ask)


@pytest.mark.parametrize("venue", VENUES, ids=lambda v: v.value)
async def test_subscribes_and_publishes_exactly_what_the_venue_sent(
    simulator: Simulator, venue: ExchangeId
) -> None:
    simulator.inject(Fault(FaultKind.LIQUIDATION_BURST, venue=venue, duration_s=0.5))
    feed = start_feed(simulator, venue, open_interest_poll_s=0.5)
    await wait_until(lambda: len(feed.received()) >= len(feed.adapter.capabilities), timeout=10)
    await simulator.settle()
    await feed.stop()

    assert feed.sink.rejected == []
    assert feed.received() == sent_counts(simulator, venue)
    assert set(feed.received()) == {c.value for c in feed.adapter.capabilities}
    assert feed.states() == [ConnectorState.CONNECTED, ConnectorState.DISCONNECTED]
    assert feed.sink.statuses[-1].detail == "connector stopped"
    received_ids = received_trade_ids(feed)
    assert received_ids == sent_trade_ids(simulator, feed)
    assert_books_synced(simulator, feed)
    labels = {"exchange": venue.value, "channel": "book"}
    assert (REGISTRY.get_sample_value("perpwatch_ingest_messages_total", labels) or 0) > 0
    assert (REGISTRY.get_sample_value("perpwatch_ingest_feed_lag_seconds_count", labels) or 0) > 0


@pytest.mark.parametrize("venue", VENUES, ids=lambda v: v.value)
async def test_server_drop_reconnects_resubscribes_and_loses_nothing(
    simulator: Simulator, venue: ExchangeId
) -> None:
    feed = start_feed(simulator, venue)
    await wait_until(lambda: feed.received()["trades"] >= 3)
    simulator.inject(Fault(FaultKind.DISCONNECT, venue=venue, duration_s=0.3))
    dropped_at = time.monotonic()
    await wait_until(lambda: ConnectorState.RESUBSCRIBED in feed.states())
    reconnect_s = time.monotonic() - dropped_at
    await wait_until(lambda: feed.received()["trades"] >= 8 and resynced(simulator, feed))
    await simulator.settle()
    await feed.stop()

    print(f"{venue.value}: drop -> resubscribed in {reconnect_s:.3f}s (venue refused connections for 0.3s)")
    assert reconnect_s < 3.0
    states = feed.states()
    assert states[:2] == [ConnectorState.CONNECTED, ConnectorState.DISCONNECTED]
    assert states.index(ConnectorState.RESUBSCRIBED) == states.index(ConnectorState.CONNECTED, 1) + 1
    assert "code 1001" in feed.sink.statuses[1].detail
    assert simulator.stats.sessions[venue.value] == 2
    # Nothing the venue sent is lost and nothing is published twice, across the reconnect.
    assert feed.received() == sent_counts(simulator, venue)
    received_ids = received_trade_ids(feed)
    assert received_ids == sent_trade_ids(simulator, feed)
    if venue not in REPEATED_TRADE_IDS:
        assert len(set(received_ids)) == len(received_ids)
    # The book resynchronises on the new session's snapshot (REST or stream).
    if venue not in SNAPSHOT_ONLY:
        assert set(book_snapshots(feed).values()) == {2}
    assert_books_synced(simulator, feed)


@pytest.mark.parametrize("venue", VENUES, ids=lambda v: v.value)
async def test_watchdog_reconnects_a_stalled_connection(simulator: Simulator, venue: ExchangeId) -> None:
    feed = start_feed(simulator, venue, stale_after_s=0.5)
    await wait_until(lambda: feed.received()["book"] >= 3)
    simulator.inject(Fault(FaultKind.STALL, venue=venue, duration_s=10))
    stalled_at = time.monotonic()
    await wait_until(lambda: ConnectorState.STALE in feed.states(), timeout=5)
    detected_s = time.monotonic() - stalled_at
    await wait_until(lambda: ConnectorState.RESUBSCRIBED in feed.states(), timeout=5)
    recovered_s = time.monotonic() - stalled_at
    await wait_until(lambda: feed.received()["book"] >= 8 and resynced(simulator, feed))
    await simulator.settle()
    await feed.stop()

    print(
        f"{venue.value}: stall detected in {detected_s:.3f}s, resubscribed in {recovered_s:.3f}s (stale_after 0.5s)"
    )
    assert 0.4 <= detected_s < 2.0
    states = feed.states()
    stale = states.index(ConnectorState.STALE)
    assert states[stale + 1 : stale + 4] == [
        ConnectorState.DISCONNECTED,
        ConnectorState.CONNECTED,
        ConnectorState.RESUBSCRIBED,
    ]
    assert "stale" in feed.sink.statuses[stale + 1].detail
    assert simulator.stats.frames_dropped[venue.value] > 0  # the stalled session really went quiet
    assert feed.received() == sent_counts(simulator, venue)
    assert_books_synced(simulator, feed)


async def test_rate_limited_snapshots_back_off_for_retry_after(simulator: Simulator) -> None:
    venue = ExchangeId.BINANCE_USDM
    simulator.inject(Fault(FaultKind.REST_RATE_LIMIT, venue=venue, magnitude=0.4, count=2))
    feed = start_feed(simulator, venue, channels=frozenset({Channel.BOOK, Channel.TRADES}))
    await wait_until(lambda: sum(isinstance(e, BookSnapshot) for e in feed.sink.received) == 2, timeout=10)
    await simulator.settle()
    await feed.stop()

    depth_calls = [(t, status) for t, v, path, status in simulator.stats.rest_log if path == "/fapi/v1/depth"]
    assert [status for _, status in depth_calls] == [429, 429, 200, 200]  # no storm: 2 symbols, 2 retries
    # Both symbols' requests were in flight when the first 429 came back; after it, the whole
    # venue waited for Retry-After before asking again.
    last_limited = max(t for t, status in depth_calls if status == 429)
    assert all(t - last_limited >= 0.38 for t, status in depth_calls if status == 200)
    limited = [s for s in feed.sink.statuses if s.state is ConnectorState.RATE_LIMITED]
    assert len(limited) == 2
    assert "HTTP 429 on /fapi/v1/depth" in limited[0].detail
    assert "Retry-After" in limited[0].detail
    assert limited[0].connection_id == "binance_usdm#rest"
    assert feed.received() == sent_counts(simulator, venue)
    assert_books_synced(simulator, feed)


async def test_symbols_are_split_across_connections_within_the_subscription_limit(
    simulator: Simulator,
) -> None:
    venue = ExchangeId.BINANCE_USDM
    channels = frozenset({Channel.TRADES, Channel.BOOK, Channel.BBO})
    feed = start_feed(simulator, venue, channels=channels, max_subscriptions_per_connection=3)
    assert len(feed.connector.connections) == 2
    await wait_until(lambda: len({e.native_symbol for e in feed.sink.received}) == 2)
    await simulator.settle()
    await feed.stop()

    assert simulator.stats.sessions[venue.value] == 2
    connected = [s for s in feed.sink.statuses if s.state is ConnectorState.CONNECTED]
    assert sorted(s.connection_id for s in connected) == ["binance_usdm#0", "binance_usdm#1"]
    assert sorted(len(s.symbols) for s in connected) == [1, 1]
    assert feed.received() == sent_counts(simulator, venue)


async def test_bad_frames_go_to_the_dead_letters_and_the_feed_keeps_running(simulator: Simulator) -> None:
    venue = ExchangeId.BINANCE_USDM
    feed = start_feed(simulator, venue)
    await wait_until(lambda: feed.received()["book"] >= 2)
    bad = {
        "{truncated": "invalid_json",
        '{"stream":"btcusdt@depth","data":{"e":"depthUpdate","s":"BTCUSDT"}}': "malformed",
        '{"stream":"x@trade","data":{"e":"aggTrade","s":"DOGEUSDT_240927","a":1,"p":"1","q":"1","T":1,"m":true}}': "unknown_instrument",
        '{"e":"forceOrder","E":1,"o":{"s":"BTCUSDT","S":"SELL","q":"0","p":"0","ap":"0","z":"0","T":1}}': "out_of_range",
        '{"e":"kline","s":"BTCUSDT"}': "unknown_event",
    }
    for text in bad:
        simulator.broadcast_raw(venue, text)
    books_before = feed.received()["book"]
    await wait_until(
        lambda: len(feed.sink.rejected) == len(bad) and feed.received()["book"] > books_before + 2
    )
    await simulator.settle()
    await feed.stop()

    assert {letter.payload_text: letter.error_type for letter in feed.sink.rejected} == bad
    assert all(
        letter.source == "ws:binance_usdm" and letter.service == "ingest" for letter in feed.sink.rejected
    )
    assert feed.states() == [ConnectorState.CONNECTED, ConnectorState.DISCONNECTED]  # never reconnected
    assert feed.received() == sent_counts(simulator, venue)
    errors = REGISTRY.get_sample_value(
        "perpwatch_ingest_parse_errors_total", {"exchange": venue.value, "error_type": "out_of_range"}
    )
    assert (errors or 0) >= 1


@pytest.mark.parametrize(
    "venue", [v for v in VENUES if adapter_for(v, load_snapshot()).ping_frame()], ids=lambda v: v.value
)
async def test_application_pings_are_sent_and_their_pongs_are_not_data(
    simulator: Simulator, venue: ExchangeId
) -> None:
    dialect = simulator.dialect(venue)
    if isinstance(dialect, CoindcxDialect):
        dialect.ping_interval_ms = 100  # Engine.IO: the server pings, the client answers "3"
    feed = start_feed(simulator, venue, ping_interval_s=0.1, channels=frozenset({Channel.TRADES}))
    await wait_until(lambda: simulator.stats.client_frames[venue.value] >= 6, timeout=5)
    await simulator.settle()
    await feed.stop()

    assert feed.sink.rejected == []
    assert feed.states() == [ConnectorState.CONNECTED, ConnectorState.DISCONNECTED]  # never dropped
    assert feed.received() == sent_counts(simulator, venue)
    control = REGISTRY.get_sample_value(
        "perpwatch_ingest_messages_total", {"exchange": venue.value, "channel": "control"}
    )
    assert (control or 0) >= 5  # acks and pongs


async def test_a_venue_that_hands_out_a_token_first_is_connected_through_it(simulator: Simulator) -> None:
    ws_url = simulator.endpoints(ExchangeId.BINANCE_USDM).ws_url

    class TokenFirst(BinanceUsdmAdapter):
        def connect_request(self) -> RestRequest | None:
            return RestRequest("/fapi/v1/time", method="POST")

        def ws_url_from(self, payload: dict[str, Any] | None = None) -> str:
            assert payload is not None
            assert "serverTime" in payload
            return ws_url

    feed = start_feed(
        simulator,
        ExchangeId.BINANCE_USDM,
        adapter=TokenFirst(load_snapshot()),
        channels=frozenset({Channel.TRADES}),
        ws_url="ws://127.0.0.1:9/unused",
    )
    await wait_until(lambda: feed.received()["trades"] >= 1)
    await simulator.settle()
    await feed.stop()

    assert [path for _, _, path, _ in simulator.stats.rest_log][:1] == ["/fapi/v1/time"]
    assert feed.states()[0] is ConnectorState.CONNECTED
    assert feed.received() == sent_counts(simulator, ExchangeId.BINANCE_USDM)
