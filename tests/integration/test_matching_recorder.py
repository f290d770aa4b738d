"""The venue (in process) and venue-recorder on the real broker and database.

Orders and trades land once per event; a second recorder group re-reading every output from
the start (at-least-once re-delivery) adds nothing.
"""

import asyncio
from decimal import Decimal

import psycopg
from aiokafka import AIOKafkaConsumer, TopicPartition

from services.matching.engine import MatchingEngine
from services.matching.recorder import VENUE_ORDERS, VENUE_TRADES, VenueRecorder
from services.matching.runner import run_commands
from services.matching.service import MatchingService, MatchingSettings
from services.matching.topics import COMMANDS_TOPIC, EVENTS_TOPIC, TRADES_TOPIC
from services.matching.workload import SYMBOL, venue_command_lines
from services.runtime.kafka import make_producer
from services.runtime.service import StreamService
from services.runtime.settings import Settings
from services.runtime.topics import ensure_topics, partitions_of
from tests.book_builder.streams import committed_offset, wait_for


def _count(url: str, table: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    assert row is not None
    return int(row[0])


async def _consumed_transactional(settings: Settings, group: str, logical: str) -> bool:
    """Committed past every data record: a transactional partition ends with a commit marker."""
    name = settings.topic_name(logical)
    probe = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, group_id=group, enable_auto_commit=False
    )
    await probe.start()
    try:
        partitions = [TopicPartition(name, p) for p in await partitions_of(settings, name)]
        end = await probe.end_offsets(partitions)
        committed = {tp: (await probe.committed(tp)) or 0 for tp in partitions}
        return all(committed[tp] >= end[tp] - 1 for tp in partitions if end[tp])
    finally:
        await probe.stop()


async def _record_everything(settings: Settings) -> None:
    recorder = StreamService(VenueRecorder(), settings)
    task = asyncio.create_task(recorder.run())
    group = f"{settings.consumer_group_prefix}.{VenueRecorder.service}"

    async def recorded() -> bool:
        return await _consumed_transactional(settings, group, EVENTS_TOPIC) and await _consumed_transactional(
            settings, group, TRADES_TOPIC
        )

    await wait_for("the recorder to consume every output", recorded, timeout_s=60)
    recorder.request_stop()
    await asyncio.wait_for(task, timeout=30)


async def test_venue_outputs_are_recorded_once_even_when_read_twice(settings: Settings) -> None:
    lines = venue_command_lines(600, seed=11)
    expected = list(run_commands(lines, MatchingEngine()))
    orders = [e for e in expected if e["kind"] == "order"]
    trades = [e for e in expected if e["kind"] == "trade"]
    await ensure_topics(settings)
    venue = MatchingService(settings, MatchingSettings(snapshot_every_commands=200, max_batch=100))
    venue_task = asyncio.create_task(venue.run())
    producer = make_producer(settings)
    await producer.start()
    try:
        for line in lines:
            await producer.send(settings.topic_name(COMMANDS_TOPIC), line, key=SYMBOL.encode())
        await producer.flush()
    finally:
        await producer.stop()

    async def matched() -> bool:
        return await committed_offset(settings, venue.group_id, COMMANDS_TOPIC) >= len(lines)

    await wait_for("the venue to match everything", matched, timeout_s=60)
    venue.request_stop()
    await asyncio.wait_for(venue_task, timeout=30)

    await _record_everything(settings)
    assert _count(settings.database_url, VENUE_ORDERS.name) == len(orders)
    assert _count(settings.database_url, VENUE_TRADES.name) == len(trades) > 50

    # Another group reads every output again from the start: the natural keys absorb it.
    await _record_everything(settings.model_copy(update={"consumer_group_prefix": "again"}))
    assert _count(settings.database_url, VENUE_ORDERS.name) == len(orders)
    assert _count(settings.database_url, VENUE_TRADES.name) == len(trades)

    with psycopg.connect(settings.database_url) as conn:
        first = conn.execute(
            "SELECT trade_id, seq, price, quantity, maker_fee, taker_fee FROM venue_trades ORDER BY trade_id LIMIT 1"
        ).fetchone()
    trade = trades[0]
    assert first == (
        trade["trade_id"],
        trade["seq"],
        Decimal(str(trade["price"])),
        Decimal(str(trade["quantity"])),
        Decimal(str(trade["maker_fee"])),
        Decimal(str(trade["taker_fee"])),
    )
