"""A producer stuck on a partition's former leader is given up at the first retry, not after 15 s.

aiokafka's producer can keep sending to the old leader after NotLeaderForPartition until the
request times out (aio-libs/aiokafka#1018). Its only sign is the WARNING its sender logs for each
retried partition (``aiokafka/producer/sender.py``, ``SendProduceReqHandler.handle_response``:
"Got error produce response on topic-partition %s, retrying. Error: %s", with the partition and
the error class), which is what these tests log. The producers are stand-ins whose deliveries
never complete on their own, so the only way out within the test's deadline is the watch.
"""

import asyncio
import logging
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import NotLeaderForPartitionError

import services.runtime.publisher as publisher_module
from services.runtime.publisher import DeliveryFailed, Publisher
from services.runtime.settings import Settings

DEADLINE_S = 2.0  # far below the producer's 15 s request timeout


class _Accumulator:
    def __init__(self) -> None:
        self.futures: list[asyncio.Future[object]] = []

    def fail_all(self, exception: BaseException) -> None:
        for future in self.futures:
            if not future.done():
                future.set_exception(exception)


class _Producer:
    """Deliveries hang (``stuck``) as behind a former leader, or complete at once."""

    def __init__(self, *, stuck: bool) -> None:
        self.stuck = stuck
        self._message_accumulator = _Accumulator()
        self.sent: list[tuple[str, bytes, bytes | None]] = []
        self.aborted = False

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def begin_transaction(self) -> None:
        return None

    async def abort_transaction(self) -> None:
        self.aborted = True

    async def send(self, topic: str, value: bytes, key: bytes | None = None, partition: Any = None) -> Any:
        self.sent.append((topic, value, key))
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        if self.stuck:
            self._message_accumulator.futures.append(future)
        else:
            future.set_result(None)
        return future


@pytest.fixture
def producers(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> list[_Producer]:
    caplog.set_level(logging.WARNING, logger="aiokafka.producer.sender")
    made: list[_Producer] = []

    def make_producer(*args: Any, **kwargs: Any) -> _Producer:
        made.append(_Producer(stuck=not made))  # only the first one is stuck
        return made[-1]

    monkeypatch.setattr(publisher_module, "make_producer", make_producer)
    return made


async def _retry_logged_after(seconds: float, topic: str) -> None:
    await asyncio.sleep(seconds)
    logging.getLogger("aiokafka.producer.sender").warning(
        "Got error produce response on topic-partition %s, retrying. Error: %s",
        TopicPartition(topic, 0),
        NotLeaderForPartitionError,
    )


async def test_a_plain_send_to_a_former_leader_goes_again_on_a_new_producer(
    producers: list[_Producer],
) -> None:
    publisher = Publisher(Settings(), "tests")
    await publisher.start()
    try:
        await publisher.send_raw("md.book.v1", b"v", b"k")
        retry = asyncio.create_task(_retry_logged_after(0.1, "md.book.v1"))
        assert await asyncio.wait_for(publisher.confirm(), DEADLINE_S) == 1
        await retry
    finally:
        await publisher.stop()
    assert publisher.replacements == 1
    assert [p.sent for p in producers] == [[("md.book.v1", b"v", b"k")]] * 2


async def test_a_transaction_stuck_on_a_former_leader_is_aborted_at_once(producers: list[_Producer]) -> None:
    publisher = Publisher(Settings(), "tests", transactional_id="tests.0")
    await publisher.start()
    try:
        await publisher.begin()
        await publisher.send_raw("book.bbo.v1", b"v", b"k")
        retry = asyncio.create_task(_retry_logged_after(0.1, "book.bbo.v1"))
        with pytest.raises(DeliveryFailed, match="NotLeaderForPartition"):
            await asyncio.wait_for(publisher.commit({}, "tests"), DEADLINE_S)
        await retry
    finally:
        await publisher.stop()
    assert producers[0].aborted, "the open transaction is aborted (the caller then replaces the producer)"


async def test_a_retry_on_another_topic_leaves_the_deliveries_alone(producers: list[_Producer]) -> None:
    publisher = Publisher(Settings(), "tests")
    await publisher.start()
    try:
        await publisher.send_raw("md.book.v1", b"v", b"k")
        await _retry_logged_after(0, "md.trades.v1")
        confirming = asyncio.create_task(publisher.confirm())
        await asyncio.sleep(0.2)
        assert not confirming.done(), "still waiting for its own topic's delivery"
        confirming.cancel()
    finally:
        await publisher.stop()
    assert publisher.replacements == 0
