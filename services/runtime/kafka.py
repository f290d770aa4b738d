"""Kafka clients on aiokafka, configured one way for every service.

Producers are idempotent (no duplicates from retries) and batch with linger and compression.
Consumers never auto-commit: a service commits offsets only after its sink has committed, which
is what makes delivery at-least-once with idempotent sinks.
"""

import logging
from collections.abc import Awaitable, Callable, Iterable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
from pydantic import BaseModel

from services.runtime.codec import encode_key, encode_value, event_key
from services.runtime.settings import Settings

log = logging.getLogger(__name__)

PartitionsCallback = Callable[[set[TopicPartition]], Awaitable[None]]


def make_producer(settings: Settings, *, transactional_id: str | None = None) -> AIOKafkaProducer:
    compression = None if settings.producer_compression == "none" else settings.producer_compression
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        enable_idempotence=True,
        acks="all",
        linger_ms=settings.producer_linger_ms,
        compression_type=compression,
        max_batch_size=256 * 1024,
        transactional_id=transactional_id,
        # aiokafka's producer can keep retrying NotLeaderForPartition on stale metadata until the
        # request times out (aio-libs/aiokafka#1018); a new producer recovers at once. The
        # publisher replaces a producer that failed a delivery, so fail in 15 s, not 40.
        request_timeout_ms=15_000,
    )


def make_consumer(
    settings: Settings,
    *,
    group_id: str,
    auto_offset_reset: str = "earliest",
    isolation_level: str = "read_committed",
    co_partitioned: bool = False,
) -> AIOKafkaConsumer:
    """``co_partitioned``: partition i of every subscribed topic goes to the same member.

    Every topic has the same partition count and our producers key by ``exchange:symbol``, so one
    instrument's records sit on the same partition number in every topic; the range assignor
    hands out the same numbers per topic, so a replica sees all of an instrument's inputs. The
    default round-robin assignor would split them across replicas.
    """
    return AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset=auto_offset_reset,
        isolation_level=isolation_level,
        max_partition_fetch_bytes=4 * 1024 * 1024,
        fetch_max_bytes=16 * 1024 * 1024,
        partition_assignment_strategy=(
            RangePartitionAssignor if co_partitioned else RoundRobinPartitionAssignor,
        ),
    )


def split_partitions(partitions: Iterable[TopicPartition]) -> dict[str, set[int]]:
    """Partition numbers per topic: equal sets when an assignment is co-partitioned."""
    numbers: dict[str, set[int]] = {}
    for tp in partitions:
        numbers.setdefault(tp.topic, set()).add(tp.partition)
    return numbers


class RebalanceHooks(ConsumerRebalanceListener):  # type: ignore[misc]
    """Lets a service drop state for revoked partitions and rebuild it for assigned ones.

    aiokafka awaits these callbacks inside the rebalance, so a service can flush and commit
    before it loses a partition.
    """

    def __init__(self, on_revoked: PartitionsCallback, on_assigned: PartitionsCallback) -> None:
        self._on_revoked = on_revoked
        self._on_assigned = on_assigned

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        partitions = set(revoked)
        log.info("partitions revoked", extra={"partitions": sorted(map(str, partitions))})
        await self._on_revoked(partitions)

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        partitions = set(assigned)
        log.info("partitions assigned", extra={"partitions": sorted(map(str, partitions))})
        await self._on_assigned(partitions)


async def send_event(producer: AIOKafkaProducer, topic: str, event: BaseModel) -> None:
    """Queue one contract event on its topic, keyed as the contract says. Await flush() to confirm."""
    await producer.send(topic, encode_value(event), key=encode_key(event_key(event)))
