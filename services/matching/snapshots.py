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

import asyncio
import logging
import zlib
from dataclasses import dataclass
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer, TopicPartition

from services.runtime.settings import Settings
from services.runtime.state_topic import ensure_state_topic, read_to_end

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
    await ensure_state_topic(settings, SNAPSHOT_TOPIC, partitions, SNAPSHOT_TOPIC_CONFIG)


async def send_snapshot(
    producer: AIOKafkaProducer, settings: Settings, snapshot: EngineSnapshot
) -> tuple[int, list["asyncio.Future[object]"]]:
    """Queue a snapshot's records in the producer's open transaction; returns the bytes sent and
    the chunks' delivery futures (the caller confirms them before the offsets go in)."""
    topic = settings.topic_name(SNAPSHOT_TOPIC)
    size = 0
    delivered: list[asyncio.Future[object]] = []
    for key, value in encode_chunks(snapshot):
        delivered.append(await producer.send(topic, value, key=key, partition=snapshot.partition))
        size += len(value)
    return size, delivered


async def load_snapshot(settings: Settings, partition: int) -> EngineSnapshot | None:
    """The latest committed snapshot of a command partition, or None."""
    assembler = SnapshotAssembler()
    tp = TopicPartition(settings.topic_name(SNAPSHOT_TOPIC), partition)
    for record in await read_to_end(settings, [tp]):
        assembler.add(record.value)
    return assembler.latest(partition)
