"""Creating and describing the registry's topics on a broker, idempotently."""

import logging
from dataclasses import dataclass

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
        return created
    finally:
        await admin.close()


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
