"""``perpwatch tail``: a human view of a topic, one decoded event per line."""

import time
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from schemas.topics import topic as contract_of
from services.runtime.settings import Settings
from services.runtime.topics import partitions_of

# Fields already shown in the line's prefix.
_PREFIX_FIELDS = {"exchange", "symbol", "native_symbol", "exchange_ts", "receive_ts", "ts"}
_SIDE_COLOURS = {"buy": "green", "sell": "red"}


def _clock(ns: int | None) -> str:
    if not ns:
        return "--:--:--.---"
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).strftime("%H:%M:%S.%f")[:-3]


def format_event(topic: str, key: str | None, payload: dict[str, Any]) -> str:
    when = payload.get("exchange_ts") or payload.get("ts")
    parts = [f"[dim]{_clock(when)}[/dim]", f"[cyan]{escape(key or '-')}[/cyan]"]
    if "type" in payload:
        parts.append(f"[magenta]{payload['type']}[/magenta]")
    for name, value in payload.items():
        if name in _PREFIX_FIELDS or name == "type":
            continue
        if name in ("bids", "asks") and isinstance(value, list):
            text = f"{name}={len(value)} levels"
            if value:
                text += f" best {value[0][1]}@{value[0][0]}"
            parts.append(text)
            continue
        colour = _SIDE_COLOURS.get(str(value)) if name == "side" else None
        shown = escape(str(value))
        parts.append(f"{name}=[{colour}]{shown}[/{colour}]" if colour else f"{name}={shown}")
    return " ".join(parts)


async def tail_topic(
    settings: Settings,
    topic: str,
    *,
    from_beginning: bool,
    key: str | None,
    limit: int | None,
    console: Console | None = None,
) -> int:
    """Print records until Ctrl-C (or ``limit`` records); returns how many were shown."""
    out = console or Console(highlight=False)
    contract = contract_of(topic)
    # No group: tailing must not move any service's committed offsets.
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, isolation_level="read_committed")
    await consumer.start()
    shown = 0
    try:
        physical = settings.topic_name(topic)
        partitions = await partitions_of(settings, physical)
        assigned = [TopicPartition(physical, p) for p in sorted(partitions)]
        if not assigned:
            out.print(f"[red]topic {physical} does not exist on {settings.kafka_bootstrap}[/red]")
            return 0
        consumer.assign(assigned)
        if from_beginning:
            await consumer.seek_to_beginning(*assigned)
        else:
            await consumer.seek_to_end(*assigned)
        wanted_key = key.encode() if key is not None else None
        idle_since = time.monotonic()
        while limit is None or shown < limit:
            batch = await consumer.getmany(timeout_ms=500)
            if not batch and limit is not None and time.monotonic() - idle_since > 5:
                break
            for records in batch.values():
                for record in records:
                    if wanted_key is not None and record.key != wanted_key:
                        continue
                    idle_since = time.monotonic()
                    record_key = record.key.decode() if record.key else None
                    try:
                        event = contract.payload.validate_json(record.value or b"")
                        payload = event.model_dump(mode="json") if hasattr(event, "model_dump") else event
                        out.print(format_event(topic, record_key, payload))
                    except ValidationError as exc:
                        out.print(
                            f"[red]INVALID[/red] offset {record.offset}: {escape(str(exc.errors()[:1]))}"
                        )
                    shown += 1
                    if limit is not None and shown >= limit:
                        break
    finally:
        await consumer.stop()
    return shown
