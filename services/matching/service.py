"""perpwatch's venue as a Kafka service: exactly-once matching per command partition.

``venue.commands.v1`` is keyed by symbol, so every symbol lives on one partition, and each
assigned partition gets its own single-writer :class:`MatchingEngine` and its own
transactional producer (``transactional_id`` = group + topic + partition). One batch of a
partition is one Kafka transaction holding, atomically:

1. every output event (``venue.events.v1``, ``venue.trades.v1``, ``venue.md.v1``);
2. dead letters for records that are not even JSON (``dlq.v1``);
3. when due, an engine snapshot with the input offset it stops at (``_matching.snapshots.v1``);
4. when due, a ``depth`` record per book on ``venue.depth.v1`` (every displayed level, at the
   book's ``l2_seq``; compacted by symbol): ``venue.md.v1`` keeps 2 days, so a reader that starts
   after retention dropped a book's first ``l2`` updates starts from the latest depth instead;
5. the consumed input offset (``send_offsets_to_transaction``).

Readers with ``isolation_level=read_committed`` therefore see each command's outputs exactly
once.

A batch is matched and encoded while the previous batch's transaction is still in flight (the
producer has one open transaction at a time, so transactions stay in order; the work between
them overlaps the broker's): the engine is then ahead of what is committed, which is the crash
case below anyway. The snapshot and depth records are taken from the engine right after their
own batch, before the next one touches it.

On assignment, starting the partition's producer fences any zombie with the same
transactional id and aborts its open transaction; the service then restores the latest
snapshot and replays the commands from the snapshot's offset up to the committed offset
without emitting anything (their outputs are already committed), and goes on live from there.
The engine is deterministic, so the replay rebuilds the very state — and sequence numbers —
the previous owner had committed.

A failed transaction leaves the in-memory engine ahead of what was committed, so the service
does not try to continue: it aborts and exits (crash-only); the next start restores.
"""

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import cast

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import ConsumerRecord
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.dead_letter import DeadLetter
from services.matching.engine import MatchingEngine, decode_command, encode_event
from services.matching.engine.wire import encode_depth
from services.matching.snapshots import EngineSnapshot, ensure_snapshot_topic, load_snapshot, send_snapshot
from services.matching.topics import COMMANDS_TOPIC, output_topic
from services.runtime.dead_letter import DEAD_LETTER_TOPIC, DeadLetterPublisher, dead_letter
from services.runtime.kafka import RebalanceHooks, make_consumer, make_producer
from services.runtime.metrics import EVENTS_PUBLISHED, MESSAGES_CONSUMED, OFFSET_COMMITS
from services.runtime.observability import Health, ObservabilityServer
from services.runtime.process import run_process
from services.runtime.publisher import send_in_batches
from services.runtime.settings import Settings, get_settings
from services.runtime.topics import ensure_topics, partitions_of

log = logging.getLogger(__name__)

SERVICE = "matching"
YIELD_EVERY_COMMANDS = 200
"""Matching a batch hands the event loop back this often, so the previous transaction progresses."""
MAX_DEPTH_RECORD_BYTES = 900_000
"""A ``depth`` record larger than this is not published (producers refuse records over 1 MiB)."""


class MatchingSettings(BaseSettings):
    """Venue-only knobs, from ``PERPWATCH_MATCHING_*``."""

    model_config = SettingsConfigDict(env_prefix="PERPWATCH_MATCHING_", extra="ignore", frozen=True)

    snapshot_every_commands: int = Field(
        default=20_000, ge=1, description="Snapshot after this many commands."
    )
    snapshot_every_s: float = Field(default=60.0, gt=0, description="Or after this many seconds.")
    max_batch: int = Field(default=5000, ge=1, description="Commands per transaction at most.")
    depth_every_s: float = Field(
        default=600.0,
        gt=0,
        description="Publish every book's full depth on venue.depth.v1 this often (with a transaction).",
    )


@dataclass
class PartitionVenue:
    """One command partition's engine and the producer that owns its transactions."""

    tp: TopicPartition
    engine: MatchingEngine
    producer: AIOKafkaProducer
    dead_letters: DeadLetterPublisher
    # Commands below this offset had their outputs committed by a previous owner: replay only.
    emit_from: int
    next_offset: int
    snapshot_offset: int | None
    since_snapshot: int = 0
    snapshot_at: float = field(default_factory=time.monotonic)
    replayed: int = 0
    depth_at: float | None = None
    """When the books' depth was last published (monotonic); None: not yet, by this owner."""
    committing: "asyncio.Task[None] | None" = None
    """The transaction of the last batch, while it is in flight."""


@dataclass
class PreparedBatch:
    """A batch's outputs, taken from the engine right after its last command."""

    records: list[tuple[str, bytes, bytes | None]]
    letters: list[DeadLetter]
    offset: int
    """The next input offset, committed with the outputs."""
    snapshot: EngineSnapshot | None


class MatchingService:
    def __init__(self, settings: Settings, matching: MatchingSettings | None = None) -> None:
        self.settings = settings
        self.matching = matching or MatchingSettings()
        self.health = Health()
        self.stopping = asyncio.Event()
        self.group_id = f"{settings.consumer_group_prefix}.{SERVICE}"
        self.venues: dict[TopicPartition, PartitionVenue] = {}
        self._commands = settings.topic_name(COMMANDS_TOPIC)
        self._dlq = settings.topic_name(DEAD_LETTER_TOPIC)
        self._topic_of_kind = {
            kind: settings.topic_name(output_topic(kind))
            for kind in ("order", "symbol", "trade", "l2", "bbo", "depth")
        }
        self._consumer: AIOKafkaConsumer | None = None
        self._server = ObservabilityServer(self.health, settings.metrics_port)
        self._batch_lock = asyncio.Lock()
        self._assignment_epoch = 0
        self._failed_commit: BaseException | None = None
        # Symbol -> its record key, encoded once.
        self._keys: dict[str, bytes] = {}

    @property
    def metrics_port(self) -> int:
        return self._server.port

    def request_stop(self) -> None:
        if not self.stopping.is_set():
            log.info("stop requested: finishing the current transaction")
            self.stopping.set()

    async def run(self) -> None:
        await self._server.start()
        try:
            await ensure_topics(self.settings)
            partitions = await partitions_of(self.settings, self._commands)
            await ensure_snapshot_topic(self.settings, max(len(partitions), self.settings.topic_partitions))
            self._consumer = make_consumer(self.settings, group_id=self.group_id)
            self._consumer.subscribe(
                [self._commands], listener=RebalanceHooks(self._on_revoked, self._on_assigned)
            )
            self.health.set_ready("kafka", False, "waiting for partition assignment")
            self.health.set_ready("starting", True)
            await self._consumer.start()
            log.info("venue started", extra={"group": self.group_id})
            await self._loop()
        finally:
            await self._shutdown()

    async def _loop(self) -> None:
        assert self._consumer is not None
        while not self.stopping.is_set():
            self.health.beat()
            self._raise_failed_commit()
            epoch = self._assignment_epoch
            batch = await self._consumer.getmany(timeout_ms=200, max_records=self.matching.max_batch)
            if not batch:
                continue
            async with self._batch_lock:
                if epoch != self._assignment_epoch:
                    await self._put_back(batch)
                    continue
                for tp, records in batch.items():
                    venue = self.venues.get(tp)
                    if venue is not None and records:
                        await self._process(venue, records)

    def _raise_failed_commit(self) -> None:
        """A failed transaction ends the loop (and the process), as when it was awaited inline."""
        if self._failed_commit is not None:
            raise self._failed_commit
        for venue in self.venues.values():
            task = venue.committing
            if task is not None and task.done():
                venue.committing = None
                task.result()

    async def _settle(self, venue: PartitionVenue) -> None:
        """Wait for the partition's transaction in flight; a failure is raised by the loop."""
        task, venue.committing = venue.committing, None
        if task is None:
            return
        try:
            await task
        except BaseException as exc:  # logged by _commit
            if self._failed_commit is None:
                self._failed_commit = exc
            raise

    async def _shutdown(self) -> None:
        self.health.set_ready("stopping", False, "shutting down")
        if self._consumer is not None:
            await self._consumer.stop()  # revokes: closes every partition's producer
        for venue in list(self.venues.values()):
            await self._close(venue)
        await self._server.stop()
        log.info("venue stopped")

    # Partition lifecycle ------------------------------------------------------------------

    async def _on_assigned(self, partitions: set[TopicPartition]) -> None:
        async with self._batch_lock:
            self._assignment_epoch += 1
            # Restored together: aiokafka sends no heartbeat while this callback runs, and six
            # partitions restored one by one (about a second each at start-up) outlasted the
            # 10 s session, so the broker dropped the member and the group rebalanced again.
            fresh = sorted((tp for tp in partitions if tp not in self.venues), key=lambda p: p.partition)
            for venue in await asyncio.gather(*(self._open(tp) for tp in fresh)):
                self.venues[venue.tp] = venue
            self._assignment_epoch += 1
        self.health.set_ready("kafka", True)

    async def _on_revoked(self, partitions: set[TopicPartition]) -> None:
        # Under the lock: a revoked partition's last transaction is committed before it goes
        # (_close waits for it).
        async with self._batch_lock:
            self._assignment_epoch += 1
            for tp in partitions:
                venue = self.venues.get(tp)
                if venue is not None:
                    await self._close(venue)

    async def _open(self, tp: TopicPartition) -> PartitionVenue:
        """Fence the partition's previous owner, restore its snapshot and seek to replay."""
        assert self._consumer is not None
        producer = make_producer(self.settings, transactional_id=f"{self.group_id}.{tp.topic}.{tp.partition}")
        # start() completes InitProducerId: any zombie is fenced, its open transaction aborted.
        await producer.start()
        committed = await self._consumer.committed(tp)
        snapshot = await load_snapshot(self.settings, tp.partition)
        if snapshot is not None:
            engine = MatchingEngine.restore(snapshot.engine)
            self._consumer.seek(tp, snapshot.offset)
            start = snapshot.offset
        else:
            engine = MatchingEngine()
            await self._consumer.seek_to_beginning(tp)
            start = 0
        emit_from = committed if committed is not None else 0
        log.info(
            "partition restored",
            extra={
                "partition": tp.partition,
                "snapshot_offset": None if snapshot is None else snapshot.offset,
                "committed_offset": committed,
                "seq": engine.seq,
            },
        )
        return PartitionVenue(
            tp=tp,
            engine=engine,
            producer=producer,
            dead_letters=DeadLetterPublisher(producer, SERVICE, self._dlq),
            emit_from=emit_from,
            next_offset=start,
            snapshot_offset=None if snapshot is None else snapshot.offset,
        )

    async def _close(self, venue: PartitionVenue) -> None:
        self.venues.pop(venue.tp, None)
        # A failed transaction is kept for the loop to raise; the partition closes either way.
        with contextlib.suppress(Exception):
            await self._settle(venue)
        log.info("partition closed", extra=self.partition_state(venue))
        with contextlib.suppress(Exception):
            await venue.producer.stop()

    def partition_state(self, venue: PartitionVenue) -> dict[str, object]:
        return {
            "partition": venue.tp.partition,
            "next_offset": venue.next_offset,
            "seq": venue.engine.seq,
            "state_hash": venue.engine.state_hash(),
            "replayed": venue.replayed,
        }

    async def _put_back(self, batch: Mapping[TopicPartition, list[ConsumerRecord[bytes, bytes]]]) -> None:
        """A batch fetched across a rebalance is fetched again, unless a restore seek went earlier."""
        assert self._consumer is not None
        assigned = self._consumer.assignment()
        for tp, records in batch.items():
            if records and tp in assigned and records[0].offset < await self._consumer.position(tp):
                self._consumer.seek(tp, records[0].offset)

    # The transaction -----------------------------------------------------------------------

    async def _process(self, venue: PartitionVenue, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        """Match a batch, then hand its outputs to a transaction once the previous one committed."""
        engine = venue.engine
        symbols = engine.symbols
        process = engine.process
        topic_of_kind = self._topic_of_kind
        keys = self._keys
        dumps = orjson.dumps
        outgoing: list[tuple[str, bytes, bytes | None]] = []
        letters: list[DeadLetter] = []
        fresh = 0
        last = venue.next_offset
        for record in records:
            if record.offset < venue.next_offset:
                continue  # already applied: a stale fetch after a seek
            last = record.offset + 1
            fresh += 1
            if fresh % YIELD_EVERY_COMMANDS == 0:
                # Let the transaction in flight and the fetcher move on while this batch is matched.
                await asyncio.sleep(0)
            live = record.offset >= venue.emit_from
            if not live:
                venue.replayed += 1
            venue.since_snapshot += 1
            try:
                raw = orjson.loads(record.value) if record.value else None
            except orjson.JSONDecodeError as exc:
                raw, error = None, f"not JSON: {exc}"
            else:
                error = "record has no value"
            if raw is None:
                # Undecodable: the engine never sees it, in the live run and in any replay alike.
                if live:
                    letters.append(self._letter(record, error))
                continue
            events = process(decode_command(raw, symbols))
            if not live:
                continue
            for event in events:
                wire = encode_event(event, symbols)
                symbol = cast(str, wire["symbol"])
                if symbol:
                    key = keys.get(symbol)
                    if key is None:
                        key = keys[symbol] = symbol.encode()
                else:
                    key = record.key
                outgoing.append((topic_of_kind[cast(str, wire["kind"])], dumps(wire), key))
        venue.next_offset = max(venue.next_offset, last)
        MESSAGES_CONSUMED.labels(SERVICE, COMMANDS_TOPIC).inc(fresh)
        if not fresh or venue.next_offset <= venue.emit_from:
            return  # replay only: everything here was committed before
        prepared = self._prepare(venue, outgoing, letters)
        await self._settle(venue)
        venue.committing = asyncio.create_task(self._commit(venue, prepared))

    def _letter(self, record: ConsumerRecord[bytes, bytes], error: str) -> DeadLetter:
        return dead_letter(
            service=SERVICE,
            source=COMMANDS_TOPIC,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            payload=record.value or b"",
            error_type="undecodable_command",
            error=error,
        )

    def _prepare(
        self,
        venue: PartitionVenue,
        outgoing: list[tuple[str, bytes, bytes | None]],
        letters: list[DeadLetter],
    ) -> PreparedBatch:
        """The batch's records, plus the depth and snapshot due, from the engine as it is now.

        The snapshot bookkeeping moves on here, not after the commit: a failed transaction ends
        the process, and the next owner restores from what was committed.
        """
        now = time.monotonic()
        if venue.depth_at is None or now - venue.depth_at >= self.matching.depth_every_s:
            outgoing.extend(self._depth_records(venue.engine))
            venue.depth_at = now
        snapshot = None
        if (
            venue.snapshot_offset is None
            or venue.since_snapshot >= self.matching.snapshot_every_commands
            or now - venue.snapshot_at >= self.matching.snapshot_every_s
        ):
            snapshot = EngineSnapshot(venue.tp.partition, venue.next_offset, venue.engine.snapshot())
            venue.snapshot_offset = venue.next_offset
            venue.since_snapshot = 0
            venue.snapshot_at = now
        return PreparedBatch(outgoing, letters, venue.next_offset, snapshot)

    async def _commit(self, venue: PartitionVenue, batch: PreparedBatch) -> None:
        producer = venue.producer
        outgoing = batch.records
        await producer.begin_transaction()
        try:
            delivered = [future async for _, future in send_in_batches(producer, outgoing)]
            for letter in batch.letters:
                delivered.append(await venue.dead_letters.publish(letter))
            if batch.snapshot is not None:
                size, chunks = await send_snapshot(producer, self.settings, batch.snapshot)
                delivered.extend(chunks)
                log.info(
                    "snapshot written",
                    extra={"partition": venue.tp.partition, "offset": batch.snapshot.offset, "bytes": size},
                )
            # aiokafka commits a transaction even when one of its batches failed for good (only
            # its future says so): every delivery is confirmed before the offsets go in.
            await asyncio.gather(*delivered)
            await producer.send_offsets_to_transaction({venue.tp: batch.offset}, self.group_id)
            await producer.commit_transaction()
        except BaseException:
            with contextlib.suppress(Exception):
                await producer.abort_transaction()
            log.exception("transaction failed: exiting so that the next owner restores")
            raise
        OFFSET_COMMITS.labels(SERVICE).inc()
        for topic, count in Counter(topic for topic, _, _ in outgoing).items():
            EVENTS_PUBLISHED.labels(SERVICE, topic).inc(count)

    def _depth_records(self, engine: MatchingEngine) -> list[tuple[str, bytes, bytes | None]]:
        """One ``depth`` record per book that has had l2 updates, after this batch's events."""
        topic = self._topic_of_kind["depth"]
        records: list[tuple[str, bytes, bytes | None]] = []
        for symbol in sorted(engine.symbols):
            book = engine.book(symbol)
            if book is None or book.l2_seq == 0:
                continue
            value = orjson.dumps(encode_depth(book, engine.seq))
            if len(value) > MAX_DEPTH_RECORD_BYTES:
                # Too big for the broker: it would fail the whole transaction (and the venue with it).
                log.warning(
                    "book too deep for a depth record; skipped", extra={"symbol": symbol, "bytes": len(value)}
                )
                continue
            records.append((topic, value, symbol.encode()))
        return records


def run_matching(settings: Settings) -> None:
    """Entry point of ``perpwatch run matching``: runs until SIGTERM or SIGINT."""
    run_process(SERVICE, settings, lambda: MatchingService(settings))


if __name__ == "__main__":
    run_matching(get_settings())
