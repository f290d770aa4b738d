"""Compacted state topics: a service's own checkpoints or snapshots, created and read one way.

The book-builder's checkpoints and the matching venue's snapshots are internal (not in the
public catalog): created by their service on first use, compacted, and read from the beginning
to the end offset at assignment. Reading waits for partition leaders first, since a topic
created a moment ago answers NotLeaderForPartition until its leaders are elected.
"""

import contextlib
import logging
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.structs import ConsumerRecord

from services.runtime.settings import Settings
from services.runtime.topics import wait_for_leaders

log = logging.getLogger(__name__)


async def ensure_state_topic(
    settings: Settings, logical: str, partitions: int, config: dict[str, str]
) -> str:
    """Create the compacted topic if missing and wait for its leaders; returns its broker-side name."""
    name = settings.topic_name(logical)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        if name not in set(await admin.list_topics()):
            with contextlib.suppress(TopicAlreadyExistsError):  # another instance won the race
                await admin.create_topics(
                    [
                        NewTopic(
                            name=name,
                            num_partitions=partitions,
                            replication_factor=settings.topic_replication,
                            topic_configs=config,
                        )
                    ]
                )
                log.info("state topic created", extra={"topic": name, "partitions": partitions})
        await wait_for_leaders(admin, [name], settings.kafka_bootstrap)
    finally:
        await admin.close()
    return name


async def read_to_end(
    settings: Settings, partitions: Iterable[TopicPartition]
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every committed record of these partitions, from the beginning to today's end offset."""
    wanted = list(partitions)
    if not wanted:
        return []
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        enable_auto_commit=False,
        isolation_level="read_committed",
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=32 * 1024 * 1024,
    )
    await consumer.start()
    found: list[ConsumerRecord[bytes, bytes]] = []
    try:
        consumer.assign(wanted)
        await consumer.seek_to_beginning(*wanted)
        end = await consumer.end_offsets(wanted)
        remaining = {tp for tp in wanted if end[tp] > 0}
        while remaining:
            for records in (await consumer.getmany(*remaining, timeout_ms=1000)).values():
                found.extend(records)
            remaining = {tp for tp in remaining if await consumer.position(tp) < end[tp]}
    finally:
        await consumer.stop()
    return found
