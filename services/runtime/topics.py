"""Creating and describing the registry's topics on a broker, idempotently."""

import asyncio
import logging
import time
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from schemas.topics import TOPICS, TopicContract
from services.runtime.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TopicState:
    name: str
    exists: bool
    partitions: int | None


def topic_config(contract: TopicContract) -> dict[str, str]:
    return {
        "retention.ms": str(contract.retention_ms),
        "cleanup.policy": contract.cleanup_policy,
        # Matches the producers' acks=all with one replica locally and three in production.
        "min.insync.replicas": "1",
    }


async def ensure_topics(settings: Settings, contracts: tuple[TopicContract, ...] = TOPICS) -> list[str]:
    """Create the missing topics; existing ones are left as they are. Returns the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [c for c in contracts if settings.topic_name(c.name) not in existing]
        created: list[str] = []
        for contract in missing:
            try:
                await admin.create_topics(
                    [
                        NewTopic(
                            name=settings.topic_name(contract.name),
                            num_partitions=settings.topic_partitions,
                            replication_factor=settings.topic_replication,
                            topic_configs=topic_config(contract),
                        )
                    ]
                )
                created.append(settings.topic_name(contract.name))
            except TopicAlreadyExistsError:
                pass  # another pod won the race; that is the idempotent outcome
        if created:
            log.info("topics created", extra={"topics": created})
        await wait_for_leaders(
            admin, [settings.topic_name(c.name) for c in contracts], settings.kafka_bootstrap
        )
        return created
    finally:
        await admin.close()


async def wait_for_leaders(
    admin: AIOKafkaAdminClient, names: list[str], bootstrap: str, timeout_s: float = 60.0
) -> None:
    """Return once every partition of these topics has a leader that serves it.

    Two steps, since the metadata names a leader before that broker has taken the partition
    over: first the metadata, then a ListOffsets answered by each leader. A producer that sends
    before that gets NotLeaderForPartition, and aiokafka's producer may not recover from it
    until the request times out (aio-libs/aiokafka#1018). So nothing is sent before this returns.
    """
    deadline = time.monotonic() + timeout_s
    waiting: list[str] = list(names)
    partitions: list[TopicPartition] = []
    while waiting:
        descriptions = await admin.describe_topics(waiting)
        waiting = []
        for d in descriptions:
            if (
                d.get("error_code", 0) != 0
                or not d["partitions"]
                or any(p.get("leader", -1) < 0 or p.get("error_code", 0) != 0 for p in d["partitions"])
            ):
                waiting.append(d["topic"])
            else:
                partitions.extend(TopicPartition(d["topic"], p["partition"]) for p in d["partitions"])
        if waiting and time.monotonic() > deadline:
            raise TimeoutError(f"topics without a leader after {timeout_s:.0f}s: {', '.join(waiting)}")
        if waiting:
            await asyncio.sleep(0.1)
    if not partitions:
        return
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await probe.start()
    try:
        # end_offsets retries NotLeaderForPartition by itself until the leaders answer.
        await asyncio.wait_for(probe.end_offsets(partitions), max(1.0, deadline - time.monotonic()))
    finally:
        await probe.stop()


async def describe_topics(settings: Settings, names: list[str]) -> list[TopicState]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        physical = {name: settings.topic_name(name) for name in names}
        present = [p for p in physical.values() if p in existing]
        partitions: dict[str, int] = {}
        if present:
            for description in await admin.describe_topics(present):
                partitions[description["topic"]] = len(description["partitions"])
        return [TopicState(n, p in existing, partitions.get(p)) for n, p in physical.items()]
    finally:
        await admin.close()


async def partitions_of(settings: Settings, physical_name: str) -> list[int]:
    """Partition ids of a topic on the broker ([] when it does not exist)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        if physical_name not in set(await admin.list_topics()):
            return []
        [description] = await admin.describe_topics([physical_name])
        return sorted(int(p["partition"]) for p in description["partitions"])
    finally:
        await admin.close()
