"""Issue 15, class 5: one broken book on a venue that sends snapshots on the stream is
resubscribed alone (its venue answers with a fresh snapshot), not left broken until a reconnect.

The frames are each venue's documented unsubscribe/subscribe requests: OKX ``{"op":
"unsubscribe", "args"}`` (okx.com/docs-v5/en, WebSocket "Unsubscribe"), Bybit ``{"op":
"unsubscribe", "args"}`` (bybit-exchange.github.io/docs/v5/ws/connect, "How to Subscribe to
Topics"), Bitget ``{"op": "unsubscribe", "args"}`` (bitget.com/api-doc/common/websocket-intro,
"Unsubscribe"), Deribit ``public/unsubscribe`` (docs.deribit.com, "public/unsubscribe").
"""

import asyncio

import pytest

from schemas.common import ExchangeId
from schemas.market_data import BookSnapshot
from services.ingest.connector.parse import normalize_raw
from services.ingest.venue import Channel
from services.instruments.catalog import load_snapshot
from services.simulator.dialect import Session
from services.simulator.model import Fault, FaultKind
from services.venues import adapter_for, registered_venues

from .test_connector_simulator import FAST_MARKET, Feed, start_feed, wait_until
from .test_simulator_dialects import bound
from .test_simulator_model import T0

RESUBSCRIBING = (ExchangeId.OKX, ExchangeId.BYBIT, ExchangeId.BITGET, ExchangeId.DERIBIT)


def test_which_venues_resubscribe_one_book() -> None:
    catalog = load_snapshot()
    found = {v for v in registered_venues() if adapter_for(v, catalog).book_resubscribe_frames("X")}
    assert found == set(RESUBSCRIBING)


@pytest.mark.parametrize("venue", RESUBSCRIBING, ids=lambda v: v.value)
def test_the_resubscribe_frames_make_the_venue_send_that_book_again(venue: ExchangeId) -> None:
    model, dialect = bound(venue)
    adapter = adapter_for(venue, load_snapshot())
    natives = [g.native_symbol for g in model.grids]
    session = Session(1, "/")
    for text in adapter.subscribe_frames(frozenset(Channel), natives):
        dialect.on_message(session, text, T0)
    topics = set(session.topics)
    unsubscribe, subscribe = adapter.book_resubscribe_frames(natives[0])
    for reply in dialect.on_message(session, unsubscribe, T0):
        assert normalize_raw(adapter, reply.text.encode(), T0) is None  # an ack
    assert len(session.topics) == len(topics) - 1  # only that symbol's book channel left
    events = [
        event
        for reply in dialect.on_message(session, subscribe, T0)
        for event in normalize_raw(adapter, reply.text.encode(), T0) or []
    ]
    assert session.topics == topics
    assert [type(e) for e in events] == [BookSnapshot]
    assert events[0].native_symbol == natives[0]


def _snapshots(feed: Feed) -> list[BookSnapshot]:
    return [e for e in feed.sink.received if isinstance(e, BookSnapshot)]


async def test_a_gap_on_okx_resubscribes_that_symbol_without_a_reconnect() -> None:
    from services.simulator.server import Simulator, SimulatorConfig

    config = SimulatorConfig(
        venues=(ExchangeId.OKX,), seed=5, duration_s=60, record_frames=True, model=FAST_MARKET
    )
    async with Simulator(config) as simulator:
        feed = start_feed(simulator, ExchangeId.OKX, channels=frozenset({Channel.BOOK}))
        connection = feed.connector.connections[0]
        symbols = {g.native_symbol for g in simulator.model.grids}
        await wait_until(lambda: {e.native_symbol for e in _snapshots(feed)} == symbols)
        broken = next(iter(sorted(symbols)))
        grid = next(g for g in simulator.model.grids if g.native_symbol == broken)
        simulator.inject(Fault(FaultKind.SEQUENCE_GAP, venue=ExchangeId.OKX, symbol=grid.symbol))
        await wait_until(lambda: connection.book_resubscribes >= 1)
        await wait_until(lambda: sum(e.native_symbol == broken for e in _snapshots(feed)) >= 2)
        await asyncio.sleep(0.2)
        await feed.stop()
    assert connection.sessions == 1  # no reconnect
    assert connection.book_resubscribes == 1
    per_symbol = {s: sum(e.native_symbol == s for e in _snapshots(feed)) for s in symbols}
    assert per_symbol[broken] == 2
    assert all(n == 1 for s, n in per_symbol.items() if s != broken)  # the others were left alone
    assert feed.sink.rejected == []
