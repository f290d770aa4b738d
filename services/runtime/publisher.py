"""The one way every service puts events on Kafka: a send is done when its delivery is confirmed.

aiokafka's ``send()`` only queues a record and hands back a future; ``flush()`` waits for the
queue to drain but does not raise for batches that failed. A service that committed its input
offsets after ``flush()`` could therefore lose every event of a failed batch. ``Publisher``
keeps each delivery future and ``confirm()`` awaits them all, raising ``DeliveryFailed`` if any
failed.

A batch of records goes out through ``send_records``: ``producer.send`` per record costs more
than most cores spend on the event that made it (a pure-Python murmur2 of the key, two
coroutines and a future per record), so ``send_in_batches`` hashes each key once per batch and
appends the records to one ``BatchBuilder`` per topic partition: one delivery future per
builder, confirmed like any other.

Two modes:

- plain (sources such as ingest and replay, which have no input offsets to commit): ``send()``
  then ``confirm()``; a failed record is sent again on a new producer, in its original order;
- transactional (every consume-process-produce service): ``begin()``, ``send()``, then
  ``commit(offsets, group_id)``, which confirms every delivery and commits the outputs and the
  consumed offsets in one Kafka transaction. A failure aborts the transaction, so consumers that
  read with ``isolation.level=read_committed`` never see a half-published batch.

A producer that sent to a partition's former leader is not waited for: aiokafka refreshes its
metadata after ``NotLeaderForPartition`` but can keep retrying the old leader until the request
times out (aio-libs/aiokafka#1018; 15 s here), and a new producer recovers at once. aiokafka's
only sign of it is the WARNING it logs for each retry, which ``StaleLeaderWatch`` reads: on the
first one for a topic with deliveries outstanding, those deliveries are failed and the producer
replaced (so it needs aiokafka's WARNING lines, which every log level but ERROR keeps).

A producer that failed a delivery is not trusted again: after an ``OutOfOrderSequenceNumber``,
a fencing or an exhausted retry, aiokafka's idempotent producer stays broken. ``replace()``
closes it and starts a new one (a new producer id), counted in
``perpwatch_producer_replacements_total`` and logged once.
"""

import asyncio
import contextlib
import logging
import socket
import weakref
from collections import Counter as Tally
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError, NotLeaderForPartitionError
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.structs import RecordMetadata
from prometheus_client import Counter
from pydantic import BaseModel

from schemas.dead_letter import DeadLetter
from services.runtime.codec import encode_key, encode_value, event_key
from services.runtime.dead_letter import DEAD_LETTER_TOPIC, count_and_log, dead_letter
from services.runtime.kafka import make_producer
from services.runtime.metrics import EVENTS_PUBLISHED
from services.runtime.settings import Settings

log = logging.getLogger(__name__)

PRODUCER_REPLACEMENTS = Counter(
    "perpwatch_producer_replacements_total",
    "Kafka producers closed and replaced after a failed delivery or transaction.",
    ["service", "reason"],
)
DELIVERY_FAILURES = Counter(
    "perpwatch_delivery_failures_total",
    "Records whose delivery to Kafka failed (each is sent again or its batch retried).",
    ["service"],
)

# Sources confirm at least this often, so memory for pending futures stays bounded.
MAX_PENDING = 20_000
# Below the producer's max_request_size and the broker's message.max.bytes (both 1 MiB by
# default): a larger record fails its send with MessageSizeTooLargeError on every retry, so one
# such event would stop its partition for good. It is dead-lettered instead (cut to fit).
MAX_RECORD_BYTES = 900_000


class PublisherStopped(Exception):
    """The service is stopping while Kafka is unreachable: the batch stays uncommitted."""


class DeliveryFailed(Exception):
    """At least one record of a batch was not delivered; nothing of it may be committed."""


# A record as it goes to the broker: broker-side topic name, value, key.
Record = tuple[str, bytes, bytes | None]
# A record with the partition it was queued on (None: the producer's partitioner chose).
_Queued = tuple[str, bytes, bytes | None, int | None]


@dataclass
class _Pending:
    """The records of one delivery future: a single ``send`` or a whole ``BatchBuilder``."""

    records: list[_Queued]
    future: "asyncio.Future[object]"


class StaleLeaderWatch(logging.Filter):
    """Tells each started publisher the topics aiokafka's producers retry after NotLeaderForPartition.

    Installed once on aiokafka's sender logger; it only reads records, never drops one.
    """

    def __init__(self) -> None:
        super().__init__()
        self.publishers: weakref.WeakSet[Publisher] = weakref.WeakSet()

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 2 and isinstance(args[0], TopicPartition):
            error = args[1]
            stale = (isinstance(error, type) and issubclass(error, NotLeaderForPartitionError)) or (
                "NotLeaderForPartition" in str(error)
            )
            if stale:
                for publisher in self.publishers:
                    publisher.leader_moved(args[0].topic)
        return True


STALE_LEADERS = StaleLeaderWatch()
logging.getLogger("aiokafka.producer.sender").addFilter(STALE_LEADERS)


def transactional_id_for(settings: Settings, group_id: str) -> str:
    """Stable per service and instance, so a restarted instance fences its predecessor."""
    instance = settings.instance_id or socket.gethostname()
    return f"{group_id}.{instance}"


class Publisher:
    def __init__(
        self,
        settings: Settings,
        service: str,
        *,
        transactional_id: str | None = None,
        stopping: asyncio.Event | None = None,
        encoders: Mapping[str, Callable[[Any], bytes]] | None = None,
    ) -> None:
        """``encoders``: ``{logical topic: encode(event) -> bytes}``, the one encoder of that topic in
        this process in place of ``encode_value`` (for hot outputs); it writes what ``encode_value``
        would, only faster."""
        self.settings = settings
        self._encoders: Mapping[str, Callable[[Any], bytes]] = encoders or {}
        self._stopping = stopping or asyncio.Event()
        self.service = service
        self.transactional_id = transactional_id
        self._producer: AIOKafkaProducer | None = None
        self._pending: list[_Pending] = []
        self._lock = asyncio.Lock()
        self._in_transaction = False
        # Topics this process's producers retried after NotLeaderForPartition since the last
        # replacement; ``confirm`` gives up on a producer with deliveries outstanding to one.
        self._moved_leaders: set[str] = set()
        self._leader_moved = asyncio.Event()
        self.replacements = 0
        self.dead_letter_topic = settings.topic_name(DEAD_LETTER_TOPIC)
        # Per logical topic, its broker-side name, looked up once (ingest sends every event here).
        self._topics: dict[str, str] = {}

    @property
    def transactional(self) -> bool:
        return self.transactional_id is not None

    @property
    def state(self) -> str:
        if self._producer is None:
            return "stopped"
        return "in transaction" if self._in_transaction else "ready"

    async def start(self) -> None:
        self._producer = make_producer(self.settings, transactional_id=self.transactional_id)
        await self._producer.start()
        STALE_LEADERS.publishers.add(self)

    async def stop(self) -> None:
        STALE_LEADERS.publishers.discard(self)
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                if self._in_transaction:
                    await producer.abort_transaction()
            self._in_transaction = False
            await producer.stop()

    # --- sending -------------------------------------------------------------------------

    async def send(self, logical_topic: str, event: BaseModel) -> None:
        """Queue one contract event on its topic, keyed as its contract says (sources' path)."""
        records, letters = self.encode([(logical_topic, event)])
        for letter in letters:
            await self.send_dead_letter(letter)
        for topic, value, key in records:
            await self.send_raw(topic, value, key)

    async def publish(self, records: Sequence[Record], letters: Iterable[DeadLetter] = ()) -> None:
        """Queue a batch's encoded events (see ``encode``) and its dead letters, in order per partition."""
        for letter in letters:
            await self.send_dead_letter(letter)
        await self.send_records(records)

    def encode(self, events: Iterable[tuple[str, BaseModel]]) -> tuple[list[Record], list[DeadLetter]]:
        """Each event as its broker record, counted as published; one too large comes back as a letter.

        Done once per batch, before the first attempt, so a batch published again is not re-encoded.
        """
        records: list[Record] = []
        letters: list[DeadLetter] = []
        published: Tally[str] = Tally()
        for logical_topic, event in events:
            name = self._topics.get(logical_topic)
            if name is None:
                name = self._topics[logical_topic] = self.settings.topic_name(logical_topic)
            value, key = self._encoders.get(logical_topic, encode_value)(event), encode_key(event_key(event))
            if len(value) + len(key or b"") > MAX_RECORD_BYTES:
                letters.append(
                    dead_letter(
                        service=self.service,
                        source=f"{self.service}->{logical_topic}",
                        payload=value,
                        key=key,
                        error_type="output_too_large",
                        error=f"a {len(value)}-byte {logical_topic} event is larger than {MAX_RECORD_BYTES} bytes",
                    )
                )
                continue
            records.append((name, value, key))
            published[logical_topic] += 1
        for logical_topic, count in published.items():
            EVENTS_PUBLISHED.labels(self.service, logical_topic).inc(count)
        return records, letters

    async def send_dead_letter(self, letter: DeadLetter) -> None:
        count_and_log(self.service, letter)
        await self.send_raw(self.dead_letter_topic, encode_value(letter), letter.source.encode())

    async def send_raw(
        self, topic: str, value: bytes, key: bytes | None, *, partition: int | None = None
    ) -> None:
        """Queue one record on a broker-side topic name; its delivery is confirmed later."""
        while True:
            producer = await self._current_producer()
            try:
                future = await producer.send(topic, value, key=key, partition=partition)
                break
            except KafkaError as exc:
                await self._refused(exc)
        self._pending.append(_Pending([(topic, value, key, partition)], future))
        if not self.transactional and len(self._pending) >= MAX_PENDING:
            await self.confirm()

    async def send_records(self, records: Sequence[Record]) -> None:
        """Queue records on broker-side topic names, a ``BatchBuilder`` per partition; confirmed later."""
        if not records:
            return
        while True:
            producer = await self._current_producer()
            queued: list[_Pending] = []
            try:
                async for batch, future in send_in_batches(producer, records):
                    queued.append(_Pending(batch, future))
                break
            except KafkaError as exc:
                # Plain mode sends all the records again on a new producer: the builders queued
                # before the refusal stay pending too, so a record may go twice, never missing.
                self._pending.extend(queued)
                await self._refused(exc)
        self._pending.extend(queued)
        if not self.transactional and sum(len(p.records) for p in self._pending) >= MAX_PENDING:
            await self.confirm()

    async def _current_producer(self) -> AIOKafkaProducer:
        if self._producer is None and self._lock.locked():
            async with self._lock:  # another task is replacing the producer: wait for it
                pass
        if self._producer is None:
            raise RuntimeError("publisher is not started")
        return self._producer

    async def _refused(self, exc: KafkaError) -> None:
        """A send refused before it was even queued (no metadata, a broken transaction state)."""
        DELIVERY_FAILURES.labels(self.service).inc()
        if self.transactional:
            raise DeliveryFailed(f"send refused: {type(exc).__name__}: {exc}") from exc
        await self.replace(f"{type(exc).__name__}: {exc}")

    async def deliver(
        self, topic: str, value: bytes, key: bytes | None, *, headers: list[tuple[str, bytes]] | None = None
    ) -> RecordMetadata:
        """Send one record and wait for its delivery (request/response paths such as order entry).

        A failure replaces the producer and raises ``DeliveryFailed``: the caller answers its
        client with an error, and the client decides whether to retry.
        """
        if self._producer is None:
            raise RuntimeError("publisher is not started")
        try:
            return await self._producer.send_and_wait(topic, value, key=key, headers=headers)
        except KafkaError as exc:
            DELIVERY_FAILURES.labels(self.service).inc()
            reason = f"{type(exc).__name__}: {exc}"
            await self.replace(reason)
            raise DeliveryFailed(reason) from exc

    async def confirm(self) -> int:
        """Wait until every queued record is delivered; plain mode sends failed ones again.

        Returns the number of records confirmed. In plain mode it only returns once all of them
        are delivered (or raises ``asyncio.CancelledError`` when cancelled); in transactional mode
        use ``commit()``.
        """
        confirmed = 0
        while self._pending:
            pending, self._pending = self._pending, []
            failed = await self._failed_deliveries(pending)
            confirmed += sum(len(p.records) for p in pending) - sum(len(p.records) for p, _ in failed)
            if not failed:
                continue
            DELIVERY_FAILURES.labels(self.service).inc(sum(len(p.records) for p, _ in failed))
            if self.transactional:
                self._pending = []
                raise DeliveryFailed(f"{len(failed)} delivery(ies) failed: {failed[0][1]}")
            await self.replace(failed[0][1])
            assert self._producer is not None
            for pending_send, _ in failed:
                for topic, value, key, partition in pending_send.records:
                    future = await self._producer.send(topic, value, key=key, partition=partition)
                    self._pending.append(_Pending([(topic, value, key, partition)], future))
        return confirmed

    # --- transactions --------------------------------------------------------------------

    async def begin(self) -> None:
        assert self._producer is not None
        assert self.transactional
        await self._producer.begin_transaction()
        self._in_transaction = True
        self._pending = []

    async def commit(self, offsets: Mapping[TopicPartition, int], group_id: str) -> None:
        """Confirm every send of the open transaction, add the offsets, commit; or abort and raise."""
        assert self._producer is not None
        assert self._in_transaction
        try:
            await self.confirm()
            if offsets:
                await self._producer.send_offsets_to_transaction(dict(offsets), group_id)
            await self._producer.commit_transaction()
            self._in_transaction = False
        except (KafkaError, DeliveryFailed) as exc:
            await self.abort()
            raise DeliveryFailed(f"transaction not committed: {type(exc).__name__}: {exc}") from exc

    async def abort(self) -> None:
        """Abort the open transaction; a producer that cannot abort is replaced."""
        self._pending = []
        if self._producer is None or not self._in_transaction:
            return
        try:
            await self._producer.abort_transaction()
            self._in_transaction = False
        except Exception as exc:  # a fenced or broken producer cannot abort: replace it
            self._in_transaction = False
            await self.replace(f"abort failed: {type(exc).__name__}")

    # --- recovery ------------------------------------------------------------------------

    def leader_moved(self, topic: str) -> None:
        """A producer of this process retried a send to ``topic`` after NotLeaderForPartition."""
        self._moved_leaders.add(topic)
        self._leader_moved.set()

    async def _failed_deliveries(self, pending: list[_Pending]) -> list[tuple[_Pending, str]]:
        """Wait for every delivery; those stuck behind a former leader fail at the first sign of it."""
        delivered = asyncio.gather(*(p.future for p in pending), return_exceptions=True)
        while not delivered.done():
            stuck = {topic for p in pending if not p.future.done() for topic, *_ in p.records}
            moved = stuck & self._moved_leaders
            if moved:
                self._give_up_deliveries(f"NotLeaderForPartitionError: stale leader of {sorted(moved)[0]}")
                break
            self._leader_moved.clear()
            leader_moved = asyncio.ensure_future(self._leader_moved.wait())
            await asyncio.wait((delivered, leader_moved), return_when=asyncio.FIRST_COMPLETED)
            leader_moved.cancel()
        results = await delivered
        return [
            (record, f"{type(result).__name__}: {result}")
            for record, result in zip(pending, results, strict=True)
            if isinstance(result, BaseException)
        ]

    def _give_up_deliveries(self, reason: str) -> None:
        """Fail the producer's outstanding batches now, rather than after the request timeout.

        Their futures resolve with the error (so an abort or ``stop()`` no longer waits for them);
        the caller then replaces the producer: a transaction is aborted and published again, a
        plain send is sent again.
        """
        accumulator = getattr(self._producer, "_message_accumulator", None)
        if accumulator is None:  # not aiokafka's producer as we know it: wait for the timeout
            return
        log.warning("giving up on a producer sending to a former leader", extra={"reason": reason})
        accumulator.fail_all(NotLeaderForPartitionError(reason))

    async def replace(self, reason: str) -> None:
        """Close the producer and start a new one; one log line and one count per replacement."""
        async with self._lock:
            old, self._producer = self._producer, None
            self._in_transaction = False
            if old is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(old.stop(), timeout=10)
            self._moved_leaders.clear()  # the old producer's retries are over
            kind = reason.split(":", 1)[0][:60] or "unknown"
            PRODUCER_REPLACEMENTS.labels(self.service, kind).inc()
            self.replacements += 1
            log.warning(
                "kafka producer replaced after a failed delivery",
                extra={"reason": reason[:300], "replacements": self.replacements},
            )
            backoff = 0.5
            while True:
                producer = make_producer(self.settings, transactional_id=self.transactional_id)
                try:
                    await producer.start()
                except KafkaError as exc:
                    with contextlib.suppress(Exception):
                        await producer.stop()
                    log.warning(
                        "kafka unreachable, new producer not started yet",
                        extra={"error": f"{type(exc).__name__}: {exc}"[:300], "retry_in_s": backoff},
                    )
                    await self._sleep_or_stop(backoff)
                    backoff = min(backoff * 2, 10.0)
                    continue
                self._producer = producer
                return

    async def _sleep_or_stop(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        except TimeoutError:
            return
        raise PublisherStopped("stopping while kafka is unreachable")


async def send_in_batches(
    producer: AIOKafkaProducer, records: Sequence[Record]
) -> "AsyncIterator[tuple[list[_Queued], asyncio.Future[object]]]":
    """Queue records in order per partition, one ``BatchBuilder`` per topic partition at a time.

    Yields each queued builder's records and its delivery future; every builder is closed when
    queued, so none lingers. Partitions are chosen by
    aiokafka's default partitioner, exactly as ``send`` would (``make_producer`` sets no other),
    each key's once per call; a record without a key goes through ``send``, which picks its
    partition at random.
    """
    partition_of: dict[tuple[str, bytes], int] = {}
    builders: dict[tuple[str, int], tuple[BatchBuilder, list[_Queued]]] = {}
    for topic, value, key in records:
        if key is None:
            yield [(topic, value, None, None)], await producer.send(topic, value)
            continue
        partition = partition_of.get((topic, key))
        if partition is None:
            everyone = sorted(await producer.partitions_for(topic))
            partition = partition_of[(topic, key)] = DefaultPartitioner()(key, everyone, everyone)
        open_builder = builders.get((topic, partition))
        if open_builder is None:
            open_builder = builders[(topic, partition)] = (producer.create_batch(), [])
        builder, queued = open_builder
        if builder.append(key=key, value=value, timestamp=None) is None:  # full (and closed): queue it
            yield queued, await producer.send_batch(builder, topic, partition=partition)
            builder, queued = builders[(topic, partition)] = (producer.create_batch(), [])
            builder.append(key=key, value=value, timestamp=None)  # an empty builder takes any record
        queued.append((topic, value, key, partition))
    for (topic, partition), (builder, queued) in builders.items():
        # Closed, the builder is ready to go at once: an open one would wait out the producer's
        # linger (5 ms) for records that ``send`` never adds to it, on every batch's path to
        # being readable (benchmarks/book_service.py latency).
        builder.close()
        yield queued, await producer.send_batch(builder, topic, partition=partition)
