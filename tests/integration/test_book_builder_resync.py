"""A lost diff on the real broker: invalid status, REST resync through md.book.v1, exact book after.

The builder runs in process with its real HTTP fetcher pointed at a local server that answers
the Binance depth request with the true book as of a later update (what fapi.binance.com would
have answered). Between the break and the resync nothing is published for the book; after it,
every top equals the top of the uninterrupted book at the same update id.
"""

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest

from schemas.book import BookDepth, BookStatus, BookTop
from schemas.common import ExchangeId
from schemas.market_data import BookDelta, BookSnapshot
from services.book_builder.core import TopOfBook
from services.book_builder.resync import http_fetcher
from services.book_builder.service import BookBuilderProcessor
from services.book_builder.venues import new_builder
from services.ingest.venue import RestRequest
from services.instruments.catalog import load_snapshot
from services.runtime.service import StreamService
from services.runtime.settings import Settings
from tests.book_builder.streams import binance_book_events, committed_offset, end_offset, produce, wait_for
from tests.integration.helpers import read_topic

DROPPED = 3000  # index of the lost diff (the capture's snapshot is at index 6)
SNAPSHOT_AT = DROPPED + 200  # the REST answer reflects the book after this event


class DepthServer:
    """Answers GET /fapi/v1/depth with one fixed Binance REST snapshot; counts the requests."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.requests: list[str] = []
        self.server: asyncio.Server | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request_line = (await reader.readline()).decode()
        while (await reader.readline()) not in (b"\r\n", b""):
            pass
        self.requests.append(request_line.split(" ")[1])
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(self.body)}\r\nConnection: close\r\n\r\n".encode()
            + self.body
        )
        await writer.drain()
        writer.close()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"


@pytest.fixture
async def depth_server(
    binance_capture: Path,
) -> AsyncIterator[tuple[DepthServer, dict[int, tuple[Any, ...]], list[BookSnapshot | BookDelta]]]:
    events = binance_book_events(binance_capture)
    reference = new_builder(ExchangeId.BINANCE_USDM, "BTCUSDT", load_snapshot())
    tops: dict[int, tuple[Any, ...]] = {}
    body = b""
    for index, event in enumerate(events):
        for outcome in reference.on_event(event):
            if isinstance(outcome, TopOfBook):  # tops of buffered diffs applied with a snapshot
                tops[outcome.venue_seq] = (
                    outcome.bid_price,
                    outcome.bid_quantity,
                    outcome.ask_price,
                    outcome.ask_quantity,
                )
        bid, ask = reference.book.best_bid(), reference.book.best_ask()
        if reference.last_seq is not None and bid and ask:
            tops[reference.last_seq] = (bid[0], bid[1], ask[0], ask[1])
        if index == SNAPSHOT_AT:
            body = orjson.dumps(
                {
                    "lastUpdateId": reference.last_seq,
                    "E": event.exchange_ts // 1_000_000,
                    "T": event.exchange_ts // 1_000_000,
                    "bids": [[format(p, "f"), format(q, "f")] for p, q in reference.book.bids()],
                    "asks": [[format(p, "f"), format(q, "f")] for p, q in reference.book.asks()],
                }
            )
    server = DepthServer(body)
    server.server = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    try:
        yield server, tops, events
    finally:
        server.server.close()
        await server.server.wait_closed()


async def test_lost_diff_is_resynced_over_rest_and_never_published_wrong(
    settings: Settings,
    depth_server: tuple[DepthServer, dict[int, tuple[Any, ...]], list[BookSnapshot | BookDelta]],
) -> None:
    server, reference_tops, events = depth_server

    async def local_fetcher(base_url: str, request: RestRequest) -> bytes:
        assert base_url == "https://fapi.binance.com"
        return await http_fetcher(server.url, request)

    stream = [e.model_dump_json().encode() for i, e in enumerate(events) if i != DROPPED]
    service = StreamService(BookBuilderProcessor(settings, fetcher=local_fetcher), settings)
    running = asyncio.create_task(service.run())
    group = f"{settings.consumer_group_prefix}.book-builder"
    try:
        await produce(settings, stream)

        async def resynced() -> bool:
            # The builder's own snapshot lands on md.book.v1 after the stream, then gets consumed.
            total = await end_offset(settings, "md.book.v1")
            return total > len(stream) and await committed_offset(settings, group) >= total

        await wait_for("the resync snapshot to be published and consumed", resynced, timeout_s=120)
    finally:
        service.request_stop()
        await asyncio.wait_for(running, timeout=60)

    assert server.requests
    assert server.requests[0] == "/fapi/v1/depth?symbol=BTCUSDT&limit=1000"
    snapshots = [e for _, e in await read_topic(settings, "md.book.v1") if isinstance(e, BookSnapshot)]
    assert len(snapshots) == 1 + len(server.requests), "the capture's snapshot plus one per resync"

    depth: list[BookDepth] = [e for _, e in await read_topic(settings, "book.l2.v1")]
    invalid = [d for d in depth if d.status is BookStatus.INVALID]
    assert len(invalid) == 1
    assert invalid[0].reason.startswith("gap:")
    last_good = invalid[0].venue_seq
    assert last_good == events[DROPPED - 1].sequence.last

    tops: list[BookTop] = sorted(
        (e for _, e in await read_topic(settings, "book.bbo.v1")), key=lambda t: t.book_seq
    )
    resync_seq = events[SNAPSHOT_AT].sequence.last
    assert not [t for t in tops if last_good < t.venue_seq < resync_seq], "nothing published while broken"
    wrong = [
        t
        for t in tops
        if reference_tops[t.venue_seq] != (t.bid_price, t.bid_quantity, t.ask_price, t.ask_quantity)
    ]
    assert wrong == []
    final = tops[-1]
    assert (final.bid_price, final.bid_quantity, final.ask_price, final.ask_quantity) == reference_tops[
        events[-1].sequence.last
    ], "the resynced book ends exactly where the uninterrupted one does"
    assert all(t.bid_price < t.ask_price for t in tops)

    with psycopg.connect(settings.database_url) as conn:
        rows = conn.execute(
            "SELECT venue_seq, book_seq, bid_price, bid_qty, ask_price, ask_qty FROM book_bbo"
        ).fetchall()
        depth_rows = conn.execute("SELECT count(*) FROM book_depth").fetchone()
    assert sorted(rows) == sorted(
        (t.venue_seq, t.book_seq, t.bid_price, t.bid_quantity, t.ask_price, t.ask_quantity) for t in tops
    )
    assert all(isinstance(r[2], Decimal) for r in rows)
    assert depth_rows is not None
    assert depth_rows[0] > 100
