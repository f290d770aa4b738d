"""Venue protocol rules the simulator enforces, dialect by dialect, without sockets: tokens,
heartbeats, Engine.IO's handshake, checksums and sequence ids a real parser and the book builder
check on the rendered stream."""

import orjson
import pytest

from schemas.common import ExchangeId
from schemas.market_data import BookDelta, BookSnapshot
from services.book_builder.core.builder import BookState
from services.book_builder.venues import new_builder
from services.ingest.connector.parse import normalize_raw, normalize_rest_snapshot
from services.ingest.venue import Channel
from services.ingest.venues import adapter_for
from services.instruments.catalog import load_snapshot
from services.simulator.dialects.base import HttpRequest, Session
from services.simulator.dialects.coindcx import CoindcxDialect
from services.simulator.dialects.deribit import DeribitDialect
from services.simulator.dialects.kucoin_futures import KucoinFuturesDialect
from services.simulator.model import Fault, FaultKind, TransportFault

from .test_simulator_dialects import bound
from .test_simulator_model import STEP_NS, T0

S = 1_000_000_000


def test_kucoin_sockets_need_a_token_from_the_bullet_endpoint() -> None:
    _, dialect = bound(ExchangeId.KUCOIN_FUTURES)
    assert isinstance(dialect, KucoinFuturesDialect)
    [refused] = dialect.open_session(Session(1, "/?token=forged&connectId=x"), T0)
    assert refused.close_code == 1008
    assert orjson.loads(refused.text)["type"] == "error"
    bullet = dialect.rest(HttpRequest("POST", "/api/v1/bullet-public", {}), T0)
    adapter = adapter_for(ExchangeId.KUCOIN_FUTURES, load_snapshot())
    url = adapter.ws_url_from(orjson.loads(bullet.body))  # type: ignore[attr-defined]
    assert adapter.ping_interval_s == 18.0
    [welcome] = dialect.open_session(Session(2, url.split("127.0.0.1:1", 1)[1]), T0)
    assert orjson.loads(welcome.text) == {"id": "perpwatch", "type": "welcome"}
    assert welcome.close_code is None


def test_deribit_drops_a_client_that_ignores_test_requests() -> None:
    _, dialect = bound(ExchangeId.DERIBIT)
    assert isinstance(dialect, DeribitDialect)
    session = Session(1, "/ws/api/v2")
    request = {"jsonrpc": "2.0", "id": 1, "method": "public/set_heartbeat", "params": {"interval": 10}}
    [ok] = dialect.on_message(session, orjson.dumps(request).decode(), T0)
    assert orjson.loads(ok.text)["result"] == "ok"
    assert dialect.heartbeat(session, T0 + 9 * S) == []
    [test_request] = dialect.heartbeat(session, T0 + 10 * S)
    assert orjson.loads(test_request.text)["params"] == {"type": "test_request"}
    test = {"jsonrpc": "2.0", "id": 0, "method": "public/test", "params": {}}
    dialect.on_message(session, orjson.dumps(test).decode(), T0 + 11 * S)  # answered in time
    [again] = dialect.heartbeat(session, T0 + 20 * S)
    assert again.close_code is None
    [dropped] = dialect.heartbeat(session, T0 + 30 * S)  # not answered
    assert (dropped.text, dropped.close_code) == ("", 1000)
    too_short = {**request, "params": {"interval": 5}}
    [error] = dialect.on_message(Session(2, "/"), orjson.dumps(too_short).decode(), T0)
    assert orjson.loads(error.text)["error"]["code"] == -32602


def test_coindcx_speaks_engine_io() -> None:
    _, dialect = bound(ExchangeId.COINDCX)
    assert isinstance(dialect, CoindcxDialect)
    session = Session(1, "/socket.io/?EIO=4&transport=websocket")
    [opening] = dialect.open_session(session, T0)
    assert opening.text.startswith("0{")
    assert orjson.loads(opening.text[1:])["pingInterval"] == 25_000
    join = '42["join",{"channelName":"B-BTC_USDT@trades-futures"}]'
    [refused] = dialect.on_message(session, join, T0)
    assert refused.text.startswith("44")  # an event before the namespace connect
    [ack] = dialect.on_message(session, "40", T0)
    assert ack.text.startswith("40{")
    assert dialect.on_message(session, join, T0) == []  # joins are not acknowledged
    assert session.topics == {"B-BTC_USDT@trades-futures"}
    [ping] = dialect.heartbeat(session, T0 + 25 * S)
    assert ping.text == "2"
    assert dialect.heartbeat(session, T0 + 44 * S) == []  # within the ping timeout
    [closed] = dialect.heartbeat(session, T0 + 46 * S)  # no "3" for 21 s
    assert closed.close_code == 1000
    [version_3] = dialect.open_session(Session(2, "/socket.io/?EIO=3&transport=websocket"), T0)
    assert version_3.close_code == 1002


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
