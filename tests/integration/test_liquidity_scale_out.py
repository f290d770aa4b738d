"""Two liquidity replicas in one consumer group give what one replica gives.

The liquidity service joins an instrument's ``book.l2.v1`` and ``md.trades.v1`` records. Both are
keyed by ``exchange:symbol`` and have the same partition count, so an instrument sits on the same
partition number in both; the service asks for the range assignor (``co_partitioned``) so each
replica gets the same numbers of both topics. With the default round-robin assignor a replica
would see an instrument's book without its trades.

Four simulated books (two venues x two symbols, a crunch injected on one) go through two replicas
on the real broker and database. Then: each replica's assignment is co-partitioned, the replicas
split the partitions between them, every sample's book-derived metrics and every crunch equal an
in-memory run of one processor, and the topics equal the tables.
"""

import asyncio
from typing import Any

import psycopg

from schemas.book import BookDepth
from schemas.common import ExchangeId
from schemas.liquidity import LiquidityAnomaly, LiquidityMetrics
from schemas.market_data import Trade
from services.liquidity.service import LiquidityProcessor
from services.runtime.kafka import make_producer, split_partitions
from services.runtime.service import StreamService
from services.runtime.settings import Settings
from services.runtime.topics import ensure_topics
from tests.integration.helpers import read_topic, wait_until_consumed
from tests.liquidity.simdata import Crunch, simulated_market
from tests.liquidity.support import anomalies, metrics, run_processor

VENUES = (ExchangeId.BINANCE_USDM, ExchangeId.BYBIT)
SYMBOLS = ("BTC-USDT-PERP", "ETH-USDT-PERP")


async def _produce(settings: Settings, events: list[BookDepth | Trade]) -> None:
    producer = make_producer(settings)
    await producer.start()
    try:
        for event in events:
            topic = "book.l2.v1" if isinstance(event, BookDepth) else "md.trades.v1"
            await producer.send(
                settings.topic_name(topic), event.model_dump_json().encode(), key=event.key.encode()
            )
        await producer.flush()
    finally:
        await producer.stop()


def _book_fields(event: LiquidityMetrics) -> tuple[Any, ...]:
    """What a sample takes from its book stream alone (trade flow depends on topic interleaving)."""
    return (
        event.exchange,
        event.symbol,
        event.exchange_ts,
        event.book_seq,
        event.mid,
        event.spread_bps,
        tuple(event.depth),
        event.imbalance,
        event.spread_z,
        event.depth_z,
        event.breach,
        event.crunch_active,
    )


async def test_two_replicas_split_partitions_and_equal_one(settings: Settings) -> None:
    events = list(
        simulated_market(
            1200,
            crunch=Crunch(at_step=900, venue=ExchangeId.BYBIT, symbol="ETH-USDT-PERP"),
            venues=VENUES,
            symbols=SYMBOLS,
        )
    )
    reference = run_processor(events, finish=False)
    await ensure_topics(settings)
    replicas = [
        StreamService(LiquidityProcessor(), settings.model_copy(update={"instance_id": name}))
        for name in ("replica-a", "replica-b")
    ]
    running = [asyncio.create_task(replica.run()) for replica in replicas]
    try:
        # Both replicas in the group before any input: otherwise the first to join can consume
        # everything before the second is assigned anything (it did once, on a loaded CI run).
        await _until_both_assigned(replicas)
        await _produce(settings, events)
        group = f"{settings.consumer_group_prefix}.liquidity"
        for topic in ("book.l2.v1", "md.trades.v1"):
            await wait_until_consumed(settings, group, topic, timeout_s=180)
        assignments = [split_partitions(replica._consumer.assignment()) for replica in replicas]  # type: ignore[union-attr]
    finally:
        for replica in replicas:
            replica.request_stop()
        await asyncio.wait_for(asyncio.gather(*running), timeout=60)

    print(f"assignments: {assignments}")
    for assignment in assignments:
        assert len(assignment) == 2, "each replica holds partitions of both inputs"
        books, trades = (assignment[settings.topic_name(t)] for t in ("book.l2.v1", "md.trades.v1"))
        assert books == trades, "an instrument's book and trades go to the same replica"
    first, second = (set(a[settings.topic_name("book.l2.v1")]) for a in assignments)
    assert first
    assert second
    assert not first & second
    assert first | second == set(range(settings.topic_partitions))

    published: list[LiquidityMetrics] = [e for _, e in await read_topic(settings, "liquidity.metrics.v1")]
    crunches: list[LiquidityAnomaly] = [e for _, e in await read_topic(settings, "liquidity.anomalies.v1")]
    assert sorted(crunches, key=lambda e: (e.exchange_ts, e.crunch_id)) == sorted(
        anomalies(reference), key=lambda e: (e.exchange_ts, e.crunch_id)
    )
    assert [(e.exchange, e.symbol) for e in crunches][:1] == [(ExchangeId.BYBIT, "ETH-USDT-PERP")]
    expected = {_book_fields(e) for e in metrics(reference)}
    got = {_book_fields(e) for e in published}
    assert got <= expected
    assert len(expected - got) <= 4 * len(VENUES) * len(SYMBOLS), "only samples waiting for the trade grace"
    keys = [(e.exchange, e.symbol, e.book_seq, e.exchange_ts) for e in published]
    assert len(keys) == len(set(keys))
    with psycopg.connect(settings.database_url) as conn:
        row = conn.execute("SELECT count(*) FROM liquidity_metrics").fetchone()
    assert row is not None
    assert row[0] == len(published)


async def _until_both_assigned(replicas: list[StreamService], timeout_s: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not all(r._consumer is not None and len(r._consumer.assignment()) > 0 for r in replicas):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"both replicas were not assigned partitions within {timeout_s}s")
        await asyncio.sleep(0.2)
