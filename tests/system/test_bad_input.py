"""Bad input over Kafka, per input topic of every stream service, on the real broker and database.

Garbage of every kind (``garbage.KINDS``) is interleaved with good records on each input topic.
The service must stay up, put every bad record on ``dlq.v1`` with its reason and its source
partition and offset (counted exactly), commit past everything, and dead-letter no good record.

``PERPWATCH_SYSTEM_BAD_RECORDS`` sets the bad records per topic (default 160 here, so that it fits
``make test``; ``make system`` sends 10,000).
"""

import asyncio
import os
import random
from collections import Counter

import pytest
from aiokafka import AIOKafkaProducer

from schemas import DeadLetter
from schemas.topics import topic
from services.registry import SERVICES, build_processor
from services.runtime.service import StreamService
from services.runtime.settings import Settings
from services.runtime.topics import ensure_topics
from tests.integration.helpers import read_topic, wait_until_consumed
from tests.system.garbage import KINDS, bad_record, good_record

BAD_PER_TOPIC = int(os.environ.get("PERPWATCH_SYSTEM_BAD_RECORDS", "160"))
GOOD_EVERY = 4  # one good record after every few bad ones
MISKEYED_EVERY = 16
OTHER_INSTRUMENT_KEY = b"okx:ETH-USDT-PERP"  # no contract example is OKX's
STREAM_SERVICES = [s.name for s in SERVICES if s.kind == "stream"]

pytestmark = [pytest.mark.integration, pytest.mark.system]


async def _send_mixed(
    settings: Settings, topics: tuple[str, ...], seed: int
) -> tuple[dict[tuple[str, int, int], str], set[tuple[str, int, int]]]:
    """Sends bad and good records; returns {(topic, partition, offset): kind} of bad, and good ones."""
    rng = random.Random(seed)
    bad: dict[tuple[str, int, int], str] = {}
    good: set[tuple[str, int, int]] = set()
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, compression_type="gzip", max_request_size=8 * 1024 * 1024
    )
    await producer.start()
    try:
        for logical in topics:
            name = settings.topic_name(logical)
            good_value, good_key = good_record(logical)
            for n in range(BAD_PER_TOPIC):
                kind = KINDS[n % len(KINDS)]
                # Random keys too: some bad records carry keys no instrument has.
                key = good_key if rng.random() < 0.7 else rng.randbytes(rng.randint(0, 40))
                sent = await producer.send_and_wait(name, bad_record(logical, kind, rng), key=key)
                bad[(logical, sent.partition, sent.offset)] = kind
                if n % GOOD_EVERY == 0:
                    sent = await producer.send_and_wait(name, good_value, key=good_key)
                    good.add((logical, sent.partition, sent.offset))
                if n % MISKEYED_EVERY == 0 and topic(logical).keyed_by_instrument:
                    # A good payload under another instrument's key: valid-looking, but not the key's.
                    sent = await producer.send_and_wait(name, good_value, key=OTHER_INSTRUMENT_KEY)
                    bad[(logical, sent.partition, sent.offset)] = "key_mismatch"
    finally:
        await producer.stop()
    return bad, good


@pytest.mark.parametrize("service_name", STREAM_SERVICES)
async def test_bad_records_are_dead_lettered_with_offsets_and_the_service_stays_up(
    settings: Settings, service_name: str
) -> None:
    processor = build_processor(service_name)
    await ensure_topics(settings)
    bad, good = await _send_mixed(settings, processor.inputs, seed=len(service_name))
    service = StreamService(processor, settings)
    running = asyncio.create_task(service.run())
    try:
        for logical in processor.inputs:
            await wait_until_consumed(settings, service.group_id, logical, timeout_s=60 + BAD_PER_TOPIC / 20)
        assert not running.done(), f"{service_name} stopped: {running.exception() if running.done() else ''}"
        assert service.health.alive
    finally:
        service.request_stop()
        await asyncio.wait_for(running, timeout=60)

    letters: list[DeadLetter] = [e for _, e in await read_topic(settings, "dlq.v1")]
    from_inputs = {
        (letter.source, letter.partition, letter.offset): letter
        for letter in letters
        if letter.offset is not None and letter.service == processor.service
    }
    missing = {where: kind for where, kind in bad.items() if where not in from_inputs}
    assert not missing, f"bad records not dead-lettered: {Counter(missing.values())}"
    good_rejected = [from_inputs[where] for where in good if where in from_inputs]
    assert not good_rejected, f"good records dead-lettered: {good_rejected[:3]}"
    assert len(from_inputs) == len(bad), "exactly one dead letter per bad record"
    assert all(letter.error and letter.error_type for letter in from_inputs.values())
    miskeyed = [from_inputs[w] for w, kind in bad.items() if kind == "key_mismatch"]
    assert all(letter.error_type == "key_mismatch" for letter in miskeyed), "the runtime checks every key"
    oversized = [from_inputs[w] for w, kind in bad.items() if kind == "oversized"]
    assert oversized
    assert all(letter.payload_size and letter.payload_sha256 for letter in oversized), (
        "an oversized input's dead letter keeps its size and hash, cut to fit"
    )
