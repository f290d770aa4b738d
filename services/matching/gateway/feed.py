"""Reads the venue's committed market data and trades into :class:`MarketData`.

No consumer group: the gateway is a read-only view, every instance reads everything.
At start, the compacted ``venue.depth.v1`` is read to its end first (each symbol's latest full
depth), then ``venue.md.v1`` from the beginning (the l2 updates, those a depth record already
includes skipped) and ``venue.trades.v1`` from its end (trades are only streamed live); all three
are then followed. All with ``read_committed``: aborted venue transactions never show.
"""

import asyncio
import logging
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from services.matching.gateway.market import MarketData
from services.matching.topics import DEPTH_TOPIC, MARKET_DATA_TOPIC, TRADES_TOPIC
from services.runtime.settings import Settings
from services.runtime.topics import partitions_of

log = logging.getLogger(__name__)


class MarketDataFeed:
    def __init__(self, settings: Settings, market: MarketData) -> None:
        self._settings = settings
        self._market = market
        self._md_topic = settings.topic_name(MARKET_DATA_TOPIC)
        self._trades_topic = settings.topic_name(TRADES_TOPIC)
        self._depth_topic = settings.topic_name(DEPTH_TOPIC)
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._caught_up = asyncio.Event()
        self._md_end: dict[TopicPartition, int] = {}

    @property
    def caught_up(self) -> bool:
        """True once the depth includes every md record committed when the feed started."""
        return self._caught_up.is_set()

    async def wait_caught_up(self) -> None:
        await self._caught_up.wait()

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._settings.kafka_bootstrap,
            enable_auto_commit=False,
            isolation_level="read_committed",
            auto_offset_reset="earliest",
        )
        await consumer.start()
        self._consumer = consumer
        md = [TopicPartition(self._md_topic, p) for p in await partitions_of(self._settings, self._md_topic)]
        trades = [
            TopicPartition(self._trades_topic, p)
            for p in await partitions_of(self._settings, self._trades_topic)
        ]
        depth = [
            TopicPartition(self._depth_topic, p)
            for p in await partitions_of(self._settings, self._depth_topic)
        ]
        await self._read_depth(consumer, depth)
        consumer.assign([*depth, *md, *trades])
        if md:
            await consumer.seek_to_beginning(*md)
            self._md_end = await consumer.end_offsets(md)
        if trades:
            await consumer.seek_to_end(*trades)
        await self._check_caught_up()
        self._task = asyncio.create_task(self._run(), name="gateway-feed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._consumer is not None:
            await self._consumer.stop()

    async def _check_caught_up(self) -> None:
        assert self._consumer is not None
        if self._caught_up.is_set():
            return
        for tp, end in self._md_end.items():
            # The venue writes only in transactions, so the record just below a read_committed
            # end offset is a commit marker, which a consumer may never step past.
            if await self._consumer.position(tp) < end - 1:
                return
        log.info("market data caught up", extra={"books": len(self._market.books)})
        self._caught_up.set()

    async def _read_depth(self, consumer: AIOKafkaConsumer, depth: list[TopicPartition]) -> None:
        """Every symbol's latest depth record, before any l2 update: the books then start complete
        at those depths even when venue.md.v1's retention has dropped the first updates."""
        if not depth:
            return
        consumer.assign(depth)
        await consumer.seek_to_beginning(*depth)
        end = await consumer.end_offsets(depth)
        # As in _check_caught_up: the last record below a read_committed end may be a marker.
        while [tp for tp, offset in end.items() if await consumer.position(tp) < offset - 1]:
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            for records in batch.values():
                self._apply(self._market.apply_depth, self._depth_topic, records)
        log.info("venue depth read", extra={"books": len(self._market.books)})

    def _apply(
        self, apply: Callable[[bytes], None], topic: str, records: list[ConsumerRecord[bytes, bytes]]
    ) -> None:
        for record in records:
            if not record.value:
                continue
            try:
                apply(record.value)
            except (ValueError, KeyError, TypeError):
                # The venue wrote it, so this is a contract break: log, do not stop the view.
                log.exception("unreadable venue record skipped", extra={"topic": topic})

    async def _run(self) -> None:
        assert self._consumer is not None
        appliers = {
            self._md_topic: self._market.apply_market_data,
            self._depth_topic: self._market.apply_depth,
            self._trades_topic: self._market.apply_trade,
        }
        while True:
            batch = await self._consumer.getmany(timeout_ms=500, max_records=5000)
            for tp, records in batch.items():
                self._apply(appliers[tp.topic], tp.topic, records)
            await self._check_caught_up()
