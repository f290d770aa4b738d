"""Topic events against table rows: the check that nothing was lost between Kafka and the database.

Each pair is a public topic and the table its service fills with one row per event. Topic records
are read with ``read_committed`` (what a consumer sees) and compared with the rows by the table's
own primary key, read from the database: every key column is the event field of the same name,
and ``ts`` is the event's ``exchange_ts`` (timestamps compared in microseconds, as PostgreSQL
keeps them). So a trade a venue sent twice counts once on both sides.

Topics without such a table are not listed: ``book.l2.v1`` (``book_depth`` keeps one row a
second by design) and ``analytics.flow.v1`` (split over two tables by kind).
"""

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

import psycopg
from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas.topics import topic as contract_of
from services.runtime.settings import Settings
from services.runtime.topics import partitions_of


@dataclass(frozen=True)
class Pair:
    topic: str
    table: str


PAIRS: tuple[Pair, ...] = (
    Pair("book.bbo.v1", "book_bbo"),
    Pair("md.trades.v1", "market_trades"),
    Pair("md.funding.v1", "funding_rates"),
    Pair("md.open_interest.v1", "open_interest"),
    Pair("md.liquidations.v1", "liquidations"),
    Pair("md.candles.v1", "candles"),
    Pair("arb.opportunities.v1", "arb_opportunities"),
    Pair("arb.spreads.v1", "arb_spreads"),
    Pair("liquidity.metrics.v1", "liquidity_metrics"),
    Pair("liquidity.anomalies.v1", "liquidity_anomalies"),
    Pair("analytics.spikes.v1", "analytics_spikes"),
    Pair("analytics.pairs.v1", "analytics_pairs"),
    Pair("alerts.v1", "alert_history"),
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


def _primary_key(conn: psycopg.Connection[Any], table: str) -> list[tuple[str, bool]]:
    """(column, is a timestamp) of the table's primary key, in key order."""
    rows = conn.execute(
        """
        SELECT a.attname, format_type(a.atttypid, a.atttypmod) LIKE 'timestamp%%'
        FROM pg_index i
        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
        WHERE i.indrelid = %s::regclass AND i.indisprimary
        ORDER BY array_position(i.indkey, a.attnum)
        """,
        (table,),
    ).fetchall()
    return [(str(name), bool(is_time)) for name, is_time in rows]


def _field(event: Any, column: str, is_time: bool) -> Any:
    value = getattr(event, "exchange_ts" if column == "ts" else column)
    if isinstance(value, Enum):
        return value.value
    if is_time and isinstance(value, int):
        return value // 1000  # ns -> us
    return value


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _stored(value: Any) -> Any:
    if isinstance(value, datetime):
        return (value - _EPOCH) // _MICROSECOND
    return value


async def topic_keys(
    settings: Settings, logical: str, key: list[tuple[str, bool]]
) -> tuple[int, set[tuple[Any, ...]]]:
    """Every committed record of a topic: (record count, set of the table's key values)."""
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
                    event = contract.payload.validate_json(record.value)
                    keys.add(tuple(_field(event, column, is_time) for column, is_time in key))
        return count, keys
    finally:
        await consumer.stop()


async def reconcile(settings: Settings, pairs: tuple[Pair, ...] = PAIRS) -> list[Reconciliation]:
    results = []
    for pair in pairs:
        with psycopg.connect(settings.database_url, connect_timeout=5) as conn:
            key = _primary_key(conn, pair.table)
            columns = ", ".join(f'"{column}"' for column, _ in key)
            rows = [
                tuple(_stored(v) for v in row)
                for row in conn.execute(f'SELECT {columns} FROM "{pair.table}"').fetchall()
            ]
        records, keys = await topic_keys(settings, pair.topic, key)
        in_table = set(rows)
        results.append(
            Reconciliation(
                topic=pair.topic,
                table=pair.table,
                records=records,
                distinct_keys=len(keys),
                rows=len(rows),
                missing_rows=len(keys - in_table),
                extra_rows=len(in_table - keys),
            )
        )
    return results


def reconcile_sync(settings: Settings) -> list[Reconciliation]:
    return asyncio.run(reconcile(settings))
