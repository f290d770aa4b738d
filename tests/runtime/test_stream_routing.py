"""The stream shell's routing, without Kafka: every record is processed or dead-lettered, none dropped.

A mutation that made ``StreamService._handle`` drop a record failing validation (instead of
dead-lettering it) once passed every unit test. These drive ``_run_core`` with a fake processor.
"""

import json
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from schemas.common import ExchangeId
from schemas.examples import EXAMPLES
from schemas.topics import TOPICS
from services.runtime.service import Output, RejectedInput, StreamService
from services.runtime.settings import Settings

TOPIC = "md.trades.v1"
TP = TopicPartition(TOPIC, 2)
GOOD = EXAMPLES[TOPIC].model_dump_json().encode()


class FakeProcessor:
    """Records what it is handed; a payload's ``trade_id`` decides how it reacts."""

    service = "fake"
    inputs: tuple[str, ...] = (TOPIC,)
    row_origin: dict[str, str] = {}

    def __init__(self) -> None:
        self.handled: list[int] = []
        self.batches_ended = 0

    def assigned(self, partitions: set[TopicPartition]) -> None: ...

    def revoked(self, partitions: set[TopicPartition]) -> None: ...

    def handle(self, record: ConsumerRecord[bytes, bytes], event: Any, out: Output) -> None:
        if event.trade_id == "reject-me":
            raise RejectedInput("core_rejected", "the core said no")
        if event.trade_id == "crash-me":
            raise ZeroDivisionError("a core bug")
        self.handled.append(record.offset)
        out.publish("out.v1", event)

    def end_batch(self, out: Output) -> None:
        self.batches_ended += 1
        out.reject(source=TOPIC, error_type="late", reason="past the grace", payload=b"late one")


def trade(trade_id: str) -> bytes:
    document = json.loads(GOOD)
    document["trade_id"] = trade_id
    return json.dumps(document).encode()


def rec(offset: int, value: bytes | None, key: bytes | None = b"binance_usdm:BTC-USDT-PERP") -> Any:
    return ConsumerRecord(TOPIC, TP.partition, offset, 0, 0, key, value, None, 0, 0, ())


@pytest.fixture
def service() -> StreamService:
    return StreamService(FakeProcessor(), Settings())


def run(service: StreamService, values: list[Any]) -> tuple[Output, list[Any]]:
    batch = {TP: [rec(offset, value) for offset, value in enumerate(values)]}
    return service._run_core(batch)


def test_good_records_reach_the_processor_in_order(service: StreamService) -> None:
    out, rejected = run(service, [trade(f"t{i}") for i in range(5)])
    assert service.processor.handled == [0, 1, 2, 3, 4]  # type: ignore[attr-defined]
    assert [e.trade_id for _, e in out.events] == ["t0", "t1", "t2", "t3", "t4"]
    assert [letter.error_type for letter in rejected] == ["late"], "only end_batch's own rejection"


@pytest.mark.parametrize(
    ("value", "error_type", "reason"),
    [
        (b"not json", "validation_error", "Invalid JSON"),
        (b'{"exchange": "binance_usdm"}', "validation_error", "Field required"),
        (None, "empty_payload", "no value"),
        (trade("reject-me"), "core_rejected", "the core said no"),
        (trade("crash-me"), "processing_error", "ZeroDivisionError: a core bug"),
    ],
)
def test_each_kind_of_bad_record_is_dead_lettered_with_its_reason_and_offset(
    service: StreamService, value: bytes | None, error_type: str, reason: str
) -> None:
    _out, rejected = run(service, [trade("a"), value, trade("b")])
    assert service.processor.handled == [0, 2], "the records around the bad one are processed"  # type: ignore[attr-defined]
    letter = next(letter for letter in rejected if letter.error_type == error_type)
    assert reason in letter.error
    assert (letter.source, letter.partition, letter.offset) == (TOPIC, TP.partition, 1)
    assert letter.service == "fake"


def test_no_record_is_dropped_in_a_mixed_batch(service: StreamService) -> None:
    """Every input record ends processed or dead-lettered: the counts add up exactly."""
    kinds = [trade("ok"), b"{", None, trade("reject-me"), trade("crash-me"), b"[]", trade("ok"), b"\xff\xfe"]
    values = [kinds[i % len(kinds)] for i in range(400)]
    out, rejected = run(service, values)
    handled = service.processor.handled  # type: ignore[attr-defined]
    from_records = sorted(letter.offset for letter in rejected if letter.offset is not None)
    assert sorted(handled + from_records) == list(range(400))
    assert len(out.events) == len(handled) == 100


def test_a_decoder_bug_dead_letters_the_record_and_the_stream_goes_on(service: StreamService) -> None:
    """A fast decoder once raised TypeError on {"exchange": {...}}, which stopped the service."""

    contract_decoder = service._decoders[TOPIC]

    def buggy(raw: bytes) -> Any:
        if raw.startswith(b"{"):
            return contract_decoder(raw)
        raise TypeError("unhashable type: 'dict'")

    service._decoders[TOPIC] = buggy
    _, rejected = run(service, [trade("a"), b"boom", trade("b")])
    assert service.processor.handled == [0, 2]  # type: ignore[attr-defined]
    letter = next(letter for letter in rejected if letter.offset == 1)
    assert (letter.error_type, letter.error) == ("decoding_error", "TypeError: unhashable type: 'dict'")


def test_a_bad_records_key_and_payload_are_kept_readably(service: StreamService) -> None:
    batch = {TP: [rec(0, b"\xff\xfe not utf-8", key=b"\xffkey")]}
    _, rejected = service._run_core(batch)
    letter = rejected[0]
    assert letter.payload_text is None
    assert letter.payload_base64
    assert letter.key == "\ufffdkey"


def test_end_batch_runs_once_per_batch_and_its_rejections_are_kept(service: StreamService) -> None:
    _, rejected = run(service, [trade("a")])
    assert service.processor.batches_ended == 1  # type: ignore[attr-defined]
    assert [(letter.error_type, letter.payload_text) for letter in rejected] == [("late", "late one")]


OKX_ETH = b"okx:ETH-USDT-PERP"


@pytest.mark.parametrize(
    "key",
    [OKX_ETH, b"binance_usdm:BTC-USDT-PERP ", b"binance_usdm:\xff\xfeBTC", b""],
    ids=["other instrument", "trailing space", "not utf-8", "empty"],
)
def test_a_record_under_another_key_than_its_payloads_is_dead_lettered_and_never_handled(
    service: StreamService, key: bytes
) -> None:
    """An OKX ETH payload under a Binance BTC key was applied to the BTC book and published as it.

    The check is the runtime's, so every stream service gets it: the core never sees the record.
    """
    batch = {TP: [rec(0, trade("a")), rec(1, trade("b"), key=key), rec(2, trade("c"))]}
    out, rejected = service._run_core(batch)
    assert service.processor.handled == [0, 2]  # type: ignore[attr-defined]
    assert [e.trade_id for _, e in out.events] == ["a", "c"]  # type: ignore[attr-defined]
    letter = next(letter for letter in rejected if letter.offset == 1)
    assert letter.error_type == "key_mismatch"
    assert "is not the payload's 'binance_usdm:BTC-USDT-PERP'" in letter.error
    assert letter.payload_text == trade("b").decode()


def test_the_key_is_checked_on_a_services_own_decoded_form(service: StreamService) -> None:
    """A fast decoder may return its own type (the arbitrage's ``DepthInput``), not a contract model."""

    @dataclass(frozen=True)
    class OwnForm:
        exchange: ExchangeId
        symbol: str
        trade_id: str

    def own_decoder(raw: bytes) -> OwnForm:
        document = json.loads(raw)
        return OwnForm(ExchangeId(document["exchange"]), document["symbol"], document["trade_id"])

    service._decoders[TOPIC] = own_decoder
    _out, rejected = service._run_core({TP: [rec(0, trade("a")), rec(1, trade("b"), key=OKX_ETH)]})
    assert service.processor.handled == [0]  # type: ignore[attr-defined]
    assert [(letter.error_type, letter.offset) for letter in rejected if letter.offset is not None] == [
        ("key_mismatch", 1)
    ]


def test_a_record_without_a_key_uses_its_payloads(service: StreamService) -> None:
    _out, rejected = service._run_core({TP: [rec(0, trade("a"), key=None)]})
    assert service.processor.handled == [0]  # type: ignore[attr-defined]
    assert [letter.error_type for letter in rejected] == ["late"]


def test_the_check_covers_exactly_the_topics_keyed_by_instrument() -> None:
    """Other keys (a venue symbol, a rule id, a pair) are not ``exchange:symbol``; no check for them."""
    checked = {contract.name for contract in TOPICS if contract.keyed_by_instrument}
    assert {"md.book.v1", "md.trades.v1", "book.bbo.v1", "book.l2.v1", "md.candles.v1"} <= checked
    assert not checked & {
        "venue.commands.v1",
        "alert.rules.v1",
        "analytics.pairs.v1",
        "dlq.v1",
        "md.status.v1",
    }
    for name in checked:
        assert EXAMPLES[name].key.count(":") == 1, name  # type: ignore[attr-defined]
