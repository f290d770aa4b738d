"""Helpers of the book-builder integration tests: payloads, producing, offsets, the reference run."""

import asyncio
import gzip
import time
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

from schemas.common import ExchangeId
from schemas.market_data import BookDelta, BookSnapshot
from services.book_builder.core.decode import decode_book_event
from services.book_builder.service import BookBuilderProcessor
from services.instruments.catalog import load_snapshot
from services.runtime.publisher import Publisher
from services.runtime.service import Output
from services.runtime.settings import Settings
from services.runtime.topics import partitions_of
from services.venues import normalizer_for

KEY = b"binance_usdm:BTC-USDT-PERP"


def binance_book_events(capture: Path) -> list[BookSnapshot | BookDelta]:
    normalizer = normalizer_for(ExchangeId.BINANCE_USDM, load_snapshot())
    found: list[BookSnapshot | BookDelta] = []
    with gzip.open(capture, "rb") as lines:
        for line in lines:
            stamp, raw = line.split(b" ", 1)
            if raw.startswith(b'{"lastUpdateId"'):
                events = normalizer.normalize_rest_snapshot(orjson.loads(raw), "BTCUSDT", int(stamp))
            elif b"depthUpdate" in raw:
                events = normalizer.normalize(orjson.loads(raw), int(stamp))
            else:
                continue
            found.extend(e for e in events if isinstance(e, BookSnapshot | BookDelta))
    return found


def binance_payloads(capture: Path) -> list[bytes]:
    """The capture's book events as ``md.book.v1`` payloads, in stream order (one snapshot, 6,551 diffs)."""
    return [event.model_dump_json().encode() for event in binance_book_events(capture)]


async def produce(settings: Settings, payloads: list[bytes], *, chunk: int = 0, pause_s: float = 0.0) -> None:
    """Publish payloads to md.book.v1 in order; ``chunk``/``pause_s`` pace them."""
    publisher = Publisher(settings, "tests")
    await publisher.start()
    try:
        topic = settings.topic_name("md.book.v1")
        for index, payload in enumerate(payloads, start=1):
            await publisher.send_raw(topic, payload, KEY)
            if chunk and index % chunk == 0:
                await publisher.confirm()
                await asyncio.sleep(pause_s)
        await publisher.confirm()
    finally:
        await publisher.stop()


async def _offsets(settings: Settings, logical: str, group: str | None) -> tuple[int, int]:
    """(sum of end offsets, sum of the group's committed offsets) over the topic's partitions."""
    name = settings.topic_name(logical)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(name, p) for p in await partitions_of(settings, name)]
        if not partitions:
            return 0, 0
        end = await consumer.end_offsets(partitions)
        committed = 0
        if group is not None:
            committed = sum([(await consumer.committed(tp)) or 0 for tp in partitions])
        return sum(end.values()), committed
    finally:
        await consumer.stop()


async def end_offset(settings: Settings, logical: str) -> int:
    return (await _offsets(settings, logical, None))[0]


async def committed_offset(settings: Settings, group: str, logical: str = "md.book.v1") -> int:
    return (await _offsets(settings, logical, group))[1]


async def wait_for(condition_s: str, check: object, *, timeout_s: float = 90.0) -> None:
    """Poll an async predicate until it holds."""
    deadline = time.monotonic() + timeout_s
    while True:
        if await check():  # type: ignore[operator]
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {condition_s}")
        await asyncio.sleep(0.25)


def reference_run(payloads: list[bytes], settings: Settings | None = None) -> Output:
    """What the builder produces from these payloads when nothing goes wrong (no broker, no DB)."""
    processor = BookBuilderProcessor(settings or Settings(), catalog=load_snapshot())
    out = Output()
    for offset, payload in enumerate(payloads):
        record = ConsumerRecord("md.book.v1", 0, offset, 0, 0, KEY, payload, None, 0, len(payload), ())
        processor.handle(record, decode_book_event(payload), out)
    return out
