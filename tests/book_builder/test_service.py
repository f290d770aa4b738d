"""The book-builder processor without a broker: outputs, rows, replay, checkpoints, resync requests.

Records are real Binance ``md.book.v1`` payloads wrapped as consumer records; the processor is
driven the way ``StreamService`` drives it (decode, handle, end_batch per batch).
"""

import gzip
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from schemas.book import BookDepth, BookStatus, BookTop
from schemas.common import ExchangeId
from schemas.market_data import BookDelta, BookSnapshot
from schemas.topics import topic
from services.book_builder.checkpoints import CHECKPOINT_TOPIC, BookCheckpointRecord
from services.book_builder.core.decode import decode_book_event
from services.book_builder.service import BOOK_BBO, BOOK_DEPTH, BookBuilderProcessor
from services.instruments.catalog import load_snapshot
from services.runtime.service import Output, RejectedInput
from services.runtime.settings import Settings
from services.venues import normalizer_for

TOPIC = "test.md.book.v1"
TP = TopicPartition(TOPIC, 0)
MS = 1_000_000


@pytest.fixture(scope="module")
def payloads(binance_capture: Path) -> list[bytes]:
    """The capture's book events as md.book.v1 payloads, in stream order."""
    normalizer = normalizer_for(ExchangeId.BINANCE_USDM, load_snapshot())
    found: list[bytes] = []
    with gzip.open(binance_capture, "rb") as lines:
        for line in lines:
            stamp, raw = line.split(b" ", 1)
            if raw.startswith(b'{"lastUpdateId"'):
                events = normalizer.normalize_rest_snapshot(orjson.loads(raw), "BTCUSDT", int(stamp))
            elif b"depthUpdate" in raw:
                events = normalizer.normalize(orjson.loads(raw), int(stamp))
            else:
                continue
            found.extend(
                e.model_dump_json().encode() for e in events if isinstance(e, BookSnapshot | BookDelta)
            )
    return found


def record(offset: int, value: bytes) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        TOPIC, 0, offset, 0, 0, b"binance_usdm:BTC-USDT-PERP", value, None, 0, len(value), ()
    )


@dataclass
class Run:
    processor: BookBuilderProcessor
    out: Output = field(default_factory=Output)

    def feed(
        self, payloads: list[bytes], start: int = 0, stop: int | None = None, *, batch: int = 500
    ) -> None:
        for offset in range(start, len(payloads) if stop is None else stop):
            self.processor.handle(
                record(offset, payloads[offset]), decode_book_event(payloads[offset]), self.out
            )
            if (offset + 1) % batch == 0:
                self.processor.end_batch(self.out)
        self.processor.end_batch(self.out)

    def events(self, topic_name: str) -> list[Any]:
        return [e for t, e in self.out.events if t == topic_name]


def processor() -> BookBuilderProcessor:
    return BookBuilderProcessor(Settings(book_depth=20), catalog=load_snapshot(), checkpoint_interval_s=0.0)


def test_outputs_on_the_real_capture(payloads: list[bytes]) -> None:
    run = Run(processor())
    run.feed(payloads)
    tops: list[BookTop] = run.events("book.bbo.v1")
    depth: list[BookDepth] = run.events("book.l2.v1")
    assert len(tops) > 1000
    assert [t.book_seq for t in tops] == list(range(1, len(tops) + 1))
    assert all(t.bid_price < t.ask_price for t in tops)
    assert len(run.out.rows[BOOK_BBO]) == len(tops)
    assert all(d.status is BookStatus.VALID and len(d.bids) == len(d.asks) == 20 for d in depth)
    gaps = [b.exchange_ts - a.exchange_ts for a, b in itertools.pairwise(depth)]
    assert min(gaps) >= 100 * MS, "book.l2.v1 is throttled to 100 ms of event time"
    rows = run.out.rows[BOOK_DEPTH]
    row_gaps = [(b[0] - a[0]).total_seconds() for a, b in itertools.pairwise(rows)]
    assert rows
    assert min(row_gaps) >= 1.0, "book_depth rows at most once a second"
    for payload in (t.model_dump_json() for t in tops[:50]):  # what goes on the wire is the contract
        topic("book.bbo.v1").payload.validate_json(payload)
    for payload in (d.model_dump_json() for d in depth[:50]):
        topic("book.l2.v1").payload.validate_json(payload)
    encode = run.processor.encoders["book.l2.v1"]
    assert [encode(d) for d in depth] == [d.model_dump_json().encode() for d in depth], (
        "the builder's book.l2.v1 encoder writes what pydantic writes"
    )


def test_a_gap_publishes_an_invalid_status_and_asks_for_a_snapshot(payloads: list[bytes]) -> None:
    requests: list[str] = []

    class RecordingResync:
        def request(self, key: str, exchange: ExchangeId, native_symbol: str) -> bool:
            requests.append(key)
            return True

        def recovered(self, key: str) -> None: ...

        def cancel(self, keys: set[str]) -> None: ...

    built = processor()
    built._resync = RecordingResync()  # type: ignore[assignment]
    run = Run(built)
    run.feed(payloads[:300] + payloads[301:400])
    statuses = [d for d in run.events("book.l2.v1") if d.status is BookStatus.INVALID]
    [broken] = statuses
    assert broken.reason.startswith("gap: sequence gap")
    assert broken.bids == broken.asks == []
    topic("book.l2.v1").payload.validate_json(broken.model_dump_json())
    assert requests
    assert set(requests) == {"binance_usdm:BTC-USDT-PERP"}
    last_top = run.events("book.bbo.v1")[-1]
    assert last_top.exchange_ts <= broken.exchange_ts, "no top after the break"


def test_bad_payloads_become_rejected_inputs() -> None:
    with pytest.raises(RejectedInput) as rejected:
        decode_book_event(b'{"type": "delta"}')
    assert rejected.value.error_type == "validation_error"


def test_a_restored_builder_replays_silently_then_continues_exactly(payloads: list[bytes]) -> None:
    """The in-memory version of the kill test: checkpoint, restart, replay to the commit, go on."""
    committed = 3000  # the group's committed offset when the process died
    reference = Run(processor())
    reference.feed(payloads, stop=committed)
    checkpoints = [c for t, c in reference.out.events if t == CHECKPOINT_TOPIC]
    assert checkpoints, "checkpoints of earlier batches are published"
    # Over the wire and back, as the restarted builder reads it.
    latest = BookCheckpointRecord.model_validate_json(checkpoints[-1].model_dump_json())
    assert latest.input_offset < committed
    reference.out = Output()
    reference.feed(payloads, start=committed)  # the run that never stopped

    restarted = Run(processor())
    positions = restarted.processor.restore_from([latest], {TP}, {TP: committed})
    assert positions == {TP: latest.input_offset + 1}
    restarted.feed(payloads, start=positions[TP])

    for name in ("book.bbo.v1", "book.l2.v1"):
        assert restarted.events(name) == reference.events(name)
    assert restarted.out.rows == reference.out.rows
