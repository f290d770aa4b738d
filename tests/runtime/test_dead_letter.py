"""A dead letter always fits on dlq.v1, and an output too large to publish is dead-lettered."""

import asyncio
import hashlib
from decimal import Decimal

import orjson
from pydantic import BaseModel

from schemas import DeadLetter
from schemas.examples import EXAMPLES
from services.runtime.codec import encode_value
from services.runtime.dead_letter import MAX_PAYLOAD_BYTES, dead_letter
from services.runtime.publisher import MAX_RECORD_BYTES, Publisher
from services.runtime.settings import Settings


def _letter(payload: bytes | str, key: bytes | str | None = None) -> DeadLetter:
    return dead_letter(
        service="book-builder", source="md.book.v1", payload=payload, error_type="x", error="y", key=key
    )


def test_a_small_payload_is_kept_whole_and_carries_no_size_or_hash() -> None:
    letter = _letter(b'{"a":1}')
    assert letter.payload_text == '{"a":1}'
    assert letter.payload_size is None
    assert letter.payload_sha256 is None
    assert b"payload_size" not in encode_value(letter), "unchanged wire form for ordinary letters"


def test_an_oversized_payload_is_cut_and_described_by_size_and_hash() -> None:
    payload = b'{"bids":[["' + b"9" * 2_000_000 + b'","1"]]}'
    letter = _letter(payload)
    assert letter.payload_size == len(payload)
    assert letter.payload_sha256 == hashlib.sha256(payload).hexdigest()
    assert letter.payload_text is not None
    assert payload.startswith(letter.payload_text.encode())
    assert len(letter.payload_text) == MAX_PAYLOAD_BYTES
    assert len(encode_value(letter)) < MAX_RECORD_BYTES
    assert DeadLetter.model_validate_json(encode_value(letter)) == letter


def test_an_oversized_binary_payload_fits_even_as_base64() -> None:
    payload = bytes(range(256)) * 40_000  # 10 MB, not UTF-8
    letter = _letter(payload)
    assert letter.payload_text is None
    assert letter.payload_base64 is not None
    assert letter.payload_size == len(payload)
    assert len(encode_value(letter)) < MAX_RECORD_BYTES


def test_cutting_never_splits_a_character_so_text_stays_text() -> None:
    payload = ("é" * MAX_PAYLOAD_BYTES).encode()  # 2 bytes a character: the cut lands mid-character
    letter = _letter(payload[: MAX_PAYLOAD_BYTES + 1])
    assert letter.payload_text is not None
    assert set(letter.payload_text) == {"é"}


def test_a_non_utf8_or_huge_key_is_readable_and_bounded() -> None:
    assert _letter(b"x", key=b"binance_usdm:\xff\xfe").key == "binance_usdm:\ufffd\ufffd"
    long_key = _letter(b"x", key=b"k" * 100_000).key
    assert long_key is not None
    assert len(long_key) <= 512


class _FakeProducer:
    """Records what is sent; every send is delivered at once."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes | None]] = []

    async def send(
        self, topic: str, value: bytes, key: bytes | None = None, partition: int | None = None
    ) -> "asyncio.Future[object]":
        self.sent.append((topic, value, key))
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future


async def test_an_event_too_large_to_publish_is_dead_lettered_not_fatal() -> None:
    """A 2 MB book.bbo.v1 event (a price of 1e999999 written out) used to stop its partition."""
    publisher = Publisher(Settings(), "book-builder")
    producer = _FakeProducer()
    publisher._producer = producer  # type: ignore[assignment]
    good: BaseModel = EXAMPLES["book.bbo.v1"]
    huge = good.model_copy(update={"bid_price": Decimal("1e999999")})
    await publisher.send("book.bbo.v1", huge)
    await publisher.send("book.bbo.v1", good)
    assert await publisher.confirm() == 2
    (dlq_topic, letter_bytes, _), (bbo_topic, good_bytes, _) = producer.sent
    assert (dlq_topic, bbo_topic) == ("dlq.v1", "book.bbo.v1")
    assert good_bytes == encode_value(good)
    letter = DeadLetter.model_validate_json(letter_bytes)
    assert letter.error_type == "output_too_large"
    assert letter.source == "book-builder->book.bbo.v1"
    assert letter.payload_size is not None
    assert letter.payload_size > MAX_RECORD_BYTES
    assert len(letter_bytes) < MAX_RECORD_BYTES
    assert orjson.loads(letter_bytes)["key"] == good.key  # type: ignore[attr-defined]
