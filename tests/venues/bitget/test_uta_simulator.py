"""Issue 15, class 2: the simulator speaks Bitget's newer public WebSocket (UTA) per subscription,
and what it sends is read by the real parser and rebuilt by the real book core, checksums included.

Format: bitget.com/api-doc/uta/websocket/public/New-Trades-Channel and .../Order-Book-Channel
(``arg {instType: "usdt-futures", topic, symbol}``; trades ``{i, p, v, S, T}``; books ``{a, b,
checksum, seq, pseq, ts}``).
"""

from collections import Counter

import orjson

from schemas.common import ExchangeId
from schemas.market_data import BookDelta, BookSnapshot
from services.book_builder.core.builder import BookState
from services.book_builder.venues import new_builder
from services.ingest.connector.parse import CHANNEL_OF_EVENT, normalize_raw
from services.ingest.venue import Channel
from services.instruments.catalog import load_snapshot
from services.simulator.dialect import Session
from services.simulator.model import TransportFault
from services.venues import adapter_for
from tests.ingest.test_simulator_dialects import bound
from tests.ingest.test_simulator_model import STEP_NS, T0

_UTA_ARGS = [
    {"instType": "usdt-futures", "topic": topic, "symbol": "BTCUSDT"}
    for topic in ("publicTrade", "books", "books1")
]


def test_uta_subscriptions_get_uta_pushes_that_the_parser_reads_and_the_book_core_rebuilds() -> None:
    model, dialect = bound(ExchangeId.BITGET)
    catalog = load_snapshot()
    adapter = adapter_for(ExchangeId.BITGET, catalog)
    uta, v2 = Session(1, "/"), Session(2, "/")
    replies = dialect.on_message(uta, orjson.dumps({"op": "subscribe", "args": _UTA_ARGS}).decode(), T0)
    for text in adapter.subscribe_frames(frozenset(Channel), ["ETHUSDT"]):
        dialect.on_message(v2, text, T0)
    acks = [r for r in replies if not r.carries]
    assert [orjson.loads(a.text)["arg"] for a in acks] == _UTA_ARGS  # acknowledged as sent
    assert all(normalize_raw(adapter, a.text.encode(), T0) is None for a in acks)  # control frames

    builder = new_builder(ExchangeId.BITGET, "BTCUSDT", catalog)
    per_channel: Counter[Channel] = Counter()
    frames = [r for r in replies if r.carries]  # the books snapshot (and the trade snapshot)
    for n in range(80):
        for event in model.step(T0 + n * STEP_NS):
            if not isinstance(event, TransportFault):
                frames += [f for f in dialect.render(event) if f.topic in uta.topics]
    assert frames
    for frame in frames:
        payload = orjson.loads(frame.text)
        assert set(payload["arg"]) == {"instType", "topic", "symbol"}
        events = normalize_raw(adapter, frame.text.encode(), T0) or []
        got = Counter(CHANNEL_OF_EVENT[type(e)] for e in events)
        assert got == Counter(dict(frame.carries)), frame.text[:200]
        per_channel.update(got)
        for event in events:
            if isinstance(event, BookSnapshot | BookDelta):
                builder.on_event(event)
    assert set(per_channel) == {Channel.TRADES, Channel.BOOK, Channel.BBO}
    assert builder.state is BookState.LIVE
    assert builder.counters.checksum_checks > 0
    assert (builder.counters.checksum_failures, builder.counters.gaps) == (0, 0)
    # A v2 session on another symbol gets v2 pushes only; the UTA twins are rendered only for UTA topics.
    assert all(not t.startswith("uta:") for t in v2.topics)


def test_a_uta_argument_for_something_else_is_an_error() -> None:
    _, dialect = bound(ExchangeId.BITGET)
    session = Session(1, "/")
    bad = {"instType": "coin-futures", "topic": "publicTrade", "symbol": "BTCUSDT"}
    [reply] = dialect.on_message(session, orjson.dumps({"op": "subscribe", "args": [bad]}).decode(), T0)
    assert orjson.loads(reply.text)["code"] == 30001
    assert not session.topics
