"""Engine snapshots on a compacted internal topic, written inside the venue's transactions.

A snapshot is the whole engine state of one command partition (books, counters, used client
ids, output sequence) together with the ``venue.commands.v1`` offset of the next command it does
not include. The matching service sends it in the same Kafka transaction as that batch's
outputs and input offsets, so a committed snapshot and the committed input offset never
disagree: restoring the latest snapshot and replaying the commands from its offset up to the
committed offset (emitting nothing) rebuilds exactly the state the previous owner committed.

Snapshot partition ``p`` holds the snapshots of command partition ``p`` and only the producer
owning ``p`` writes it; after that producer fences its predecessor, nothing is pending there,
so a read_committed reader sees everything up to the end. A large book is split into chunks
(a Kafka record is capped at about 1 MiB); every chunk carries the snapshot's offset, and
compaction keeps the latest value per ``partition:chunk`` key.
"""

import contextlib
import logging
import zlib
from dataclasses import dataclass
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from services.runtime.settings import Settings

log = logging.getLogger(__name__)

SNAPSHOT_TOPIC = "_matching.snapshots.v1"
SNAPSHOT_TOPIC_CONFIG = {
    "cleanup.policy": "compact",
    "segment.ms": str(10 * 60 * 1000),
    "min.cleanable.dirty.ratio": "0.1",
    "delete.retention.ms": str(60 * 60 * 1000),
    "min.insync.replicas": "1",
}
# Below the producers' default 1 MiB request cap, with room for the header line.
CHUNK_BYTES = 900 * 1024
FORMAT_VERSION = 1


@dataclass(frozen=True)
class EngineSnapshot:
    partition: int
    offset: int  # next command offset not included in the state
    engine: dict[str, Any]


def encode_chunks(snapshot: EngineSnapshot) -> list[tuple[bytes, bytes]]:
    """(key, value) records of one snapshot: a JSON header line, then a slice of zlib data."""
    body = zlib.compress(orjson.dumps(snapshot.engine), 1)
    slices = [body[i : i + CHUNK_BYTES] for i in range(0, len(body), CHUNK_BYTES)] or [b""]
    records = []
    for index, piece in enumerate(slices):
        header = orjson.dumps(
            {
                "version": FORMAT_VERSION,
                "partition": snapshot.partition,
                "offset": snapshot.offset,
                "chunk": index,
                "chunks": len(slices),
            }
        )
        records.append((f"{snapshot.partition}:{index}".encode(), header + b"\n" + piece))
    return records


class SnapshotAssembler:
    """Collects chunk records in log order; the latest complete snapshot wins."""

    def __init__(self) -> None:
        self._pieces: dict[int, dict[int, bytes]] = {}
        self._counts: dict[int, int] = {}

    def add(self, value: bytes | None) -> None:
        if not value:
            return
        header_line, _, piece = value.partition(b"\n")
        header = orjson.loads(header_line)
        if header.get("version") != FORMAT_VERSION:
            log.warning("snapshot chunk of unknown version skipped", extra={"header": header})
            return
        offset = int(header["offset"])
        self._pieces.setdefault(offset, {})[int(header["chunk"])] = piece
        self._counts[offset] = int(header["chunks"])

    def latest(self, partition: int) -> EngineSnapshot | None:
        for offset in sorted(self._pieces, reverse=True):
            pieces = self._pieces[offset]
            count = self._counts[offset]
            if all(i in pieces for i in range(count)):
                body = b"".join(pieces[i] for i in range(count))
                return EngineSnapshot(partition, offset, orjson.loads(zlib.decompress(body)))
        return None


async def ensure_snapshot_topic(settings: Settings, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        name = settings.topic_name(SNAPSHOT_TOPIC)
        if name in set(await admin.list_topics()):
            return
        with contextlib.suppress(TopicAlreadyExistsError):  # another instance won the race
            await admin.create_topics(
                [
                    NewTopic(
                        name=name,
                        num_partitions=partitions,
                        replication_factor=settings.topic_replication,
                        topic_configs=SNAPSHOT_TOPIC_CONFIG,
                    )
                ]
            )
    finally:
        await admin.close()


async def send_snapshot(producer: AIOKafkaProducer, settings: Settings, snapshot: EngineSnapshot) -> int:
    """Queue a snapshot's records in the producer's open transaction; returns the bytes sent."""
    topic = settings.topic_name(SNAPSHOT_TOPIC)
    size = 0
    for key, value in encode_chunks(snapshot):
        await producer.send(topic, value, key=key, partition=snapshot.partition)
        size += len(value)
    return size


async def load_snapshot(settings: Settings, partition: int) -> EngineSnapshot | None:
    """The latest committed snapshot of a command partition, or None."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        isolation_level="read_committed",
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    await consumer.start()
    try:
        tp = TopicPartition(settings.topic_name(SNAPSHOT_TOPIC), partition)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        assembler = SnapshotAssembler()
        while await consumer.position(tp) < end:
            for records in (await consumer.getmany(tp, timeout_ms=500)).values():
                for record in records:
                    assembler.add(record.value)
        return assembler.latest(partition)
    finally:
        await consumer.stop()
