"""Topic events against table rows: the check that nothing was lost between Kafka and the database.

Each pair is a public topic and the table its service fills with one row per event. Topic records
are read with ``read_committed`` (what a consumer sees), turned into rows by the service's own row
function, and compared with the stored rows by the table's primary key (read from the database;
timestamps in microseconds, as PostgreSQL keeps them). So a trade a venue sent twice counts once
on both sides.

Topics without such a table are not listed: ``book.l2.v1`` (``book_depth`` keeps one row a
second by design) and ``analytics.flow.v1`` (split over two tables by kind).

History written by ``perpwatch backfill`` is not on any topic (publishing old bars and funding
would fire alerts and move live state). Those rows are named by a rule per table and not counted
as extra: candles with ``source = 'venue'``; funding and open-interest rows inside a window of
``backfill_coverage``. The rule only excuses rows without an event; an event without its row
is still counted as missing.
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas.topics import topic as contract_of
from services.runtime.settings import Settings
from services.runtime.sink import Row, Table
from services.runtime.topics import partitions_of


@dataclass(frozen=True)
class Pair:
    topic: str
    table: Table
    row: Callable[[Any], Row]
    """The service's own event -> row function, so both sides are keyed the same way."""
    backfilled: str | None = None
    """SQL condition on the table (alias ``t``) naming rows the backfill may have written."""


def _pairs() -> tuple[Pair, ...]:
    from services.alert.service import ALERT_HISTORY, history_row
    from services.analytics.service import CANDLES, PAIRS, SPIKES, output_row
    from services.arbitrage.events import ARB_OPPORTUNITIES, ARB_SPREADS, opportunity_row, spread_row
    from services.book_builder.service import BOOK_BBO, book_bbo_row
    from services.liquidity.service import LIQUIDITY_ANOMALIES, LIQUIDITY_METRICS, anomaly_row, metrics_row
    from services.market_recorder.core import rows
    from services.market_recorder.service import FUNDING_RATES, LIQUIDATIONS, MARKET_TRADES, OPEN_INTEREST

    def analytics_row(event: Any) -> Row:
        return output_row(event)[1]

    return (
        Pair("book.bbo.v1", BOOK_BBO, book_bbo_row),
        Pair("md.trades.v1", MARKET_TRADES, rows.trade_row),
        Pair("md.funding.v1", FUNDING_RATES, rows.funding_row, _in_coverage("funding")),
        Pair("md.open_interest.v1", OPEN_INTEREST, rows.open_interest_row, _in_coverage("oi")),
        Pair("md.liquidations.v1", LIQUIDATIONS, rows.liquidation_row),
        Pair("md.candles.v1", CANDLES, analytics_row, "t.source = 'venue'"),
        Pair("arb.opportunities.v1", ARB_OPPORTUNITIES, opportunity_row),
        Pair("arb.spreads.v1", ARB_SPREADS, spread_row),
        Pair("liquidity.metrics.v1", LIQUIDITY_METRICS, metrics_row),
        Pair("liquidity.anomalies.v1", LIQUIDITY_ANOMALIES, anomaly_row),
        Pair("analytics.spikes.v1", SPIKES, analytics_row),
        Pair("analytics.pairs.v1", PAIRS, analytics_row),
        # Where a notification was read from is no part of its key (the idempotency key).
        Pair("alerts.v1", ALERT_HISTORY, lambda note: history_row(note, "alerts.v1", 0, 0)),
    )


def _in_coverage(what: str) -> str:
    return (
        "EXISTS (SELECT 1 FROM backfill_coverage c WHERE c.exchange = t.exchange AND c.symbol = t.symbol "
        f"AND c.what = '{what}' AND t.ts >= c.start_ts AND t.ts < c.end_ts)"
    )


PAIRS: tuple[Pair, ...] = _pairs()


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
    """Rows without an event on the topic (backfilled rows excepted)."""
    backfilled_rows: int = 0
    """Rows without an event that the backfill wrote (see the module docstring): not extra."""

    @property
    def equal(self) -> bool:
        return self.missing_rows == 0 and self.extra_rows == 0

    def line(self) -> str:
        mark = "equal" if self.equal else f"MISMATCH: {self.missing_rows} missing, {self.extra_rows} extra"
        line = (
            f"{self.topic}: {self.records} records ({self.distinct_keys} distinct keys) | "
            f"{self.table}: {self.rows} rows | {mark}"
        )
        if self.backfilled_rows:
            line += f"\n    ({self.backfilled_rows} of the rows came from the backfill and are on no topic, by rule)"
        return line


def _primary_key(conn: psycopg.Connection[Any], table: str) -> list[str]:
    """The columns of the table's primary key, in key order."""
    rows = conn.execute(
        """
        SELECT a.attname
        FROM pg_index i
        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
        WHERE i.indrelid = %s::regclass AND i.indisprimary
        ORDER BY array_position(i.indkey, a.attnum)
        """,
        (table,),
    ).fetchall()
    return [str(name) for (name,) in rows]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _stored(value: Any) -> Any:
    if isinstance(value, datetime):
        return (value - _EPOCH) // _MICROSECOND
    return value


async def topic_keys(settings: Settings, pair: Pair, key: list[str]) -> tuple[int, set[tuple[Any, ...]]]:
    """Every committed record of a topic: (record count, set of its rows' key values)."""
    name = settings.topic_name(pair.topic)
    contract = contract_of(pair.topic)
    positions = [pair.table.columns.index(column) for column in key]
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
                    row = pair.row(contract.payload.validate_json(record.value))
                    keys.add(tuple(_stored(row[i]) for i in positions))
        return count, keys
    finally:
        await consumer.stop()


async def reconcile(settings: Settings, pairs: tuple[Pair, ...] = PAIRS) -> list[Reconciliation]:
    results = []
    for pair in pairs:
        with psycopg.connect(settings.database_url, connect_timeout=5) as conn:
            key = _primary_key(conn, pair.table.name)
            columns = ", ".join(f'"{column}"' for column in key)
            rows = [
                tuple(_stored(v) for v in row)
                for row in conn.execute(f'SELECT {columns} FROM "{pair.table.name}"').fetchall()
            ]
            backfilled: set[tuple[Any, ...]] = set()
            if pair.backfilled:
                backfilled = {
                    tuple(_stored(v) for v in row)
                    for row in conn.execute(
                        f"SELECT {', '.join(f't.{c}' for c in columns.split(', '))} "
                        f'FROM "{pair.table.name}" t WHERE {pair.backfilled}'
                    ).fetchall()
                }
        records, keys = await topic_keys(settings, pair, key)
        in_table = set(rows)
        extra = in_table - keys
        results.append(
            Reconciliation(
                topic=pair.topic,
                table=pair.table.name,
                records=records,
                distinct_keys=len(keys),
                rows=len(rows),
                missing_rows=len(keys - in_table),
                extra_rows=len(extra - backfilled),
                backfilled_rows=len(extra & backfilled),
            )
        )
    return results


def reconcile_sync(settings: Settings) -> list[Reconciliation]:
    return asyncio.run(reconcile(settings))
