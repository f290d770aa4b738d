"""Topic events against table rows: the check that nothing was lost between Kafka and the database.

Each pair is a public topic and the table its recorder fills. Topic records are read with
``read_committed`` (what a consumer sees) and counted by the table's natural key, so a trade a
venue sent twice counts once on both sides.
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas.topics import topic as contract_of
from services.runtime.settings import Settings
from services.runtime.topics import partitions_of


def _ns_us(ns: int) -> int:
    return ns // 1000


@dataclass(frozen=True)
class Pair:
    topic: str
    table: str
    topic_key: Callable[[Any], tuple[Any, ...]]
    table_key_sql: str
    """SELECT of the same natural key, with timestamps as integer microseconds."""


_US = "(extract(epoch from ts) * 1000000)::bigint"

PAIRS: tuple[Pair, ...] = (
    Pair(
        "book.bbo.v1",
        "book_bbo",
        lambda e: (e.exchange.value, e.symbol, e.venue_seq, e.book_seq, _ns_us(e.exchange_ts)),
        f"SELECT exchange, symbol, venue_seq, book_seq, {_US} FROM book_bbo",
    ),
    Pair(
        "md.trades.v1",
        "market_trades",
        lambda e: (e.exchange.value, e.symbol, e.trade_id, _ns_us(e.exchange_ts)),
        f"SELECT exchange, symbol, trade_id, {_US} FROM market_trades",
    ),
    Pair(
        "md.funding.v1",
        "funding_rates",
        lambda e: (e.exchange.value, e.symbol, _ns_us(e.exchange_ts)),
        f"SELECT exchange, symbol, {_US} FROM funding_rates",
    ),
    Pair(
        "md.open_interest.v1",
        "open_interest",
        lambda e: (e.exchange.value, e.symbol, _ns_us(e.exchange_ts)),
        f"SELECT exchange, symbol, {_US} FROM open_interest",
    ),
    Pair(
        "md.liquidations.v1",
        "liquidations",
        lambda e: (e.exchange.value, e.symbol, _ns_us(e.exchange_ts), e.side.value, e.price, e.quantity),
        f"SELECT exchange, symbol, {_US}, side, price, quantity FROM liquidations",
    ),
)


@dataclass(frozen=True)
class Reconciliation:
    topic: str
    table: str
    records: int
    distinct_keys: int
    rows: int
    missing_rows: int
    """Keys on the topic without a row."""
    extra_rows: int
    """Rows without an event on the topic."""

    @property
    def equal(self) -> bool:
        return self.missing_rows == 0 and self.extra_rows == 0

    def line(self) -> str:
        mark = "equal" if self.equal else f"MISMATCH: {self.missing_rows} missing, {self.extra_rows} extra"
        return (
            f"{self.topic}: {self.records} records ({self.distinct_keys} distinct keys) | "
            f"{self.table}: {self.rows} rows | {mark}"
        )


async def topic_keys(
    settings: Settings, logical: str, key: Callable[[Any], tuple[Any, ...]]
) -> tuple[int, set[tuple[Any, ...]]]:
    """Every committed record of a topic: (record count, set of natural keys)."""
    name = settings.topic_name(logical)
    contract = contract_of(logical)
    partitions = [TopicPartition(name, p) for p in await partitions_of(settings, name)]
    if not partitions:
        return 0, set()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        isolation_level="read_committed",
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        count, keys = 0, set()
        # Control records of transactions take offsets too: stop at the end offset, not a count.
        while [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
            for batch in (await consumer.getmany(timeout_ms=500, max_records=10_000)).values():
                for record in batch:
                    count += 1
                    keys.add(key(contract.payload.validate_json(record.value)))
        return count, keys
    finally:
        await consumer.stop()


def _normalize(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(int(v) if isinstance(v, int) else v for v in row)


async def reconcile(settings: Settings, pairs: tuple[Pair, ...] = PAIRS) -> list[Reconciliation]:
    results = []
    for pair in pairs:
        records, keys = await topic_keys(settings, pair.topic, pair.topic_key)
        with psycopg.connect(settings.database_url, connect_timeout=5) as conn:
            rows = [_normalize(r) for r in conn.execute(pair.table_key_sql).fetchall()]
        in_table = set(rows)
        results.append(
            Reconciliation(
                topic=pair.topic,
                table=pair.table,
                records=records,
                distinct_keys=len(keys),
                rows=len(rows),
                missing_rows=len(keys - in_table),
                extra_rows=len(in_table - keys) + (len(rows) - len(in_table)),
            )
        )
    return results


def reconcile_sync(settings: Settings) -> list[Reconciliation]:
    return asyncio.run(reconcile(settings))
