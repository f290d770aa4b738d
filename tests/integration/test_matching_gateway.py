"""The venue gateway on the real broker and database, with the venue and its recorder in process.

Two crossing orders go in over REST with API keys; the trade must come out of the trades
WebSocket, the book out of the BBO/depth endpoints and the md WebSocket, and the taker's order
status from the recorder's table must read filled. Requests without a known key get 401.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect

from services.matching.gateway import Gateway, GatewaySettings
from services.matching.recorder import VenueRecorder
from services.matching.service import MatchingService
from services.matching.topics import COMMANDS_TOPIC
from services.matching.workload import ADD_SYMBOL, SYMBOL
from services.runtime.kafka import make_producer
from services.runtime.service import StreamService
from services.runtime.settings import Settings
from services.runtime.topics import ensure_topics
from tests.book_builder.streams import wait_for

ALICE = {"X-API-Key": "alice-key"}
BOB = {"X-API-Key": "bob-key"}
TEST_BUDGET_S = 45


async def _list_symbol(settings: Settings) -> None:
    # Listing a symbol is an operator's command, not order entry: it goes to the topic directly.
    producer = make_producer(settings)
    await producer.start()
    try:
        await producer.send_and_wait(
            settings.topic_name(COMMANDS_TOPIC), orjson.dumps(ADD_SYMBOL), key=SYMBOL.encode()
        )
    finally:
        await producer.stop()


@contextlib.asynccontextmanager
async def _running(
    starts: list[tuple[Callable[[], Coroutine[Any, Any, None]], Callable[[], None]]],
) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(run()) for run, _ in starts]
    try:
        yield
    finally:
        for _, stop in starts:
            stop()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout=20)


async def _next_json(socket: ClientConnection, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = orjson.loads(await asyncio.wait_for(socket.recv(), timeout=20))
        if predicate(message):
            return message


async def test_orders_over_rest_trade_on_the_websocket_and_show_in_book_and_status(
    settings: Settings,
) -> None:
    async with asyncio.timeout(TEST_BUDGET_S):
        await ensure_topics(settings)
        await _list_symbol(settings)
        venue = MatchingService(settings)
        recorder = StreamService(VenueRecorder(), settings)
        gateway = Gateway(
            settings, GatewaySettings(api_keys="alice-key:alice,bob-key:bob", host="127.0.0.1", port=0)
        )
        async with _running(
            [
                (venue.run, venue.request_stop),
                (recorder.run, recorder.request_stop),
                (gateway.run, gateway.request_stop),
            ]
        ):
            await asyncio.wait_for(gateway.serving.wait(), timeout=20)
            base = f"http://127.0.0.1:{gateway.port}"
            async with (
                httpx.AsyncClient(base_url=base, timeout=10) as http,
                connect(f"ws://127.0.0.1:{gateway.port}/ws/trades?symbol={SYMBOL}") as trades_ws,
                connect(f"ws://127.0.0.1:{gateway.port}/ws/md?symbol={SYMBOL}") as md_ws,
            ):
                sell = {
                    "symbol": SYMBOL,
                    "client_order_id": "ask-1",
                    "side": "sell",
                    "order_type": "limit",
                    "price": "50000.0",
                    "quantity": "0.010",
                }
                assert (await http.post("/orders", json=sell)).status_code == 401
                assert (await http.post("/orders", json=sell, headers={"X-API-Key": "x"})).status_code == 401
                placed = await http.post("/orders", json=sell, headers=ALICE)
                assert placed.status_code == 202, placed.text
                assert placed.json()["account"] == "alice"

                resting = await _next_json(md_ws, lambda m: m["kind"] == "l2")
                assert (resting["side"], resting["price"], resting["quantity"]) == ("ask", "50000.0", "0.010")

                buy = {
                    "symbol": SYMBOL,
                    "client_order_id": "bid-1",
                    "side": "buy",
                    "order_type": "limit",
                    "price": "50001.0",
                    "quantity": "0.004",
                }
                assert (await http.post("/orders", json=buy, headers=BOB)).status_code == 202
                trade = await _next_json(trades_ws, lambda m: m["kind"] == "trade")
                assert (trade["price"], trade["quantity"], trade["aggressor_side"]) == (
                    "50000.0",
                    "0.004",
                    "buy",
                )
                assert (trade["maker_account"], trade["taker_account"]) == ("alice", "bob")

                await _next_json(md_ws, lambda m: m["kind"] == "bbo" and m["ask_quantity"] == "0.006")
                bbo = (await http.get(f"/market/{SYMBOL}/bbo")).json()
                assert (bbo["bid_price"], bbo["ask_price"], bbo["ask_quantity"]) == (None, "50000.0", "0.006")
                depth = (await http.get(f"/market/{SYMBOL}/depth")).json()
                assert depth["bids"] == []
                assert depth["asks"] == [{"price": "50000.0", "quantity": "0.006"}]
                assert depth["complete"] is True

                async def recorded_filled() -> bool:
                    answer = await http.get("/orders/bid-1", headers=BOB)
                    return answer.status_code == 200 and answer.json()["status"] == "filled"

                await wait_for("bob's order to be recorded filled", recorded_filled, timeout_s=20)
                maker = (await http.get("/orders/ask-1", headers=ALICE)).json()
                assert (maker["status"], maker["remaining_quantity"]) == ("partially_filled", "0.006")
                assert (await http.get("/orders/ask-1", headers=BOB)).status_code == 404
                assert (await http.get("/orders/bid-1")).status_code == 401
