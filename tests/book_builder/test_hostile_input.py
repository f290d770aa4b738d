"""Input an attacker (or a broken producer) could put on md.book.v1, found by probing a live stack.

Each record below once corrupted a book, wrote a phantom row or stopped a partition. The
processor is driven the way ``StreamService`` drives it: every rejection is a ``RejectedInput``
raised before anything is added to the output, so the runtime dead-letters it and writes nothing.
"""

import json

import pytest
from aiokafka.structs import ConsumerRecord

from schemas.examples import EXAMPLES
from services.book_builder.core.decode import decode_book_event
from services.book_builder.service import MAX_UNLISTED_BOOKS, BookBuilderProcessor
from services.instruments.catalog import load_snapshot
from services.runtime.service import Output, RejectedInput
from services.runtime.settings import Settings

TOPIC = "md.book.v1"
BTC_KEY = b"binance_usdm:BTC-USDT-PERP"


def snapshot(**changes: object) -> bytes:
    document = json.loads(EXAMPLES["md.book.v1"].model_dump_json())
    document.update({"type": "snapshot", "sequence": {"last": 10}, "bids": [["100.0", "1"]]})
    document.update({"asks": [["100.5", "2"]]})
    document.update(changes)
    return json.dumps(document).encode()


def record(value: bytes, key: bytes | None = BTC_KEY, offset: int = 0) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(TOPIC, 0, offset, 0, 0, key, value, None, 0, len(value), ())


def feed(processor: BookBuilderProcessor, rec: ConsumerRecord[bytes, bytes], out: Output) -> None:
    processor.handle(rec, decode_book_event(rec.value or b""), out)


@pytest.fixture
def processor() -> BookBuilderProcessor:
    return BookBuilderProcessor(Settings(), catalog=load_snapshot())


@pytest.mark.parametrize("price", ["1e999999", "1e400", "1e-400", "1" + "0" * 45, 1e300])
def test_absurd_prices_are_rejected_by_the_decoder(price: object) -> None:
    """A bid of "1e999999" passed as finite and > 0, and became a 2 MB book.bbo.v1 event."""
    with pytest.raises(RejectedInput, match="no more than 40 digits"):
        decode_book_event(snapshot(bids=[[price, "1"]]))
    with pytest.raises(RejectedInput, match="no more than 40 digits"):
        decode_book_event(snapshot(asks=[["100.5", price]]))


def test_a_payload_under_another_instruments_key_is_rejected_and_changes_nothing(
    processor: BookBuilderProcessor,
) -> None:
    """An OKX ETH payload under a Binance BTC key was applied to the BTC book and published as it."""
    out = Output()
    feed(processor, record(snapshot()), out)
    published = len(out.events)
    okx_eth = snapshot(exchange="okx", symbol="ETH-USDT-PERP", native_symbol="ETH-USDT-SWAP")
    with pytest.raises(RejectedInput) as rejected:
        feed(processor, record(okx_eth, offset=1), out)
    assert rejected.value.error_type == "key_mismatch"
    assert "okx:ETH-USDT-PERP" in rejected.value.reason
    assert len(out.events) == published
    assert set(processor._books) == {BTC_KEY}


def test_a_non_utf8_key_is_rejected_before_any_book_or_row_exists(processor: BookBuilderProcessor) -> None:
    """A non-UTF-8 key raised UnicodeDecodeError after a phantom book's row was already written."""
    out = Output()
    with pytest.raises(RejectedInput) as rejected:
        feed(processor, record(snapshot(), key=b"binance_usdm:\xff\xfeBTC"), out)
    assert rejected.value.error_type == "key_mismatch"
    assert not out.events
    assert not out.rows
    assert not processor._books


def test_a_record_without_a_key_uses_the_payloads(processor: BookBuilderProcessor) -> None:
    out = Output()
    feed(processor, record(snapshot(), key=None), out)
    assert set(processor._books) == {BTC_KEY}


def test_unlisted_instruments_cannot_create_books_without_bound(processor: BookBuilderProcessor) -> None:
    """5,000 new keys each created a book and new metric label sets."""
    out = Output()
    reasons: list[str] = []
    for n in range(MAX_UNLISTED_BOOKS + 50):
        symbol, native = f"X{n}-USDT-PERP", f"X{n}USDT"
        key = f"binance_usdm:{symbol}".encode()
        try:
            feed(processor, record(snapshot(symbol=symbol, native_symbol=native), key=key, offset=n), out)
            reasons.append("accepted")
        except RejectedInput as exc:
            reasons.append(exc.error_type)
    assert reasons == ["accepted"] * MAX_UNLISTED_BOOKS + ["unknown_instrument"] * 50
    assert len(processor._books) == MAX_UNLISTED_BOOKS
    feed(processor, record(snapshot(), offset=10_000), out)  # a listed instrument still gets its book
    assert BTC_KEY in processor._books
