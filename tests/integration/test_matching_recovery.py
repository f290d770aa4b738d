"""The venue killed with SIGKILL mid-stream and restarted commits exactly the no-crash outputs.

Real broker, the real service process (``python -m services.matching.service``). A deterministic
stream of a few thousand commands for one symbol is fed; the service is killed while it is
busy, restarted, and must end with the state hash of an uninterrupted run of the core
(``perpwatch venue run --state-hash``) and with committed outputs, read with read_committed,
equal to that run's events: same events, same venue sequence numbers, none duplicated or lost.
"""

import asyncio
import signal
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from services.matching.engine import MatchingEngine
from services.matching.gateway.market import MarketData
from services.matching.runner import run_commands
from services.matching.snapshots import SNAPSHOT_TOPIC
from services.matching.topics import COMMANDS_TOPIC, MARKET_DATA_TOPIC, OUTPUT_TOPICS, output_topic
from services.matching.workload import SYMBOL, venue_command_lines
from services.runtime.kafka import make_producer
from services.runtime.settings import Settings
from services.runtime.topics import ensure_topics
from tests.book_builder.streams import committed_offset, end_offset, wait_for
from tests.integration.helpers import read_topic, start_service_process, wait_until_ready

# Small snapshots and transactions, so the kill lands between snapshots.
VENUE_ENV = {"PERPWATCH_MATCHING_SNAPSHOT_EVERY_COMMANDS": "500", "PERPWATCH_MATCHING_MAX_BATCH": "100"}

COMMANDS = 3000
UNDECODABLE = b'{"type": "submit", "symbol": "BTC-'


async def _feed(
    producer: AIOKafkaProducer, topic: str, lines: list[bytes], *, chunk: int, pause_s: float
) -> None:
    for index, line in enumerate(lines, start=1):
        await producer.send(topic, line, key=SYMBOL.encode())
        if index % chunk == 0:
            await producer.flush()
            await asyncio.sleep(pause_s)
    await producer.flush()


def _logged(log_path: Path, message: str) -> list[dict[str, Any]]:
    return [
        orjson.loads(line)
        for line in log_path.read_text().splitlines()
        if line.startswith("{") and f'"{message}"' in line
    ]


async def test_sigkill_mid_stream_then_restart_commits_exactly_the_no_crash_outputs(
    settings: Settings, tmp_path: Path
) -> None:
    lines = venue_command_lines(COMMANDS)
    reference = MatchingEngine()
    expected: dict[str, list[dict[str, object]]] = {name: [] for name in OUTPUT_TOPICS}
    for event in run_commands(lines, reference):
        expected[output_topic(str(event["kind"]))].append(event)
    # One record that is not even JSON: dead-lettered, never seen by the engine.
    records = [*lines[:50], UNDECODABLE, *lines[50:]]
    group = f"{settings.consumer_group_prefix}.matching"
    topic = settings.topic_name(COMMANDS_TOPIC)
    log_path = tmp_path / "venue.log"
    await ensure_topics(settings)
    producer = make_producer(settings)
    await producer.start()
    try:
        first, port = start_service_process(["services.matching.service"], settings, log_path, VENUE_ENV)
        try:
            await wait_until_ready(first, port, log_path)
            await _feed(producer, topic, records[:1500], chunk=250, pause_s=0.05)

            async def snapshotted() -> bool:
                return (
                    await committed_offset(settings, group, COMMANDS_TOPIC) >= 1200
                    and await end_offset(settings, SNAPSHOT_TOPIC) >= 2
                )

            await wait_for("a committed snapshot", snapshotted, timeout_s=60)
            # Kill it while it is busy with the next part of the stream.
            feeding = asyncio.create_task(_feed(producer, topic, records[1500:2600], chunk=50, pause_s=0.02))

            async def busy() -> bool:  # progress, not a sleep: a loaded machine cannot move the kill
                return await committed_offset(settings, group, COMMANDS_TOPIC) >= 1600

            await wait_for("the venue to commit part of the next stretch", busy, timeout_s=60)
            first.send_signal(signal.SIGKILL)
            await feeding
        finally:
            if first.poll() is None:
                first.kill()
            first.wait(timeout=30)
        assert first.returncode == -signal.SIGKILL
        killed_at = await committed_offset(settings, group, COMMANDS_TOPIC)
        assert 1600 <= killed_at < 2600, "the kill must land in the middle of the stream"
        await _feed(producer, topic, records[2600:], chunk=500, pause_s=0.0)
    finally:
        await producer.stop()

    second, port = start_service_process(["services.matching.service"], settings, log_path, VENUE_ENV)
    try:
        await wait_until_ready(second, port, log_path)

        async def consumed() -> bool:
            return await committed_offset(settings, group, COMMANDS_TOPIC) >= len(records)

        await wait_for("the restarted venue to consume everything", consumed, timeout_s=60)
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
    finally:
        if second.poll() is None:
            second.kill()
            second.wait(timeout=30)
    assert second.returncode == 0, log_path.read_text()[-3000:]

    restored = [r for r in _logged(log_path, "partition restored") if r["committed_offset"]]
    assert restored[-1]["snapshot_offset"] is not None, "the restart restored a snapshot"
    closed = [r for r in _logged(log_path, "partition closed") if r["next_offset"] == len(records)]
    assert closed, "the restarted venue reported its final state"
    assert closed[-1]["state_hash"] == reference.state_hash()
    assert closed[-1]["seq"] == reference.seq

    depth_records: list[dict[str, Any]] = []
    for name in OUTPUT_TOPICS:
        committed = [event.model_dump(exclude_none=True) for _, event in await read_topic(settings, name)]
        # The periodic full-depth records (issue 15) are not engine events: checked below.
        depth_records += [event for event in committed if event["kind"] == "depth"]
        committed = [event for event in committed if event["kind"] != "depth"]
        wanted = [{k: v for k, v in event.items() if v is not None} for event in expected[name]]
        assert len(committed) == len(wanted), name
        assert committed == wanted, name
    assert depth_records, "each owner publishes the books' depth on its first transaction"
    for record in depth_records:
        # The depth a reader would have rebuilt from l2 updates 1..l2_seq, exactly.
        market = MarketData()
        for event in expected[MARKET_DATA_TOPIC]:
            if event["kind"] == "l2" and int(str(event["l2_seq"])) <= record["l2_seq"]:
                market.apply_market_data(orjson.dumps(event))
        book = market.book(SYMBOL)
        assert book is not None
        rebuilt = book.depth(100_000)
        assert [lv.model_dump() for lv in rebuilt.bids] == record["bids"]
        assert [lv.model_dump() for lv in rebuilt.asks] == record["asks"]
    letters = [letter for _, letter in await read_topic(settings, "dlq.v1")]
    assert [(letter.error_type, letter.payload_text) for letter in letters] == [
        ("undecodable_command", UNDECODABLE.decode())
    ]
    print(
        f"killed at offset {killed_at}; restored from snapshot at {restored[-1]['snapshot_offset']}, "
        f"replayed {closed[-1]['replayed']}; outputs "
        + ", ".join(f"{name} {len(expected[name])}" for name in OUTPUT_TOPICS)
    )
