"""Nothing lost on the public topics: the runtime's delivery guarantees on the real broker.

- topics created a moment before the first send (the race that used to break the producer);
- a delivery that fails once: the batch is not committed, it is published again on a new
  producer, and the failed attempt is aborted, so no event is lost or duplicated;
- the broker stopped for 10 s mid-stream: outputs equal a run without the fault.
"""

import asyncio
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg
import pytest
from aiokafka.errors import KafkaTimeoutError

import services.runtime.publisher as publisher_module
from services.book_builder.service import BOOK_BBO, BookBuilderProcessor
from services.cli.reconcile import PAIRS, reconcile
from services.ingest.replay import replay_capture
from services.runtime.service import StreamService
from services.runtime.settings import Settings
from services.runtime.topics import ensure_topics
from tests.book_builder.streams import binance_payloads, committed_offset, produce, reference_run, wait_for
from tests.integration.helpers import read_topic, start_service_process, wait_until_ready
from tests.integration.private_stack import PrivateStack

BBO_PAIR = next(p for p in PAIRS if p.topic == "book.bbo.v1")
GROUP_SUFFIX = ".book-builder"


def _error_lines(log_path: Path) -> list[str]:
    return [
        line for line in log_path.read_text().splitlines() if '"level": "error"' in line or " ERROR " in line
    ]


async def test_fresh_topics_then_book_builder_on_a_replay_loses_nothing(
    settings: Settings, binance_capture: Path, tmp_path: Path
) -> None:
    log_path = tmp_path / "builder.log"
    await ensure_topics(settings)  # the race: topics a moment old when the first send happens
    process, port = start_service_process(["services.cli", "run", "book-builder"], settings, log_path)
    try:
        await wait_until_ready(process, port, log_path)
        stats = await replay_capture(binance_capture, settings)
        assert stats.rejected == {}

        async def consumed() -> bool:
            group = settings.consumer_group_prefix + GROUP_SUFFIX
            return await committed_offset(settings, group) >= stats.events["md.book.v1"]

        await wait_for("the builder to consume the replay", consumed)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
    [result] = await reconcile(settings, (BBO_PAIR,))
    print(result.line())
    assert result.rows == 5672
    assert result.records == result.distinct_keys == result.rows
    assert result.equal
    assert _error_lines(log_path) == []


class _FailFirstSend:
    """A real producer whose first delivery fails once, as after NotLeaderForPartition."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self.failed = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    async def send(self, topic: str, value: bytes, **kwargs: Any) -> "asyncio.Future[Any]":
        return self._maybe_broken(topic, await self._real.send(topic, value, **kwargs))

    async def send_batch(self, batch: Any, topic: str, *, partition: int) -> "asyncio.Future[Any]":
        """The stream loop's path: a batch's records go out one builder per partition."""
        return self._maybe_broken(topic, await self._real.send_batch(batch, topic, partition=partition))

    def _maybe_broken(self, topic: str, future: "asyncio.Future[Any]") -> "asyncio.Future[Any]":
        if self.failed or "book.bbo" not in topic:
            return future
        self.failed = True
        broken: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        broken.set_exception(KafkaTimeoutError("injected delivery failure"))
        return broken


async def test_a_failed_delivery_is_published_again_without_loss_or_duplicates(
    settings: Settings, binance_capture: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    payloads = binance_payloads(binance_capture)[:1500]
    expected = reference_run(payloads)
    made: list[_FailFirstSend] = []
    real_make_producer = publisher_module.make_producer

    def flaky_first_producer(*args: Any, **kwargs: Any) -> Any:
        producer = real_make_producer(*args, **kwargs)
        if made or kwargs.get("transactional_id") is None:
            return producer
        made.append(_FailFirstSend(producer))
        return made[0]

    monkeypatch.setattr(publisher_module, "make_producer", flaky_first_producer)
    await ensure_topics(settings)
    await produce(settings, payloads)
    service = StreamService(BookBuilderProcessor(settings), settings)
    running = asyncio.create_task(service.run())
    try:

        async def consumed() -> bool:
            return await committed_offset(settings, service.group_id) >= len(payloads)

        await wait_for("the builder to consume", consumed)
    finally:
        service.request_stop()
        await asyncio.wait_for(running, timeout=60)
    assert made, "the flaky producer was used"
    assert made[0].failed, "the failure was injected"
    assert service.publisher.replacements == 1
    tops = [event for _, event in await read_topic(settings, "book.bbo.v1")]
    expected_tops = [event for topic, event in expected.events if topic == "book.bbo.v1"]
    keys = Counter((t.venue_seq, t.book_seq) for t in tops)
    assert max(keys.values()) == 1, "a duplicate event on book.bbo.v1"
    assert sorted(keys) == sorted((t.venue_seq, t.book_seq) for t in expected_tops)
    with psycopg.connect(settings.database_url) as conn:
        rows = conn.execute(f"SELECT count(*) FROM {BOOK_BBO.name}").fetchone()
    assert rows is not None
    assert rows[0] == len(expected_tops)


async def test_broker_stopped_for_10s_mid_stream_then_outputs_equal_a_no_fault_run(
    private_stack: PrivateStack, binance_capture: Path, tmp_path: Path
) -> None:
    from services.db.migrate import migrate

    settings = private_stack.settings()
    migrate(settings.database_url)
    payloads = binance_payloads(binance_capture)
    expected = reference_run(payloads)
    expected_counts = Counter(topic for topic, _ in expected.events)
    await ensure_topics(settings)
    await produce(settings, payloads)
    group = settings.consumer_group_prefix + GROUP_SUFFIX
    log_path = tmp_path / "builder.log"
    # A slow consumer, so the broker stops while the stream is in the middle.
    process, port = start_service_process(
        ["services.cli", "run", "book-builder"], settings, log_path, {"PERPWATCH_SINK_BATCH_ROWS": "50"}
    )
    try:
        await wait_until_ready(process, port, log_path)

        async def started() -> bool:
            return await committed_offset(settings, group) >= 500

        await wait_for("the builder to be mid-stream", started)
        private_stack.stack("stop-kafka")
        await asyncio.sleep(10)
        private_stack.stack("start-kafka")

        async def consumed() -> bool:
            return await committed_offset(settings, group) >= len(payloads)

        await wait_for("the builder to finish after the restart", consumed, timeout_s=180)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
    assert process.returncode == 0, log_path.read_text()[-3000:]
    for logical in ("book.bbo.v1", "book.l2.v1"):
        events = [event for _, event in await read_topic(settings, logical)]
        print(f"{logical}: {len(events)} events, no-fault run {expected_counts[logical]}")
        assert len(events) == expected_counts[logical]
    [bbo] = await reconcile(settings, (BBO_PAIR,))
    assert bbo.equal
    assert bbo.rows == len(expected.rows[BOOK_BBO])
    with psycopg.connect(settings.database_url) as conn:
        depth = conn.execute("SELECT count(*) FROM book_depth").fetchone()
    assert depth is not None
    assert depth[0] == len(expected.rows[next(t for t in expected.rows if t.name == "book_depth")])
