"""``perpwatch analyze arbitrage FILE``: the service's processor over a JSONL file, no Kafka, no database.

Input: JSONL envelopes ``{"topic", "key", "event"}`` (what ``perpwatch normalize`` prints) of
``book.l2.v1``, ``book.bbo.v1`` and ``md.funding.v1``; with ``books=True`` also ``md.book.v1``,
which the book-builder's own processor turns into books first (``md.bbo.v1`` is then ignored:
the rebuilt tops are used). Other topics are counted and skipped.

Events are processed in exchange-time order (a stable sort), so several venues' files can simply
be concatenated. Output: every opportunity event as one JSON line, then one summary line.

    python -m services.arbitrage.offline FILE [--notional 10000,100000] [--fees FILE] [--books]
"""

import argparse
import sys
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

import orjson
from aiokafka.structs import ConsumerRecord

from schemas.topics import topic as contract_of
from services.arbitrage.service import (
    DEPTH_TOPIC,
    FUNDING_TOPIC,
    OPPORTUNITIES_TOPIC,
    TOP_TOPIC,
    ArbitrageProcessor,
    ArbitrageSettings,
    build_processor,
)
from services.runtime.service import Output, RejectedInput

INPUTS = (DEPTH_TOPIC, TOP_TOPIC, FUNDING_TOPIC)


def read_envelopes(lines: Iterable[bytes | str]) -> Iterator[tuple[str, str, bytes]]:
    """(topic, key, raw event JSON) per non-empty line."""
    for line in lines:
        if not line.strip():
            continue
        envelope = orjson.loads(line)
        yield envelope["topic"], envelope.get("key") or "", orjson.dumps(envelope["event"])


def build_books(envelopes: Iterable[tuple[str, str, bytes]]) -> Iterator[tuple[str, str, bytes]]:
    """``md.book.v1`` through the book-builder's processor into ``book.l2.v1``/``book.bbo.v1``."""
    from services.book_builder.service import BookBuilderProcessor  # only this mode needs venue metadata

    builder = BookBuilderProcessor()  # offline, a broken book waits for the file's next snapshot
    decode = builder.decoders["md.book.v1"]
    for offset, (topic, key, raw) in enumerate(envelopes):
        if topic == "md.book.v1":
            out = Output()
            record = ConsumerRecord(topic, 0, offset, 0, 0, key.encode(), raw, None, 0, len(raw), ())
            try:
                builder.handle(record, decode(raw), out)
            except RejectedInput:
                continue
            for out_topic, event in out.events:
                if out_topic in (DEPTH_TOPIC, TOP_TOPIC):
                    yield out_topic, key, event.model_dump_json().encode()
        elif topic in INPUTS:
            yield topic, key, raw


def analyze(
    envelopes: Iterable[tuple[str, str, bytes]], processor: ArbitrageProcessor, out: TextIO
) -> dict[str, Any]:
    """Feed the processor in exchange-time order; print opportunity events; return the summary."""
    decoded: list[tuple[int, int, str, str, bytes, Any]] = []
    skipped: dict[str, int] = {}
    rejected: dict[str, int] = {}
    for n, (topic, key, raw) in enumerate(envelopes):
        if topic not in INPUTS:
            skipped[topic] = skipped.get(topic, 0) + 1
            continue
        try:
            event = contract_of(topic).payload.validate_json(raw)
        except ValueError:
            rejected["validation_error"] = rejected.get("validation_error", 0) + 1
            continue
        decoded.append((event.exchange_ts, n, topic, key, raw, event))
    decoded.sort(key=lambda item: (item[0], item[1]))
    for offset, (_, _, topic, key, raw, event) in enumerate(decoded):
        batch = Output()
        record = ConsumerRecord(topic, 0, offset, 0, 0, key.encode(), raw, None, 0, len(raw), ())
        try:
            processor.handle(record, event, batch)
        except RejectedInput as exc:
            rejected[exc.error_type] = rejected.get(exc.error_type, 0) + 1
            continue
        for out_topic, emitted in batch.events:
            if out_topic == OPPORTUNITIES_TOPIC:
                out.write(emitted.model_dump_json() + "\n")
    summary = processor.summary()
    summary["inputs"] = len(decoded)
    summary["skipped"] = dict(sorted(skipped.items()))
    summary["rejected_inputs"] = dict(sorted(rejected.items()))
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file")
    parser.add_argument(
        "--notional", default=None, help="Quote notionals, comma separated (default 10k,100k,1M)."
    )
    parser.add_argument("--fees", default=None, help="Taker fee overrides: a JSON file or string.")
    parser.add_argument("--books", action="store_true", help="Build books from md.book.v1 first.")
    args = parser.parse_args(argv)
    overrides: dict[str, Any] = {"restore": False}
    if args.notional:
        overrides["notionals"] = args.notional
    if args.fees:
        overrides["fees"] = args.fees
    processor = build_processor(ArbitrageSettings(**overrides))
    with open(args.file, "rb") as lines:
        envelopes: Iterable[tuple[str, str, bytes]] = read_envelopes(lines)
        if args.books:
            envelopes = build_books(envelopes)
        summary = analyze(envelopes, processor, sys.stdout)
    sys.stdout.write(orjson.dumps(summary).decode() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
