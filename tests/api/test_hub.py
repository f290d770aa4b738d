"""The WebSocket fan-out: filters, drop-oldest with a counter, bounded memory, and the live status."""

import asyncio
import tracemalloc

import orjson
from fastapi.testclient import TestClient

from services.api.app import create_app
from services.api.hub import Filters, Hub
from services.api.settings import ApiSettings
from tests.api.support import FakeStore


def _bbo(exchange: str, n: int, symbol: str = "BTC-USDT-PERP") -> bytes:
    return orjson.dumps({"exchange": exchange, "symbol": symbol, "bid_price": str(100 + n), "n": n})


def test_filters_pick_topic_exchange_and_symbol() -> None:
    hub = Hub(["book.bbo.v1", "arb.opportunities.v1"], 100)
    okx = hub.subscribe(Filters(exchanges=frozenset({"okx"})))
    eth = hub.subscribe(Filters(topics=frozenset({"book.bbo.v1"}), symbols=frozenset({"ETH-USDT-PERP"})))
    hub.publish("book.bbo.v1", b"okx:BTC-USDT-PERP", _bbo("okx", 1))
    hub.publish("book.bbo.v1", b"bybit:ETH-USDT-PERP", _bbo("bybit", 2, "ETH-USDT-PERP"))
    arb = orjson.dumps({"symbol": "BTC-USDT-PERP", "buy": {"exchange": "bybit"}, "sell": {"exchange": "okx"}})
    hub.publish("arb.opportunities.v1", None, arb)
    got_okx = [orjson.loads(m) for m in iter(okx.take_nowait, None)]
    got_eth = [orjson.loads(m) for m in iter(eth.take_nowait, None)]
    assert [m["topic"] for m in got_okx] == ["book.bbo.v1", "arb.opportunities.v1"]
    assert got_okx[0] == {
        "dropped": 0,
        "topic": "book.bbo.v1",
        "key": "okx:BTC-USDT-PERP",
        "event": orjson.loads(_bbo("okx", 1)),
    }
    assert [m["event"]["exchange"] for m in got_eth] == ["bybit"]


async def test_hundred_idle_clients_stay_bounded_while_readers_get_everything() -> None:
    queue_size = 50
    messages = 5000
    hub = Hub(["book.bbo.v1"], queue_size)
    idle = [hub.subscribe(Filters()) for _ in range(100)]
    readers = [hub.subscribe(Filters()) for _ in range(3)]
    received: list[list[int]] = [[] for _ in readers]

    async def read(index: int) -> None:
        while len(received[index]) < messages:
            message = orjson.loads(await readers[index].take())
            assert message["dropped"] == 0
            received[index].append(message["event"]["n"])

    tasks = [asyncio.create_task(read(i)) for i in range(3)]
    payloads = [_bbo("okx", n) for n in range(messages)]
    tracemalloc.start()
    try:
        for n, payload in enumerate(payloads):
            hub.publish("book.bbo.v1", None, payload)
            if n % 10 == 0:
                await asyncio.sleep(0)  # readers keep up between Kafka batches
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    for got in received:
        assert got == list(range(messages))
    for client in idle:
        assert len(client.queue) == queue_size
        assert client.dropped == messages - queue_size
        first = orjson.loads(client.take_nowait() or b"")
        assert first["dropped"] == messages - queue_size
        assert first["event"]["n"] == messages - queue_size  # the oldest went first
    # 100 idle clients hold pointers to shared messages, not copies: far below one copy each.
    total_payload = sum(len(p) for p in payloads)
    print(f"peak traced memory {peak / 1e6:.2f} MB for {messages} messages x 103 clients")
    assert peak < 100 * total_payload / 4


def test_status_feeds_the_live_state() -> None:
    hub = Hub(["md.status.v1"], 10)
    status = {
        "exchange": "okx",
        "connection_id": "c1",
        "state": "connected",
        "symbols": [],
        "ts": 2_000_000_000,
    }
    hub.publish("md.status.v1", b"okx", orjson.dumps(status))
    hub.publish("md.status.v1", b"okx", orjson.dumps({**status, "state": "stale", "ts": 1}))  # older: ignored
    assert hub.live.status["okx"]["state"] == "connected"
    with TestClient(create_app(ApiSettings(), FakeStore(), hub)) as client:
        okx = client.get("/v1/exchanges", params={"exchange": "okx"}).json()["items"][0]
    assert okx["status"]["state"] == "connected"


def test_websocket_subscribe_and_receive() -> None:
    hub = Hub(["book.bbo.v1", "md.status.v1"], 10)
    app = create_app(ApiSettings(), FakeStore(), hub)
    with TestClient(app) as client, client.websocket_connect("/v1/ws?topic=book.bbo.v1&exchange=okx") as ws:
        assert ws.receive_json() == {
            "type": "subscribed",
            "topics": ["book.bbo.v1"],
            "exchanges": ["okx"],
            "symbols": [],
        }
        hub.publish("book.bbo.v1", None, _bbo("bybit", 1))
        hub.publish("book.bbo.v1", None, _bbo("okx", 2))
        message = ws.receive_json()
        assert (message["event"]["exchange"], message["dropped"]) == ("okx", 0)
        ws.send_json({"op": "subscribe", "topics": ["nope.v1"]})
        assert ws.receive_json()["type"] == "error"
        ws.send_json({"op": "subscribe", "exchanges": ["bybit"]})
        assert ws.receive_json()["exchanges"] == ["bybit"]
        hub.publish("book.bbo.v1", None, _bbo("bybit", 3))
        assert ws.receive_json()["event"]["n"] == 3


def test_websocket_rejects_unknown_topics() -> None:
    hub = Hub(["book.bbo.v1"], 10)
    with (
        TestClient(create_app(ApiSettings(), FakeStore(), hub)) as client,
        client.websocket_connect("/v1/ws?topic=secret.v1") as ws,
    ):
        assert ws.receive_json()["type"] == "error"
