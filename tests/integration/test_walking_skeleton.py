"""End to end on the real broker and database: replay -> md.book.v1 -> book-builder -> book.bbo.v1 + book_bbo.

The rebuilt top of book must equal Binance's own bookTicker wherever both carry the same update
id, and the database must hold exactly the events published on book.bbo.v1.
"""

import asyncio
from decimal import Decimal
from pathlib import Path

import psycopg

from schemas import BestBidOffer, BookTop
from services.book_builder.service import BookBuilderProcessor
from services.ingest.replay import replay_capture
from services.runtime.service import StreamService
from services.runtime.settings import Settings
from tests.integration.helpers import read_topic, wait_until_consumed


async def test_replay_through_kafka_rebuilds_binance_book_tickers(
    settings: Settings, binance_capture: Path
) -> None:
    service = StreamService(BookBuilderProcessor(), settings)
    running = asyncio.create_task(service.run())
    try:
        stats = await replay_capture(binance_capture, settings)
        assert stats.rejected == {}
        assert stats.events["md.book.v1"] == 6552  # 1 REST snapshot + 6,551 depth diffs
        await wait_until_consumed(settings, f"{settings.consumer_group_prefix}.book-builder", "md.book.v1")
    finally:
        service.request_stop()
        await asyncio.wait_for(running, timeout=60)

    tops = [event for _, event in await read_topic(settings, "book.bbo.v1")]
    tickers = [event for _, event in await read_topic(settings, "md.bbo.v1")]
    assert all(isinstance(t, BookTop) for t in tops)
    assert all(isinstance(t, BestBidOffer) for t in tickers)

    rebuilt = {t.venue_seq: (t.bid_price, t.bid_quantity, t.ask_price, t.ask_quantity) for t in tops}
    venue = {t.sequence: (t.bid_price, t.bid_quantity, t.ask_price, t.ask_quantity) for t in tickers}
    common = rebuilt.keys() & venue.keys()
    disagreements = [u for u in common if rebuilt[u] != venue[u]]
    print(f"bookTicker comparisons: {len(common)}, disagreements: {len(disagreements)}")
    assert len(common) >= 100
    assert disagreements == []
    assert all(t.bid_price < t.ask_price for t in tops)

    with psycopg.connect(settings.database_url) as conn:
        rows = conn.execute(
            "SELECT exchange, symbol, venue_seq, book_seq, bid_price, bid_qty, ask_price, ask_qty FROM book_bbo"
        ).fetchall()
    on_topic = {
        (
            t.exchange.value,
            t.symbol,
            t.venue_seq,
            t.book_seq,
            t.bid_price,
            t.bid_quantity,
            t.ask_price,
            t.ask_quantity,
        )
        for t in tops
    }
    in_database = {
        (e, s, v, b, Decimal(bp), Decimal(bq), Decimal(ap), Decimal(aq))
        for e, s, v, b, bp, bq, ap, aq in rows
    }
    assert len(rows) == len(in_database), "duplicate rows"
    assert in_database == on_topic
    assert len(tops) == len(on_topic), "duplicate events on book.bbo.v1"
