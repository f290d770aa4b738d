"""``perpwatch replay``: publish a recorded capture through the live normalizers into Kafka.

Frames go through exactly the parsers the live connectors use; a frame a parser rejects goes to
the dead-letter topic with its reason. ``speed`` paces by the recorded receive times (10 = ten
times faster than recorded); ``None`` publishes as fast as the broker takes it.
"""

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from schemas.common import ExchangeId
from services.ingest.captures import native_symbol_of, read_hftbacktest
from services.ingest.instruments import load_snapshot
from services.ingest.normalizer import FrameRejected
from services.ingest.topics import topic_for
from services.ingest.venues import normalizer_for
from services.runtime.codec import encode_key, encode_value
from services.runtime.dead_letter import DEAD_LETTER_TOPIC, DeadLetterPublisher, dead_letter
from services.runtime.kafka import make_producer
from services.runtime.settings import Settings
from services.runtime.topics import ensure_topics

SERVICE = "replay"


@dataclass
class ReplayStats:
    frames: int = 0
    events: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0


async def replay_capture(
    path: Path,
    settings: Settings,
    *,
    exchange: ExchangeId = ExchangeId.BINANCE_USDM,
    speed: float | None = None,
    on_frame: Callable[[ReplayStats], None] | None = None,
) -> ReplayStats:
    normalizer = normalizer_for(exchange, load_snapshot())
    native_symbol = native_symbol_of(path)
    source = f"replay:{exchange.value}"
    await ensure_topics(settings)
    producer = make_producer(settings)
    await producer.start()
    dead_letters = DeadLetterPublisher(producer, SERVICE, settings.topic_name(DEAD_LETTER_TOPIC))
    stats = ReplayStats()
    started = time.monotonic()
    first_recorded: int | None = None
    try:
        for frame in read_hftbacktest(path):
            if speed is not None:
                first_recorded = first_recorded or frame.receive_ts
                due = (frame.receive_ts - first_recorded) / 1e9 / speed
                lag = due - (time.monotonic() - started)
                if lag > 0:
                    await asyncio.sleep(lag)
            stats.frames += 1
            try:
                payload = frame.decode()
                if not isinstance(payload, dict):
                    raise FrameRejected("malformed", "frame is not a JSON object")
                if frame.is_rest_snapshot:
                    if native_symbol is None:
                        raise FrameRejected("unknown_instrument", "snapshot in a capture without a symbol")
                    events = normalizer.normalize_rest_snapshot(payload, native_symbol, frame.receive_ts)
                else:
                    events = normalizer.normalize(payload, frame.receive_ts)
            except (FrameRejected, orjson.JSONDecodeError) as exc:
                error_type = exc.error_type if isinstance(exc, FrameRejected) else "invalid_json"
                stats.rejected[error_type] += 1
                await dead_letters.publish(
                    dead_letter(
                        service=SERVICE,
                        source=source,
                        payload=frame.raw,
                        error_type=error_type,
                        error=str(exc),
                    )
                )
                continue
            for event in events:
                topic = topic_for(event)
                await producer.send(
                    settings.topic_name(topic), encode_value(event), key=encode_key(event.key)
                )
                stats.events[topic] += 1
            if on_frame is not None:
                on_frame(stats)
        await producer.flush()
    finally:
        await producer.stop()
        stats.seconds = time.monotonic() - started
    return stats
