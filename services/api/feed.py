"""Kafka -> :class:`Hub`: the live side of the API.

No consumer group (manual assignment): every API replica reads every partition itself and
commits nothing. Topics are read from their latest offset with ``read_committed``, so clients
see new committed records only; md.status.v1 is read back ``status_history`` records per
partition first, so /v1/exchanges knows each venue's connection state right after a start.
"""

import asyncio
import contextlib
import logging

from aiokafka import AIOKafkaConsumer, TopicPartition

from services.api.hub import Hub
from services.runtime.settings import Settings
from services.runtime.topics import partitions_of

log = logging.getLogger(__name__)

STATUS_TOPIC = "md.status.v1"
YIELD_EVERY = 32


class KafkaFeed:
    def __init__(self, settings: Settings, hub: Hub, topics: list[str], status_history: int) -> None:
        self._settings = settings
        self._hub = hub
        self._logical = {settings.topic_name(topic): topic for topic in topics}
        self._status_history = status_history
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._settings.kafka_bootstrap,
            enable_auto_commit=False,
            isolation_level="read_committed",
            auto_offset_reset="latest",
        )
        await consumer.start()
        self._consumer = consumer
        assigned: list[TopicPartition] = []
        for physical in self._logical:
            assigned += [TopicPartition(physical, p) for p in await partitions_of(self._settings, physical)]
        consumer.assign(assigned)
        if assigned:
            await consumer.seek_to_end(*assigned)
            status = [tp for tp in assigned if self._logical[tp.topic] == STATUS_TOPIC]
            if status and self._status_history:
                beginning = await consumer.beginning_offsets(status)
                end = await consumer.end_offsets(status)
                for tp in status:
                    consumer.seek(tp, max(beginning[tp], end[tp] - self._status_history))
        log.info("api feed assigned", extra={"partitions": len(assigned)})
        self._task = asyncio.create_task(self._run(), name="api-feed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()

    async def _run(self) -> None:
        assert self._consumer is not None
        while True:
            batch = await self._consumer.getmany(timeout_ms=500, max_records=5000)
            fanned = 0
            for tp, records in batch.items():
                topic = self._logical[tp.topic]
                for record in records:
                    if record.value:
                        self._hub.publish(topic, record.key, record.value)
                        fanned += 1
                        if fanned % YIELD_EVERY == 0:
                            # Let the WebSocket senders drain: a client that keeps up never
                            # sees a whole Kafka batch land in its bounded queue at once.
                            await asyncio.sleep(0)
            await asyncio.sleep(0)
