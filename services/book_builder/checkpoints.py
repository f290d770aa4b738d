"""Book checkpoints on a compacted internal topic, so a restarted builder rebuilds the exact state.

A checkpoint is a LIVE book's full state (every level, the venue id it is at, the builder's
counters and throttles) together with the ``md.book.v1`` offset of the last record it includes.
Compaction keeps the latest checkpoint per book.

Ordering is what makes a checkpoint safe to restore: the state at the end of batch N is published
at the end of batch N+1, that is after batch N's rows, events and offsets were committed. So a
checkpoint never covers input beyond the committed offset, and restoring one then replaying
``md.book.v1`` from the checkpoint to the committed offset (publishing nothing) reproduces the
very state the builder had when it stopped.

The topic is internal to the book-builder (``_book-builder.checkpoints.v1``, namespaced like
every topic) and is not part of the public registry in ``schemas/topics.py``.
"""

import logging
from decimal import Decimal
from typing import Any

import orjson
from aiokafka import TopicPartition
from pydantic import BaseModel, ConfigDict

from schemas.common import ExchangeId
from services.book_builder.core.builder import BuilderCheckpoint, BuilderCounters
from services.runtime.settings import Settings
from services.runtime.state_topic import ensure_state_topic, read_to_end
from services.runtime.topics import partitions_of

log = logging.getLogger(__name__)

CHECKPOINT_TOPIC = "_book-builder.checkpoints.v1"
CHECKPOINT_TOPIC_CONFIG = {
    "cleanup.policy": "compact",
    # Roll and clean often: only the latest checkpoint per book is ever read.
    "segment.ms": str(5 * 60 * 1000),
    "min.cleanable.dirty.ratio": "0.1",
    "delete.retention.ms": str(60 * 60 * 1000),
    "max.message.bytes": str(4 * 1024 * 1024),
    "min.insync.replicas": "1",
}
# Producers refuse records over 1 MiB; a deeper book is not checkpointed (it resyncs instead).
MAX_CHECKPOINT_LEVELS = 25_000

Level = tuple[Decimal, Decimal]


class BookCheckpointRecord(BaseModel):
    """One book's checkpoint as published (decimals as exact strings)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = 1
    exchange: ExchangeId
    symbol: str
    native_symbol: str
    input_topic: str
    input_partition: int
    input_offset: int
    last_seq: int
    first_after_snapshot: bool
    bids: list[tuple[str, str]]
    asks: list[tuple[str, str]]
    published_top: tuple[str, str, str, str] | None
    top_seq: int
    depth_seq: int
    last_depth_ts: int | None
    depth_pending: bool
    last_depth_row_ts: int | None
    counters: dict[str, int]

    @property
    def key(self) -> str:
        return f"{self.exchange.value}:{self.symbol}"

    def builder_checkpoint(self) -> BuilderCheckpoint:
        return BuilderCheckpoint(
            last_seq=self.last_seq,
            first_after_snapshot=self.first_after_snapshot,
            bids=_levels(self.bids),
            asks=_levels(self.asks),
            published_top=(
                None
                if self.published_top is None
                else (
                    Decimal(self.published_top[0]),
                    Decimal(self.published_top[1]),
                    Decimal(self.published_top[2]),
                    Decimal(self.published_top[3]),
                )
            ),
            top_seq=self.top_seq,
            depth_seq=self.depth_seq,
            last_depth_ts=self.last_depth_ts,
            depth_pending=self.depth_pending,
            counters=BuilderCounters(**self.counters),
        )


def _levels(raw: list[tuple[str, str]]) -> list[Level]:
    return [(Decimal(price), Decimal(quantity)) for price, quantity in raw]


def _strings(levels: list[Level]) -> list[tuple[str, str]]:
    # str() and Decimal() round-trip exactly, exponent included (checksums read the digits).
    return [(str(price), str(quantity)) for price, quantity in levels]


def checkpoint_record(
    *,
    exchange: ExchangeId,
    symbol: str,
    native_symbol: str,
    input_topic: str,
    input_partition: int,
    input_offset: int,
    state: BuilderCheckpoint,
    last_depth_row_ts: int | None,
) -> BookCheckpointRecord:
    top = state.published_top
    return BookCheckpointRecord.model_construct(
        version=1,
        exchange=exchange,
        symbol=symbol,
        native_symbol=native_symbol,
        input_topic=input_topic,
        input_partition=input_partition,
        input_offset=input_offset,
        last_seq=state.last_seq,
        first_after_snapshot=state.first_after_snapshot,
        bids=_strings(state.bids),
        asks=_strings(state.asks),
        published_top=None if top is None else (str(top[0]), str(top[1]), str(top[2]), str(top[3])),
        top_seq=state.top_seq,
        depth_seq=state.depth_seq,
        last_depth_ts=state.last_depth_ts,
        depth_pending=state.depth_pending,
        last_depth_row_ts=last_depth_row_ts,
        counters={name: getattr(state.counters, name) for name in BuilderCounters.__dataclass_fields__},
    )


async def ensure_checkpoint_topic(settings: Settings, partitions: int) -> str:
    """Create the compacted topic if missing; returns its broker-side name."""
    return await ensure_state_topic(settings, CHECKPOINT_TOPIC, partitions, CHECKPOINT_TOPIC_CONFIG)


async def read_checkpoints(
    settings: Settings, wanted: set[tuple[str, int]]
) -> dict[str, BookCheckpointRecord]:
    """The latest checkpoint of every book whose input partition is in ``wanted``."""
    name = settings.topic_name(CHECKPOINT_TOPIC)
    partitions = [TopicPartition(name, p) for p in await partitions_of(settings, name)]
    latest_raw: dict[bytes, bytes | None] = {}
    for record in await read_to_end(settings, partitions):
        if record.key is not None:
            latest_raw[record.key] = record.value
    found: dict[str, BookCheckpointRecord] = {}
    for key, value in latest_raw.items():
        if value is None:
            continue  # a tombstone
        try:
            record = BookCheckpointRecord.model_validate(_loads(value))
        except ValueError as exc:
            log.warning(
                "unreadable checkpoint ignored",
                extra={"key": key.decode(errors="replace"), "error": str(exc)},
            )
            continue
        if (record.input_topic, record.input_partition) in wanted:
            found[record.key] = record
    return found


def _loads(value: bytes) -> Any:
    return orjson.loads(value)
