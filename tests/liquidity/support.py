"""Running the liquidity processor over in-memory events, as the runtime would call it."""

from collections.abc import Iterable
from typing import Any

from aiokafka.structs import ConsumerRecord

from schemas.book import BookDepth
from schemas.liquidity import LiquidityAnomaly, LiquidityMetrics
from schemas.market_data import Trade
from services.liquidity.service import LiquidityProcessor, LiquiditySettings
from services.runtime.service import Output


def record(
    topic: str, offset: int, event: BookDepth | Trade, partition: int = 0
) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(topic, partition, offset, 0, 0, event.key.encode(), b"", None, 0, 0, ())


def run_processor(
    events: Iterable[BookDepth | Trade],
    settings: LiquiditySettings | None = None,
    *,
    batch: int = 500,
    finish: bool = True,
) -> Output:
    """Feed events in order, one offset counter per topic, ``end_batch`` every ``batch`` records."""
    processor = LiquidityProcessor(settings or LiquiditySettings())
    out = Output()
    offsets = {"book.l2.v1": 0, "md.trades.v1": 0}
    for n, event in enumerate(events, start=1):
        topic = "book.l2.v1" if isinstance(event, BookDepth) else "md.trades.v1"
        processor.handle(record(topic, offsets[topic], event), event, out)
        offsets[topic] += 1
        if n % batch == 0:
            processor.end_batch(out)
    processor.end_batch(out)
    if finish:
        processor.finish(out)
    return out


def published(out: Output, topic: str) -> list[Any]:
    return [event for name, event in out.events if name == topic]


def anomalies(out: Output) -> list[LiquidityAnomaly]:
    return published(out, "liquidity.anomalies.v1")


def metrics(out: Output) -> list[LiquidityMetrics]:
    return published(out, "liquidity.metrics.v1")
