"""Routing bad input to ``dlq.v1`` with its reason, so nothing is silently dropped."""

import asyncio
import base64
import hashlib
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
# A dead letter must always fit on dlq.v1 (1 MB records), whatever it carries: an oversized input
# keeps its first 64 KiB (base64 grows it by a third), with the whole payload's size and hash.
MAX_PAYLOAD_BYTES = 64 * 1024
MAX_KEY_CHARS = 512


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
    raw = payload.encode("utf-8", "surrogatepass") if isinstance(payload, str) else payload
    size: int | None = None
    sha256: str | None = None
    if len(raw) > MAX_PAYLOAD_BYTES:
        size, sha256 = len(raw), hashlib.sha256(raw).hexdigest()
        raw = _head(raw, MAX_PAYLOAD_BYTES)
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
        key=_readable_key(key),
        error_type=error_type,
        error=error[:MAX_ERROR_CHARS],
        payload_text=text,
        payload_base64=b64,
        payload_size=size,
        payload_sha256=sha256,
        ts=time.time_ns(),
    )


def _head(raw: bytes, limit: int) -> bytes:
    """The first ``limit`` bytes, less the bytes of a UTF-8 character cut in two (text stays text)."""
    head = raw[:limit]
    for cut in range(4):
        candidate = head[: len(head) - cut]
        try:
            candidate.decode("utf-8")
        except UnicodeDecodeError:
            continue
        return candidate
    return head


def _readable_key(key: bytes | str | None) -> str | None:
    """A key as text whatever its bytes (undecodable bytes become U+FFFD), cut to a sane length."""
    if key is None:
        return None
    text = key.decode("utf-8", "replace") if isinstance(key, bytes) else key
    return text[:MAX_KEY_CHARS]


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

    async def publish(self, letter: DeadLetter) -> "asyncio.Future[object]":
        """Queue the letter; its delivery is confirmed when the returned future resolves, and the
        caller awaits it before committing the input's offset."""
        count_and_log(self._service, letter)
        delivery: asyncio.Future[object] = await self._producer.send(
            self._topic, encode_value(letter), key=letter.source.encode()
        )
        return delivery
