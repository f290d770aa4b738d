"""Venue protocol rules the simulator enforces, dialect by dialect, without sockets: tokens,
heartbeats, Engine.IO's handshake, checksums and sequence ids a real parser and the book builder
check on the rendered stream."""

import pytest

from schemas.common import ExchangeId
from schemas.market_data import BookDelta, BookSnapshot
from services.book_builder.core.builder import BookState
from services.book_builder.venues import new_builder
from services.ingest.connector.parse import normalize_raw, normalize_rest_snapshot
from services.ingest.venue import Channel
from services.instruments.catalog import load_snapshot
from services.simulator.dialect import HttpRequest, Session
from services.simulator.model import Fault, FaultKind, TransportFault
from services.venues import adapter_for

from .test_simulator_dialects import bound
from .test_simulator_model import STEP_NS, T0

S = 1_000_000_000


@pytest.mark.parametrize(
    "venue",
    [ExchangeId.BITGET, ExchangeId.KUCOIN_FUTURES, ExchangeId.GATEIO, ExchangeId.MEXC, ExchangeId.BITMEX],
    ids=lambda v: v.value,
)
def test_the_rendered_book_stream_keeps_the_venue_book_rule(venue: ExchangeId) -> None:
    """Snapshot (stream or REST) plus every rendered diff rebuilds the model's book through the
    venue's continuity rule (and Bitget's CRC32 checksum); an injected gap is detected."""
    model, dialect = bound(venue)
    adapter = adapter_for(venue, load_snapshot())
    catalog = load_snapshot()
    [grid, *_] = model.grids
    native = grid.native_symbol
    session = Session(1, "/")
    events: list[BookSnapshot | BookDelta] = []
    request = adapter.book_snapshot_request(native)
    if request is None:  # the snapshot comes with the subscription
        for text in adapter.subscribe_frames(frozenset({Channel.BOOK}), [native]):
            for reply in dialect.on_message(session, text, T0):
                events += [
                    e
                    for e in normalize_raw(adapter, reply.text.encode(), T0) or []
                    if isinstance(e, BookSnapshot)
                ]
    else:
        answer = dialect.rest(HttpRequest(request.method, request.path, dict(request.params)), T0)
        [snapshot] = normalize_rest_snapshot(adapter, answer.body, native, T0)
        assert isinstance(snapshot, BookSnapshot)
        events.append(snapshot)
    builder = new_builder(venue, native, catalog)
    for n in range(1, 80):
        if n == 60 and venue is not ExchangeId.BITMEX:  # BitMEX has no ids to see a gap with
            model.inject(Fault(FaultKind.SEQUENCE_GAP, venue=venue, symbol=grid.symbol))
        for event in model.step(T0 + n * STEP_NS):
            if isinstance(event, TransportFault) or event.grid != grid:
                continue
            if getattr(event, "suppressed", False):
                continue  # the gap: the venue never sends it
            for frame in dialect.render(event):
                if frame.topic is not None and not frame.topic.startswith(
                    ("orderBookL2", "books:", "/contractMarket/level2", "futures.order_book", "push.depth")
                ):
                    continue
                events += [
                    e
                    for e in normalize_raw(adapter, frame.text.encode(), T0) or []
                    if isinstance(e, BookSnapshot | BookDelta)
                ]
        if n == 59:
            for book_event in events:
                builder.on_event(book_event)
            events = []
            assert builder.state is BookState.LIVE
            view = model.book(venue, native, 1)
            instrument = catalog.get(venue, native)
            best_bid = builder.book.best_bid()
            assert best_bid is not None
            assert best_bid[0] == instrument.base_price(view.bids[0][0] * grid.tick)
    if venue is ExchangeId.BITGET:
        assert builder.counters.checksum_checks > 50
        assert builder.counters.checksum_failures == 0
    for book_event in events:
        builder.on_event(book_event)
    if venue is ExchangeId.BITMEX:
        assert builder.state is BookState.LIVE
    else:
        assert builder.counters.gaps >= 1, f"{venue.value}: the suppressed update went unnoticed"
