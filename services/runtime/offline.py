"""``perpwatch analyze NAME FILE``: a stream service's processor over a JSONL file, offline.

The same processor ``perpwatch run NAME`` runs, fed from a file instead of Kafka: no broker, no
database. Input lines are envelopes ``{"topic", "key", "event"}`` (what ``perpwatch normalize``
prints). Each envelope of one of the processor's input topics is decoded by that topic's
contract (or the processor's own decoder), handed to ``handle`` as a record of partition 0 with
the line's per-topic offset, and ``end_batch`` runs every ``batch_records`` records and at the
end, as the runtime does per consumed batch. Every published event is printed as an envelope,
so the output of one service is the input of the next; the last line is one summary object.

``via``: run the file through other processors first (e.g. the book-builder, to turn
``md.book.v1`` into ``book.l2.v1``) and feed their outputs in too, in order.
"""

from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Literal

import orjson
from aiokafka.structs import ConsumerRecord
from pydantic import BaseModel, ValidationError

from schemas.topics import TOPICS_BY_NAME
from services.runtime.codec import check_instrument_key, event_key
from services.runtime.service import Output, Processor, RejectedInput

BATCH_RECORDS = 2000


@dataclass(frozen=True)
class Envelope:
    topic: str
    key: str | None
    event: Any
    """A decoded contract model, or the raw JSON value before decoding."""
    raw: bytes

    def line(self) -> bytes:
        return orjson.dumps({"topic": self.topic, "key": self.key, "event": orjson.loads(self.raw)})


@dataclass
class Summary:
    service: str
    lines: int = 0
    inputs: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    outputs: Counter[str] = field(default_factory=Counter)
    rows: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    stats: dict[str, Any] = field(default_factory=dict)
    """The processor's own counters (``summary()``), e.g. the arbitrage guards' rejections."""

    def as_json(self) -> dict[str, Any]:
        return {
            "summary": self.service,
            "lines": self.lines,
            "inputs": dict(self.inputs),
            "skipped_topics": dict(self.skipped),
            "outputs": dict(self.outputs),
            "rows": dict(self.rows),
            "rejected": dict(self.rejected),
            "stats": self.stats,
        }


def read_envelopes(lines: Iterable[bytes], summary: Summary) -> Iterator[Envelope]:
    """Parse envelope lines; a line that is not an envelope is counted as rejected, not fatal."""
    for line in lines:
        if not line.strip():
            continue
        summary.lines += 1
        try:
            document = orjson.loads(line)
            topic, key, event = document["topic"], document.get("key"), document["event"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            summary.rejected["not_an_envelope"] += 1
            continue
        yield Envelope(str(topic), key, event, orjson.dumps(event))


def _exchange_ts(envelope: Envelope) -> int:
    event = envelope.event
    ts = getattr(event, "exchange_ts", None) if not isinstance(event, dict) else event.get("exchange_ts")
    return int(ts) if isinstance(ts, int) else 0


class _Feeder:
    """Feeds one processor the way the runtime does: decode, handle, end_batch per batch."""

    def __init__(self, processor: Processor, summary: Summary) -> None:
        self.processor = processor
        self.summary = summary
        custom: dict[str, Callable[[bytes], Any]] = getattr(processor, "decoders", None) or {}
        self._decode = {
            name: custom.get(name, TOPICS_BY_NAME[name].payload.validate_json) for name in processor.inputs
        }
        self._keyed_by_instrument = {
            name for name in processor.inputs if TOPICS_BY_NAME[name].keyed_by_instrument
        }
        self._offsets: Counter[str] = Counter()
        self._out = Output(service=processor.service)
        self._pending = 0

    def accepts(self, topic: str) -> bool:
        return topic in self._decode

    def feed(self, envelope: Envelope) -> list[Envelope]:
        offset = self._offsets[envelope.topic]
        self._offsets[envelope.topic] += 1
        key = envelope.key.encode() if envelope.key is not None else None
        record = ConsumerRecord(
            envelope.topic, 0, offset, 0, 0, key, envelope.raw, None, len(key or b""), len(envelope.raw), ()
        )
        try:
            event = self._decode[envelope.topic](envelope.raw)
            if envelope.topic in self._keyed_by_instrument:
                check_instrument_key(key, event)
            self.processor.handle(record, event, self._out)
        except ValidationError:
            self.summary.rejected["validation_error"] += 1
        except RejectedInput as exc:
            self.summary.rejected[exc.error_type] += 1
        self._pending += 1
        return self.flush() if self._pending >= BATCH_RECORDS else []

    def flush(self, *, last: bool = False) -> list[Envelope]:
        # At the end of the file a processor may close what it still holds (``finish(out)``),
        # e.g. samples waiting for a later trade; a running service never reaches an end.
        finish = getattr(self.processor, "finish", None) if last else None
        if finish is not None:
            finish(self._out)
        end_batch = getattr(self.processor, "end_batch", None)
        if end_batch is not None:
            end_batch(self._out)
        out, self._out, self._pending = self._out, Output(service=self.processor.service), 0
        for table, rows in out.rows.items():
            self.summary.rows[table.name] += len(rows)
        for letter in out.rejected:
            self.summary.rejected[letter.error_type] += 1
        return [_envelope(topic, event) for topic, event in out.events if not topic.startswith("_")]


def _envelope(topic: str, event: BaseModel) -> Envelope:
    raw = event.model_dump_json().encode()
    return Envelope(topic, event_key(event), event, raw)


def analyze(
    processor: Processor,
    lines: Iterable[bytes],
    out: BinaryIO,
    *,
    via: list[Processor] | None = None,
    order: Literal["file", "time"] = "file",
    outputs: Collection[str] = (),
) -> Summary:
    """Run ``processor`` (after the ``via`` processors) over envelope lines; print its outputs
    (only those of the ``outputs`` topics, when given)."""
    summary = Summary(processor.service)
    upstream = [_Feeder(p, Summary(p.service)) for p in via or []]
    target = _Feeder(processor, summary)
    envelopes: Iterable[Envelope] = read_envelopes(lines, summary)
    if order == "time":
        envelopes = sorted(envelopes, key=_exchange_ts)

    def run_target(envelope: Envelope) -> None:
        if not target.accepts(envelope.topic):
            summary.skipped[envelope.topic] += 1
            return
        summary.inputs[envelope.topic] += 1
        for produced in target.feed(envelope):
            _emit(produced)

    def _emit(produced: Envelope) -> None:
        if outputs and produced.topic not in outputs:
            return
        summary.outputs[produced.topic] += 1
        out.write(produced.line() + b"\n")

    def through(stage: int, envelope: Envelope) -> None:
        if stage == len(upstream):
            run_target(envelope)
            return
        feeder = upstream[stage]
        if feeder.accepts(envelope.topic):
            for produced in feeder.feed(envelope):
                through(stage + 1, produced)
        else:
            through(stage + 1, envelope)

    for envelope in envelopes:
        through(0, envelope)
    for stage, feeder in enumerate(upstream):
        for produced in feeder.flush(last=True):
            through(stage + 1, produced)
    for produced in target.flush(last=True):
        _emit(produced)
    stats = getattr(processor, "summary", None)
    if stats is not None:
        summary.stats = stats()
    return summary
