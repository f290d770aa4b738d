"""Input an attacker (or a broken producer) could put on md.book.v1, found by probing a live stack.

Each record below once corrupted a book, wrote a phantom row or stopped a partition. The
processor is driven the way ``StreamService`` drives it: every rejection is a ``RejectedInput``
raised before anything is added to the output, so the runtime dead-letters it and writes nothing.
"""

import json

import pytest
from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from schemas.examples import EXAMPLES
from services.book_builder.core.decode import decode_book_event
from services.book_builder.service import MAX_UNLISTED_BOOKS, BookBuilderProcessor
from services.instruments.catalog import load_snapshot
from services.runtime.service import Output, RejectedInput, StreamService
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
    """An OKX ETH payload under a Binance BTC key was applied to the BTC book and published as it.

    The runtime's shell rejects it (for every stream service); the book-builder never sees it.
    """
    shell = StreamService(processor, Settings())
    tp = TopicPartition(TOPIC, 0)
    out, _ = shell._run_core({tp: [record(snapshot())]})
    published = len(out.events)
    top = processor._books[BTC_KEY].builder.book.best_bid()
    okx_eth = snapshot(
        exchange="okx", symbol="ETH-USDT-PERP", native_symbol="ETH-USDT-SWAP", bids=[["5", "1"]]
    )
    out, rejected = shell._run_core({tp: [record(okx_eth, offset=1)]})
    assert [(letter.error_type, letter.offset) for letter in rejected] == [("key_mismatch", 1)]
    assert "okx:ETH-USDT-PERP" in rejected[0].error
    public = [name for name, _ in out.events if not name.startswith("_")]  # not the checkpoints
    assert published
    assert not public
    assert not out.rows
    assert set(processor._books) == {BTC_KEY}
    assert processor._books[BTC_KEY].builder.book.best_bid() == top


def test_a_non_utf8_key_is_rejected_before_any_book_or_row_exists(processor: BookBuilderProcessor) -> None:
    """A non-UTF-8 key raised UnicodeDecodeError after a phantom book's row was already written."""
    shell = StreamService(processor, Settings())
    out, rejected = shell._run_core(
        {TopicPartition(TOPIC, 0): [record(snapshot(), key=b"binance_usdm:\xff\xfeBTC")]}
    )
    assert [letter.error_type for letter in rejected] == ["key_mismatch"]
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


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        (
            {"type": "delta", "sequence": {"first": 11, "last": 11, "prev": 10}, "bids": [["1e-30", "1"]]},
            "tick",
        ),
        (
            {"type": "delta", "sequence": {"first": 11, "last": 11, "prev": 10}, "bids": [["5000000", "1"]]},
            "mid",
        ),
    ],
    ids=["finer than BTCUSDT's tick", "a bid 80x the mid"],
)
def test_implausible_prices_are_dead_lettered_and_the_book_and_outputs_are_unchanged(
    processor: BookBuilderProcessor, changes: dict[str, object], reason: str
) -> None:
    """Bounded by the instrument list's tick (0.10 for Binance BTCUSDT) and the live book's mid."""
    shell = StreamService(processor, Settings())
    tp = TopicPartition(TOPIC, 0)
    shell._run_core({tp: [record(snapshot())]})
    book = processor._books[BTC_KEY].builder
    before = (book.book.bids(), book.book.asks(), book.last_seq)
    out, rejected = shell._run_core({tp: [record(snapshot(**changes), offset=1)]})
    assert [(letter.error_type, letter.offset) for letter in rejected] == [("implausible_price", 1)]
    assert reason in rejected[0].error
    assert not [name for name, _ in out.events if not name.startswith("_")]
    assert not out.rows
    assert (book.book.bids(), book.book.asks(), book.last_seq) == before
