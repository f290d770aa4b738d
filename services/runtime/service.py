"""The thin shell every stream service runs in: consume, process, sink, publish, commit.

One batch at a time, in this order, so that nothing is lost:

1. decode each record against its topic contract and, for topics keyed by instrument, check that
   its key is its payload's ``exchange:symbol`` (bad input goes to ``dlq.v1`` with its reason);
2. hand the decoded events to the service's pure core, which fills an ``Output``;
3. write the output rows to the database and wait for the commit;
4. publish the output events and confirm every delivery;
5. only then commit the consumed offsets to Kafka.

A crash anywhere before step 5 means the batch is consumed again; the sinks are idempotent
(natural keys, ON CONFLICT DO NOTHING), so a replayed batch changes nothing.

In a Kafka transaction the events are sent before the rows are written: nothing of it is
readable before its commit, which comes after the rows' commit, so their delivery overlaps the
database write. (Overlapping a batch's commit with the next batch's core was tried and left out:
rows hold references to core state, and one benchmark run ended with invalidated books that no
other run showed. Adding the offsets to the transaction during the database write was tried too:
on the local Kafka 4.1 broker about 1 batch in 100 then had its TxnOffsetCommit refused with
COORDINATOR_NOT_AVAILABLE and retried 100 ms later, which cost more at p99 than the 2 round trips
it saved at p50.)

Optional processor hooks, found by name so that a processor that does not need them says nothing:

- ``decoders``: ``{logical topic: decode(bytes) -> event}``, the ONE decoder of that topic for
  this service in place of the contract's pydantic validation (for hot topics). A decoder
  raises ``RejectedInput`` or ``pydantic.ValidationError`` for bad input.
- ``encoders``: ``{logical topic: encode(event) -> bytes}``, the ONE encoder of that output topic
  for this service in place of pydantic's ``model_dump_json`` (for hot outputs); it must write
  the very bytes ``model_dump_json`` writes.
- ``async restore(partitions, committed, settings) -> {partition: offset}``: called after
  ``assigned``; rebuilds state for the assigned partitions and returns where to seek so that
  state can be replayed up to the committed offsets. Offsets are never committed below the
  committed position found at assignment, so a crash during the replay loses nothing.
- ``end_batch(out)``: called after the last record of a batch, before anything is written.
- ``async close()``: called once at shutdown, after the last batch was committed.
"""

import asyncio
import gc
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord
from pydantic import BaseModel, ValidationError

from schemas.dead_letter import DeadLetter
from schemas.fast_decode import RejectedInput
from schemas.topics import TopicContract, topic
from services.runtime.codec import check_instrument_key
from services.runtime.dead_letter import dead_letter
from services.runtime.kafka import RebalanceHooks, make_consumer, split_partitions
from services.runtime.metrics import CONSUMER_LAG, MESSAGES_CONSUMED, OFFSET_COMMITS
from services.runtime.observability import Health, ObservabilityServer
from services.runtime.publisher import (
    DeliveryFailed,
    Publisher,
    PublisherStopped,
    Record,
    transactional_id_for,
)
from services.runtime.settings import Settings
from services.runtime.sink import Row, SinkStopped, Table, TimescaleSink, WriteResult
from services.runtime.topics import ensure_topics

__all__ = ["Output", "Processor", "RejectedInput", "StreamService"]

log = logging.getLogger(__name__)

# Records per batch at most: only reached with a backlog (a caught-up service gets what has
# arrived since its last fetch). Each batch pays a database commit and a Kafka transaction;
# 5,000 rather than 2,000 records a batch measured up to 1.5-2x more records/s through a backlog
# (benchmarks/stream_service.py market-recorder and analytics, alternating runs).
MAX_BATCH_RECORDS = 5000


@dataclass
class Output:
    """What a batch produces: rows per table, events per topic in order, and late rejections."""

    service: str = "unknown"
    rows: dict[Table, list[Row]] = field(default_factory=lambda: defaultdict(list))
    events: list[tuple[str, BaseModel]] = field(default_factory=list)
    rejected: list[DeadLetter] = field(default_factory=list)

    def add_row(self, table: Table, row: Row) -> None:
        self.rows[table].append(row)

    def publish(self, topic_name: str, event: BaseModel) -> None:
        self.events.append((topic_name, event))

    def reject(
        self, *, source: str, error_type: str, reason: str, payload: bytes | str, key: str | None = None
    ) -> None:
        """Dead-letter an input the core only finds unusable later (e.g. a trade past a bar's grace)."""
        self.rejected.append(
            dead_letter(
                service=self.service,
                source=source,
                payload=payload,
                error_type=error_type,
                error=reason,
                key=key,
            )
        )


class Processor(Protocol):
    """The service-specific part: a pure core behind three calls."""

    service: str
    inputs: tuple[str, ...]
    row_origin: dict[str, str]

    def assigned(self, partitions: set[TopicPartition]) -> None: ...

    def revoked(self, partitions: set[TopicPartition]) -> None: ...

    def handle(self, record: ConsumerRecord[bytes, bytes], event: Any, out: Output) -> None: ...


class StreamService:
    """Runs one processor: consume a batch, core, sink, publish and commit in one transaction.

    ``transactional=False`` (``PERPWATCH_STREAM_TRANSACTIONS=false``) publishes with confirmed
    delivery and commits offsets through the consumer instead: still nothing lost, but a batch
    retried after a partial delivery can leave duplicates on the output topics.
    """

    def __init__(
        self,
        processor: Processor,
        settings: Settings,
        *,
        max_records: int = MAX_BATCH_RECORDS,
        transactional: bool | None = None,
    ) -> None:
        self.processor = processor
        self.settings = settings
        self.health = Health(processor.service)
        self.group_id = f"{settings.consumer_group_prefix}.{processor.service}"
        self._transactional = settings.stream_transactions if transactional is None else transactional
        # A processor joining its inputs per key (liquidity: an instrument's book and trades) sets
        # ``co_partitioned = True``, so every replica gets the same partition numbers of each input.
        self._co_partitioned: bool = getattr(processor, "co_partitioned", False)
        self.stopping = asyncio.Event()
        self._max_records = max_records
        # Keyed by the broker-side name, which carries the namespace prefix when one is set.
        self._contracts: dict[str, TopicContract] = {
            settings.topic_name(name): topic(name) for name in processor.inputs
        }
        custom_decoders: dict[str, Callable[[bytes], Any]] = getattr(processor, "decoders", None) or {}
        self._decoders: dict[str, Callable[[bytes], Any]] = {
            settings.topic_name(name): custom_decoders.get(name, topic(name).payload.validate_json)
            for name in processor.inputs
        }
        # Committed offsets found at assignment: a restoring processor replays from earlier
        # offsets, and committing those would move the group backwards.
        self._resume_at: dict[TopicPartition, int] = {}
        # Bumped by every rebalance: a batch fetched across one (aiokafka keeps fetching while the
        # listener restores) is put back unprocessed and fetched again from the right position.
        self._assignment_epoch = 0
        self._batch_lock = asyncio.Lock()
        self._consumer: AIOKafkaConsumer | None = None
        self._publisher: Publisher | None = None
        self._sink = TimescaleSink(
            settings.database_url,
            health=self.health,
            max_backoff_s=settings.sink_max_backoff_s,
            stopping=self.stopping,
        )
        self._server = ObservabilityServer(self.health, settings.metrics_port)
        self._logical = {settings.topic_name(name): name for name in processor.inputs}

    @property
    def metrics_port(self) -> int:
        return self._server.port

    def request_stop(self) -> None:
        if not self.stopping.is_set():
            log.info("stop requested: finishing the current batch")
            self.stopping.set()

    @property
    def publisher(self) -> Publisher:
        assert self._publisher is not None, "service not started"
        return self._publisher

    async def run(self) -> None:
        await self._server.start()
        try:
            await self._start()
            _tune_garbage_collection()
            await self._consume()
        except (SinkStopped, PublisherStopped) as exc:
            log.warning(str(exc))
        finally:
            await self._shutdown()

    async def _start(self) -> None:
        self.health.set_ready("database", False, "not checked yet")
        await self._sink.check()
        await ensure_topics(self.settings)
        transactional_id = transactional_id_for(self.settings, self.group_id) if self._transactional else None
        self._publisher = Publisher(
            self.settings,
            self.processor.service,
            transactional_id=transactional_id,
            stopping=self.stopping,
            encoders=getattr(self.processor, "encoders", None),
        )
        await self._publisher.start()
        self._consumer = make_consumer(
            self.settings, group_id=self.group_id, co_partitioned=self._co_partitioned
        )
        self._consumer.subscribe(
            list(self._contracts), listener=RebalanceHooks(self._on_revoked, self._on_assigned)
        )
        self.health.set_ready("kafka", False, "waiting for partition assignment")
        self.health.set_ready("starting", True)
        await self._consumer.start()
        log.info(
            "service started",
            extra={"inputs": list(self.processor.inputs), "transactional_id": transactional_id},
        )

    async def _consume(self) -> None:
        assert self._consumer is not None
        last_lag = 0.0
        while not self.stopping.is_set():
            self.health.beat()
            epoch = self._assignment_epoch
            batch = await self._consumer.getmany(timeout_ms=200, max_records=self._max_records)
            if batch:
                async with self._batch_lock:
                    if epoch == self._assignment_epoch:
                        await self._process(batch)
                    else:
                        await self._put_back(batch)
            if time.monotonic() - last_lag > 5:
                last_lag = time.monotonic()
                await self._update_lag()

    async def _update_lag(self) -> None:
        assert self._consumer is not None
        lag: dict[str, int] = defaultdict(int)
        for tp in self._consumer.assignment():
            highwater = self._consumer.highwater(tp)
            if highwater is None:
                continue
            position = await self._consumer.position(tp)
            lag[self._logical.get(tp.topic, tp.topic)] += max(0, highwater - position)
        for name, value in lag.items():
            CONSUMER_LAG.labels(self.processor.service, name).set(value)
        self.health.lag = dict(lag)
        self.health.components["sink"] = self._sink.state
        if self._publisher is not None:
            self.health.components["producer"] = self._publisher.state

    async def _shutdown(self) -> None:
        self.health.set_ready("stopping", False, "shutting down")
        if self._consumer is not None:
            await self._consumer.stop()
        if self._publisher is not None:
            await self._publisher.stop()
        close = getattr(self.processor, "close", None)
        if close is not None:
            await close()
        await self._sink.close()
        await self._server.stop()
        log.info("service stopped")

    async def _on_assigned(self, partitions: set[TopicPartition]) -> None:
        # Records can be fetched while this runs: no batch may start before state is restored.
        async with self._batch_lock:
            self._assignment_epoch += 1
            if self._co_partitioned and len(set(map(frozenset, split_partitions(partitions).values()))) > 1:
                # Only when the inputs' partition counts differ (topics created by hand): an
                # instrument's inputs may then be split across replicas. Run one replica.
                log.warning(
                    "inputs are not co-partitioned; run one replica or give the inputs equal partition counts",
                    extra={"assigned": {t: sorted(p) for t, p in split_partitions(partitions).items()}},
                )
            self.processor.assigned(partitions)
            restore = getattr(self.processor, "restore", None)
            if restore is not None and partitions:
                assert self._consumer is not None
                committed = {tp: await self._consumer.committed(tp) for tp in partitions}
                positions: dict[TopicPartition, int] = await restore(partitions, committed, self.settings)
                for tp, offset in positions.items():
                    self._consumer.seek(tp, offset)
                self._resume_at.update({tp: offset for tp, offset in committed.items() if offset is not None})
                if positions:
                    log.info(
                        "replaying to rebuild state",
                        extra={"from": {str(k): v for k, v in positions.items()}},
                    )
            self._assignment_epoch += 1
        self.health.set_ready("kafka", True)

    async def _on_revoked(self, partitions: set[TopicPartition]) -> None:
        # Waiting for the batch lock means a revoked partition's last batch is fully committed.
        async with self._batch_lock:
            self._assignment_epoch += 1
            self.processor.revoked(partitions)
            for tp in partitions:
                self._resume_at.pop(tp, None)

    async def _put_back(self, batch: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]) -> None:
        """Unread a batch that was fetched across a rebalance, so it is fetched again in order.

        A restoring seek to an earlier offset wins; otherwise the position goes back to the
        batch's first record (the consumer had already moved past it).
        """
        assert self._consumer is not None
        assigned = self._consumer.assignment()
        for tp, records in batch.items():
            if records and tp in assigned and records[0].offset < await self._consumer.position(tp):
                self._consumer.seek(tp, records[0].offset)

    async def _process(self, batch: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]) -> None:
        """Run the core once over the batch, then sink, publish and commit until that succeeds."""
        out, rejected = self._run_core(batch)
        offsets = {
            tp: records[-1].offset + 1
            for tp, records in batch.items()
            if records[-1].offset + 1 > self._resume_at.get(tp, -1)
        }
        # Encoded once: a retried publish sends the same bytes.
        records, too_large = self.publisher.encode(out.events)
        await self._publish_and_commit(out.rows, records, [*rejected, *too_large], offsets)
        for tp in batch:
            self.health.saw_input(self._logical.get(tp.topic, tp.topic))

    def _run_core(
        self, batch: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
    ) -> tuple[Output, list[DeadLetter]]:
        out = Output(service=self.processor.service)
        rejected: list[DeadLetter] = []
        for tp, records in batch.items():
            MESSAGES_CONSUMED.labels(self.processor.service, tp.topic).inc(len(records))
            contract = self._contracts[tp.topic]
            source = contract.name
            decode = self._decoders[tp.topic]
            for record in records:
                error_type, reason = self._handle(decode, record, out, contract.keyed_by_instrument)
                if error_type:
                    rejected.append(
                        dead_letter(
                            service=self.processor.service,
                            source=source,
                            partition=tp.partition,
                            offset=record.offset,
                            key=record.key,
                            payload=record.value or b"",
                            error_type=error_type,
                            error=reason,
                        )
                    )
        end_batch = getattr(self.processor, "end_batch", None)
        if end_batch is not None:
            end_batch(out)
        rejected.extend(out.rejected)
        return out, rejected

    async def _write_rows(self, rows: dict[Table, list[Row]]) -> list[DeadLetter]:
        """Every table's rows in one transaction (per sink_batch_rows rows of the largest table).

        Returns the dead letters of the rows the database refused.
        """
        chunk = self.settings.sink_batch_rows
        longest = max((len(table_rows) for table_rows in rows.values()), default=0)
        results: list[tuple[Table, WriteResult]] = []
        for start in range(0, longest, chunk):
            part = {table: table_rows[start : start + chunk] for table, table_rows in rows.items()}
            results.extend((await self._sink.write_batch(part)).items())
        return [
            dead_letter(
                service=self.processor.service,
                source=f"{self.processor.row_origin.get(table.name, 'unknown')}->{table.name}",
                payload=repr(bad.row),
                error_type="database_rejected",
                error=bad.error,
            )
            for table, result in results
            for bad in result.rejected
        ]

    async def _publish_and_commit(
        self,
        rows: dict[Table, list[Row]],
        records: list[Record],
        rejected: list[DeadLetter],
        offsets: dict[TopicPartition, int],
    ) -> None:
        """Write the rows, publish the events and dead letters, commit the offsets: all or nothing.

        The core ran once; its outputs are kept, so a failed attempt is simply published again
        (on a new producer): transactional mode aborts the failed attempt, so it is never seen.
        Without a transaction the events are readable once sent, so the rows are written first.
        """
        publisher = self._publisher
        assert publisher is not None
        assert self._consumer is not None
        refused: list[DeadLetter] | None = None if publisher.transactional else await self._write_rows(rows)
        backoff = 0.2
        while True:
            try:
                if publisher.transactional:
                    await publisher.begin()
                await publisher.publish(records)
                if refused is None:
                    # Once: a retried transaction keeps the rows already committed. Should the
                    # database stay away past Kafka's transaction timeout, the broker aborts the
                    # transaction, the commit below fails, and the events go again.
                    refused = await self._write_rows(rows)
                # Dead letters last: dlq.v1 is shared by every service, and a transaction open on
                # it holds back its read_committed readers.
                await publisher.publish((), [*rejected, *refused])
                if publisher.transactional:
                    await publisher.commit(offsets, self.group_id)
                else:
                    await publisher.confirm()
                    if offsets:
                        await self._consumer.commit(offsets)
                if offsets:
                    OFFSET_COMMITS.labels(self.processor.service).inc()
                self.health.set_ready("kafka producer", True)
                return
            except (DeliveryFailed, KafkaError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
                self.health.set_ready("kafka producer", False, reason[:200])
                if self.stopping.is_set():
                    raise PublisherStopped(
                        "stopping with an unpublished batch; offsets stay uncommitted"
                    ) from exc
                await publisher.abort()
                await publisher.replace(reason)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    def _handle(
        self,
        decode: Callable[[bytes], Any],
        record: ConsumerRecord[bytes, bytes],
        out: Output,
        keyed_by_instrument: bool,
    ) -> tuple[str, str]:
        """Process one record; returns ("", "") or the (error_type, reason) to dead-letter it."""
        if record.value is None:
            return "empty_payload", "record has no value"
        try:
            event = decode(record.value)
        except ValidationError as exc:
            return "validation_error", _short_validation_error(exc)
        except RejectedInput as exc:
            return exc.error_type, exc.reason
        except Exception as exc:  # a decoder bug must not stop the stream either
            log.exception("decoding error", extra={"topic": record.topic, "offset": record.offset})
            return "decoding_error", f"{type(exc).__name__}: {exc}"
        try:
            if keyed_by_instrument:
                check_instrument_key(record.key, event)
            self.processor.handle(record, event, out)
        except RejectedInput as exc:
            return exc.error_type, exc.reason
        except Exception as exc:  # a core bug must not stop the whole stream
            log.exception("processing error", extra={"topic": record.topic, "offset": record.offset})
            return "processing_error", f"{type(exc).__name__}: {exc}"
        return "", ""


def _tune_garbage_collection() -> None:
    """Fewer, cheaper garbage collections: a batch allocates containers by the hundred thousand.

    With CPython's default gen-0 threshold (700 allocations) the book-builder ran over 500
    collections per 6,552 records, and the full collections they led to scanned everything the
    process holds (its modules and pydantic schemas too). Start-up's objects are frozen (left out
    of every later collection; still freed when unreferenced), and a collection runs every 10,000
    allocations. In the book-builder process over benchmarks/book_service.py's backlog: GC 11% of
    its CPU time before, 3.5% after; longest pause 175 ms before, 55 ms after. A larger threshold
    cuts the total further, but each collection scans more: 50,000 made single gen-0 pauses of up
    to 45 ms.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


def _short_validation_error(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error["loc"])
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)
