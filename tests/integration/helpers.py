"""Reading real topics and waiting on real consumer groups, for integration tests."""

import asyncio
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas.topics import topic as contract_of
from services.runtime.settings import Settings
from services.runtime.topics import partitions_of


async def read_topic(settings: Settings, logical_name: str) -> list[tuple[bytes | None, Any]]:
    """Every committed record on a topic, decoded by its contract, as (key, event)."""
    name = settings.topic_name(logical_name)
    contract = contract_of(logical_name)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, isolation_level="read_committed")
    await consumer.start()
    try:
        partitions = [TopicPartition(name, p) for p in await partitions_of(settings, name)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        records: list[tuple[bytes | None, Any]] = []
        while [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend((r.key, contract.payload.validate_json(r.value)) for r in batch)
        return records
    finally:
        await consumer.stop()


async def wait_until_consumed(
    settings: Settings, group: str, logical_name: str, *, timeout_s: float = 120.0
) -> None:
    """Wait until a consumer group has committed every record of a topic."""
    name = settings.topic_name(logical_name)
    probe = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, group_id=group, enable_auto_commit=False
    )
    await probe.start()
    try:
        partitions = [TopicPartition(name, p) for p in await partitions_of(settings, name)]
        end = await probe.end_offsets(partitions)
        deadline = time.monotonic() + timeout_s
        while True:
            committed = {tp: (await probe.committed(tp)) or 0 for tp in partitions}
            if all(committed[tp] >= end[tp] for tp in partitions):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"group {group} committed {committed}, end offsets {end}")
            await asyncio.sleep(0.5)
    finally:
        await probe.stop()
