"""The one way every service puts events on Kafka: a send is done when its delivery is confirmed.

aiokafka's ``send()`` only queues a record and hands back a future; ``flush()`` waits for the
queue to drain but does not raise for batches that failed. A service that committed its input
offsets after ``flush()`` could therefore lose every event of a failed batch. ``Publisher``
keeps each delivery future and ``confirm()`` awaits them all, raising ``DeliveryFailed`` if any
failed.

Two modes:

- plain (sources such as ingest and replay, which have no input offsets to commit): ``send()``
  then ``confirm()``; a failed record is sent again on a new producer, in its original order;
- transactional (every consume-process-produce service): ``begin()``, ``send()``, then
  ``commit(offsets, group_id)``, which confirms every delivery and commits the outputs and the
  consumed offsets in one Kafka transaction. A failure aborts the transaction, so consumers that
  read with ``isolation.level=read_committed`` never see a half-published batch.

A producer that failed a delivery is not trusted again: after an ``OutOfOrderSequenceNumber``,
a fencing or an exhausted retry, aiokafka's idempotent producer stays broken. ``replace()``
closes it and starts a new one (a new producer id), counted in
``perpwatch_producer_replacements_total`` and logged once.
"""

import asyncio
import contextlib
import logging
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError
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


@dataclass
class _Pending:
    topic: str
    value: bytes
    key: bytes | None
    partition: int | None
    future: "asyncio.Future[object]"


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
    ) -> None:
        self.settings = settings
        self._stopping = stopping or asyncio.Event()
        self.service = service
        self.transactional_id = transactional_id
        self._producer: AIOKafkaProducer | None = None
        self._pending: list[_Pending] = []
        self._lock = asyncio.Lock()
        self._in_transaction = False
        self.replacements = 0
        self.dead_letter_topic = settings.topic_name(DEAD_LETTER_TOPIC)
        # Per logical topic: its broker-side name and its published-events counter, looked up once
        # (ingest sends every event through here).
        self._topics: dict[str, tuple[str, Any]] = {}

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

    async def stop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                if self._in_transaction:
                    await producer.abort_transaction()
            self._in_transaction = False
            await producer.stop()

    # --- sending -------------------------------------------------------------------------

    async def send(self, logical_topic: str, event: BaseModel) -> None:
        """Queue one contract event on its topic, keyed as its contract says."""
        topic = self._topics.get(logical_topic)
        if topic is None:
            topic = self._topics[logical_topic] = (
                self.settings.topic_name(logical_topic),
                EVENTS_PUBLISHED.labels(self.service, logical_topic),
            )
        name, published = topic
        value, key = encode_value(event), encode_key(event_key(event))
        if len(value) + len(key or b"") > MAX_RECORD_BYTES:
            await self.send_dead_letter(
                dead_letter(
                    service=self.service,
                    source=f"{self.service}->{logical_topic}",
                    payload=value,
                    key=key,
                    error_type="output_too_large",
                    error=f"a {len(value)}-byte {logical_topic} event is larger than {MAX_RECORD_BYTES} bytes",
                )
            )
            return
        await self.send_raw(name, value, key)
        published.inc()

    async def send_dead_letter(self, letter: DeadLetter) -> None:
        count_and_log(self.service, letter)
        await self.send_raw(self.dead_letter_topic, encode_value(letter), letter.source.encode())

    async def send_raw(
        self, topic: str, value: bytes, key: bytes | None, *, partition: int | None = None
    ) -> None:
        """Queue one record on a broker-side topic name; its delivery is confirmed later."""
        while True:
            if self._producer is None and self._lock.locked():
                async with self._lock:  # another task is replacing the producer: wait for it
                    pass
            if self._producer is None:
                raise RuntimeError("publisher is not started")
            try:
                future = await self._producer.send(topic, value, key=key, partition=partition)
                break
            except KafkaError as exc:
                # Refused before it was even queued (no metadata, a broken transaction state).
                DELIVERY_FAILURES.labels(self.service).inc()
                if self.transactional:
                    raise DeliveryFailed(f"send refused: {type(exc).__name__}: {exc}") from exc
                await self.replace(f"{type(exc).__name__}: {exc}")
        self._pending.append(_Pending(topic, value, key, partition, future))
        if not self.transactional and len(self._pending) >= MAX_PENDING:
            await self.confirm()

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
            failed = await _failed_deliveries(pending)
            confirmed += len(pending) - len(failed)
            if not failed:
                continue
            DELIVERY_FAILURES.labels(self.service).inc(len(failed))
            if self.transactional:
                self._pending = []
                raise DeliveryFailed(f"{len(failed)} record(s) not delivered: {failed[0][1]}")
            await self.replace(failed[0][1])
            assert self._producer is not None
            for record, _ in failed:
                future = await self._producer.send(
                    record.topic, record.value, key=record.key, partition=record.partition
                )
                self._pending.append(
                    _Pending(record.topic, record.value, record.key, record.partition, future)
                )
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

    async def replace(self, reason: str) -> None:
        """Close the producer and start a new one; one log line and one count per replacement."""
        async with self._lock:
            old, self._producer = self._producer, None
            self._in_transaction = False
            if old is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(old.stop(), timeout=10)
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


async def _failed_deliveries(pending: list[_Pending]) -> list[tuple[_Pending, str]]:
    results = await asyncio.gather(*(p.future for p in pending), return_exceptions=True)
    return [
        (record, f"{type(result).__name__}: {result}")
        for record, result in zip(pending, results, strict=True)
        if isinstance(result, BaseException)
    ]
