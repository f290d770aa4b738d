"""The compacted ``alert.rules.v1`` topic: read to its end at start, then followed live.

Every alert instance reads every partition of the topic (no consumer group): each needs the
whole rule set. A record that does not decode is skipped with a warning; the API validates a
rule before it publishes it, so that only happens to a hand-written record.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError

from schemas.alert import AlertRuleChange
from services.runtime.settings import Settings
from services.runtime.topics import partitions_of

log = logging.getLogger(__name__)

RULES_TOPIC = "alert.rules.v1"


class RulesFeed:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._name = settings.topic_name(RULES_TOPIC)
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def load(self) -> list[AlertRuleChange]:
        """The latest change of every rule id, reading the topic to the end offsets of now."""
        partitions = [TopicPartition(self._name, p) for p in await partitions_of(self._settings, self._name)]
        consumer = self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self._settings.kafka_bootstrap,
            enable_auto_commit=False,
            isolation_level="read_committed",
        )
        await consumer.start()
        latest: dict[bytes, AlertRuleChange | None] = {}
        if not partitions:
            log.warning(
                "rules topic missing: only built-in and file rules apply", extra={"topic": self._name}
            )
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        remaining = {tp for tp in partitions if end[tp] > 0}
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000)
            for records in batch.values():
                for record in records:
                    if record.key is not None:
                        latest[record.key] = _decode(record.value)
            remaining = {tp for tp in remaining if await consumer.position(tp) < end[tp]}
        changes = [change for change in latest.values() if change is not None]
        log.info("rules loaded", extra={"topic": self._name, "changes": len(changes)})
        return sorted(changes, key=lambda change: change.rule_id)

    def follow(self, apply: Callable[[AlertRuleChange], None]) -> None:
        """From where ``load`` stopped, hand every new change to ``apply`` (in the event loop)."""
        if self._consumer is None or self._task is not None:
            return
        self._task = asyncio.create_task(self._follow(self._consumer, apply), name="alert-rules-feed")

    async def _follow(self, consumer: AIOKafkaConsumer, apply: Callable[[AlertRuleChange], None]) -> None:
        try:
            while True:
                if not consumer.assignment():
                    # The topic did not exist at start; it is created by the first rule change.
                    partitions = await partitions_of(self._settings, self._name)
                    if not partitions:
                        await asyncio.sleep(2.0)
                        continue
                    consumer.assign([TopicPartition(self._name, p) for p in partitions])
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    for record in records:
                        change = _decode(record.value)
                        if change is None and record.value is None and record.key is not None:
                            change = _deleted(record.key.decode(errors="replace"))
                        if change is not None:
                            apply(change)
        finally:
            await consumer.stop()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        elif self._consumer is not None:
            await self._consumer.stop()
        self._consumer = None


def _deleted(rule_id: str) -> AlertRuleChange | None:
    """A tombstone written by hand (the API publishes deletions as changes with a null rule)."""
    try:
        return AlertRuleChange(rule_id=rule_id, rule=None, version=1, changed_at=datetime.now(UTC))
    except ValidationError:
        return None


def _decode(value: bytes | None) -> AlertRuleChange | None:
    if value is None:
        return None  # a tombstone: compaction removed the rule
    try:
        return AlertRuleChange.model_validate_json(value)
    except ValidationError as exc:
        log.warning("unreadable rule change skipped", extra={"error": str(exc)[:500]})
        return None
