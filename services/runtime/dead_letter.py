"""Routing bad input to ``dlq.v1`` with its reason, so nothing is silently dropped."""

import base64
import logging
import time

from aiokafka import AIOKafkaProducer

from schemas.dead_letter import DeadLetter
from services.runtime.codec import encode_value
from services.runtime.metrics import DEAD_LETTERS

log = logging.getLogger(__name__)

DEAD_LETTER_TOPIC = "dlq.v1"
# Enough of an error to diagnose it without letting one message blow up the topic.
MAX_ERROR_CHARS = 4000


def dead_letter(
    *,
    service: str,
    source: str,
    payload: bytes | str,
    error_type: str,
    error: str,
    partition: int | None = None,
    offset: int | None = None,
    key: bytes | str | None = None,
) -> DeadLetter:
    raw = payload.encode() if isinstance(payload, str) else payload
    try:
        text: str | None = raw.decode("utf-8")
        b64: str | None = None
    except UnicodeDecodeError:
        text, b64 = None, base64.b64encode(raw).decode()
    return DeadLetter(
        service=service,
        source=source,
        partition=partition,
        offset=offset,
        key=key.decode("utf-8", "replace") if isinstance(key, bytes) else key,
        error_type=error_type,
        error=error[:MAX_ERROR_CHARS],
        payload_text=text,
        payload_base64=b64,
        ts=time.time_ns(),
    )


def count_and_log(service: str, letter: DeadLetter) -> None:
    """Every dead letter is counted and logged once, whichever producer sends it."""
    DEAD_LETTERS.labels(service, letter.source, letter.error_type).inc()
    log.warning(
        "dead letter",
        extra={
            "source": letter.source,
            "partition": letter.partition,
            "offset": letter.offset,
            "error_type": letter.error_type,
            "error": letter.error[:300],
        },
    )


class DeadLetterPublisher:
    """Dead letters on a producer the caller owns (the matching venue's per-partition transactions)."""

    def __init__(self, producer: AIOKafkaProducer, service: str, topic: str = DEAD_LETTER_TOPIC) -> None:
        self._producer = producer
        self._service = service
        self._topic = topic

    async def publish(self, letter: DeadLetter) -> None:
        count_and_log(self._service, letter)
        await self._producer.send(self._topic, encode_value(letter), key=letter.source.encode())
