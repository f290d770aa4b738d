"""Bad input on a real topic goes to dlq.v1 with its reason; the service keeps going."""

import asyncio
import json

from aiokafka import AIOKafkaProducer

from schemas import DeadLetter
from schemas.examples import EXAMPLES
from services.book_builder.service import BookBuilderProcessor
from services.runtime.service import StreamService
from services.runtime.settings import Settings
from services.runtime.topics import ensure_topics
from tests.integration.helpers import read_topic, wait_until_consumed


async def test_invalid_records_are_dead_lettered_and_counted(settings: Settings) -> None:
    await ensure_topics(settings)
    good_snapshot = json.loads(EXAMPLES["md.book.v1"].model_dump_json())
    good_snapshot.update({"type": "snapshot", "sequence": {"last": 10}})
    good_snapshot["bids"] = [["100.0", "1"]]
    good_snapshot["asks"] = [["100.5", "2"]]
    records = [
        b"not json at all",
        json.dumps({**good_snapshot, "bids": [["-1", "1"]]}).encode(),  # negative price
        json.dumps({**good_snapshot, "exchange": "nasdaq"}).encode(),
        json.dumps(good_snapshot).encode(),
    ]
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    await producer.start()
    for value in records:
        await producer.send(settings.topic_name("md.book.v1"), value, key=b"binance_usdm:BTC-USDT-PERP")
    await producer.flush()
    await producer.stop()

    service = StreamService(BookBuilderProcessor(), settings)
    running = asyncio.create_task(service.run())
    try:
        await wait_until_consumed(settings, f"{settings.consumer_group_prefix}.book-builder", "md.book.v1")
    finally:
        service.request_stop()
        await asyncio.wait_for(running, timeout=60)

    letters = [event for _, event in await read_topic(settings, "dlq.v1")]
    assert len(letters) == 3
    assert all(isinstance(letter, DeadLetter) for letter in letters)
    assert {letter.error_type for letter in letters} == {"validation_error"}
    assert {letter.source for letter in letters} == {"md.book.v1"}
    assert letters[0].payload_text == "not json at all"
    assert all(letter.offset is not None for letter in letters)
    tops = [event for _, event in await read_topic(settings, "book.bbo.v1")]
    assert len(tops) == 1, "the valid snapshot after the bad records was still processed"
