"""Reads the venue's committed market data and trades into :class:`MarketData`.

No consumer group: the gateway is a read-only view, every instance reads everything.
``venue.md.v1`` is read from the beginning (depth is the sum of all l2 updates) and
``venue.trades.v1`` from its end at start (trades are only streamed live). Both with
``read_committed``: aborted venue transactions never show.
"""

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, TopicPartition

from services.matching.gateway.market import MarketData
from services.matching.topics import MARKET_DATA_TOPIC, TRADES_TOPIC
from services.runtime.settings import Settings
from services.runtime.topics import partitions_of

log = logging.getLogger(__name__)


class MarketDataFeed:
    def __init__(self, settings: Settings, market: MarketData) -> None:
        self._settings = settings
        self._market = market
        self._md_topic = settings.topic_name(MARKET_DATA_TOPIC)
        self._trades_topic = settings.topic_name(TRADES_TOPIC)
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
        consumer.assign([*md, *trades])
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

    async def _run(self) -> None:
        assert self._consumer is not None
        while True:
            batch = await self._consumer.getmany(timeout_ms=500, max_records=5000)
            for tp, records in batch.items():
                apply = (
                    self._market.apply_market_data if tp.topic == self._md_topic else self._market.apply_trade
                )
                for record in records:
                    if not record.value:
                        continue
                    try:
                        apply(record.value)
                    except (ValueError, KeyError, TypeError):
                        # The venue wrote it, so this is a contract break: log, do not stop the view.
                        log.exception("unreadable venue record skipped", extra={"topic": tp.topic})
            await self._check_caught_up()
