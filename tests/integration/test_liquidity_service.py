"""The liquidity service on the real broker and database, killed with SIGKILL and restarted.

Inputs: the real Binance USD-M capture (book.l2.v1 from the real book-builder, and md.trades.v1)
and a simulated Bybit book with a liquidity crunch injected by the simulator. The service runs as
a real process (``python -m services.liquidity``); it is killed with SIGKILL in the middle of the
stream, restarted, and runs to the end. Then:

- every event on liquidity.metrics.v1 / liquidity.anomalies.v1 has exactly one row, and every
  row its event, with no duplicate on either side;
- the crunch was found on the simulated Bybit book, not on the calm real Binance one;
- the book-derived metrics and every anomaly equal those of an uninterrupted in-memory run: the
  restart rebuilt the detector's baselines by replaying silently.
"""

import asyncio
import signal
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import psycopg
from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas.book import BookDepth
from schemas.common import ExchangeId
from schemas.liquidity import CrunchPhase, LiquidityAnomaly, LiquidityMetrics
from schemas.market_data import Trade
from services.liquidity.service import LIQUIDITY_ANOMALIES, LIQUIDITY_METRICS, anomaly_row, metrics_row
from services.runtime.kafka import make_producer
from services.runtime.settings import Settings
from services.runtime.topics import ensure_topics, partitions_of
from tests.integration.helpers import read_topic, start_service_process, wait_until_ready
from tests.liquidity.realdata import binance_inputs
from tests.liquidity.simdata import Crunch, simulated_market
from tests.liquidity.support import anomalies, metrics, run_processor

INPUTS = ("book.l2.v1", "md.trades.v1")


def _inputs(capture: Path) -> list[BookDepth | Trade]:
    real = list(binance_inputs(capture))
    simulated = list(
        simulated_market(
            1500, crunch=Crunch(at_step=1000, venue=ExchangeId.BYBIT), venues=(ExchangeId.BYBIT,)
        )
    )
    # Interleave the two markets by position so both progress through the run.
    merged: list[BookDepth | Trade] = []
    step = len(real) / len(simulated)
    j = 0
    for i, event in enumerate(simulated):
        while j < min(len(real), round((i + 1) * step)):
            merged.append(real[j])
            j += 1
        merged.append(event)
    merged.extend(real[j:])
    return merged


async def _produce(settings: Settings, events: list[BookDepth | Trade], *, pause_s: float = 0.0) -> None:
    producer = make_producer(settings)
    await producer.start()
    try:
        for n, event in enumerate(events, start=1):
            topic = "book.l2.v1" if isinstance(event, BookDepth) else "md.trades.v1"
            await producer.send(
                settings.topic_name(topic), event.model_dump_json().encode(), key=event.key.encode()
            )
            if n % 500 == 0:
                await producer.flush()
                await asyncio.sleep(pause_s)
        await producer.flush()
    finally:
        await producer.stop()


async def _committed(settings: Settings, group: str) -> int:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        total = 0
        for logical in INPUTS:
            name = settings.topic_name(logical)
            for partition in await partitions_of(settings, name):
                total += (await consumer.committed(TopicPartition(name, partition))) or 0
        return total
    finally:
        await consumer.stop()


async def _wait_for(what: str, check: Any, timeout_s: float = 180.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.5)


def _rows(url: str, table: str, columns: tuple[str, ...]) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall()


def _as_stored(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A sink row as PostgreSQL gives it back (jsonb as Python objects, numerics as Decimal)."""
    return tuple(
        orjson.loads(value) if isinstance(value, str) and value.startswith("[") else value for value in row
    )


def _normalized(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(value.normalize() if isinstance(value, Decimal) else value for value in row)


def _book_fields(event: LiquidityMetrics) -> tuple[Any, ...]:
    """What a sample takes from the book stream alone (the trade flow depends on topic interleaving)."""
    return (
        event.exchange,
        event.symbol,
        event.exchange_ts,
        event.book_seq,
        event.mid,
        event.microprice,
        event.spread_bps,
        tuple(event.depth),
        event.imbalance,
        event.buy_slippage_bps,
        event.book_updates_per_s,
        event.spread_z,
        event.depth_z,
        event.breach,
        event.crunch_active,
    )


async def test_kill_9_and_restart_events_equal_rows(
    settings: Settings, binance_capture: Path, tmp_path: Path
) -> None:
    events = _inputs(binance_capture)
    reference = run_processor(events, finish=False)
    await ensure_topics(settings)
    group = f"{settings.consumer_group_prefix}.liquidity"
    log_path = tmp_path / "liquidity.log"
    args = ["services.cli", "run", "liquidity"]

    first, port = start_service_process(args, settings, log_path)
    half = len(events) // 2
    try:
        await wait_until_ready(first, port, log_path)
        await _produce(settings, events[:half])

        async def some_committed() -> bool:
            return await _committed(settings, group) >= half // 2

        await _wait_for("a first commit", some_committed)
        feeding = asyncio.create_task(_produce(settings, events[half : half + 6000], pause_s=0.2))

        async def busy_with_the_second_part() -> bool:
            return await _committed(settings, group) > half

        # Kill it while it is busy with the next part of the stream.
        await _wait_for("the second part to be under way", busy_with_the_second_part)
        first.send_signal(signal.SIGKILL)
        await feeding
    finally:
        if first.poll() is None:
            first.kill()
        first.wait(timeout=30)
    assert first.returncode == -signal.SIGKILL
    killed_at = await _committed(settings, group)
    assert half < killed_at < half + 6000, "the kill must land in the middle of the stream"

    await _produce(settings, events[half + 6000 :])
    second, port = start_service_process(args, settings, log_path)
    try:
        await wait_until_ready(second, port, log_path)

        async def all_consumed() -> bool:
            return await _committed(settings, group) >= len(events)

        await _wait_for("the restarted service to consume everything", all_consumed)
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=60)
    finally:
        if second.poll() is None:
            second.kill()
            second.wait(timeout=30)
    assert second.returncode == 0, log_path.read_text()[-3000:]
    assert "replaying to rebuild liquidity baselines" in log_path.read_text()

    published_metrics: list[LiquidityMetrics] = [
        e for _, e in await read_topic(settings, "liquidity.metrics.v1")
    ]
    published_anomalies: list[LiquidityAnomaly] = [
        e for _, e in await read_topic(settings, "liquidity.anomalies.v1")
    ]
    metric_rows = _rows(settings.database_url, LIQUIDITY_METRICS.name, LIQUIDITY_METRICS.columns)
    anomaly_rows = _rows(settings.database_url, LIQUIDITY_ANOMALIES.name, LIQUIDITY_ANOMALIES.columns)
    print(
        f"killed at {killed_at} of {len(events)} records; {len(published_metrics)} samples, "
        f"{len(published_anomalies)} anomalies"
    )

    # Events equal rows, no duplicates on either side.
    metric_keys = [(e.exchange, e.symbol, e.book_seq, e.exchange_ts) for e in published_metrics]
    assert len(metric_keys) == len(set(metric_keys)), "duplicate events on liquidity.metrics.v1"
    assert len(metric_rows) == len(published_metrics)
    assert sorted(map(_normalized, metric_rows), key=repr) == sorted(
        (_normalized(metrics_row(e)) for e in published_metrics), key=repr
    )
    anomaly_keys = [(e.crunch_id, e.phase) for e in published_anomalies]
    assert len(anomaly_keys) == len(set(anomaly_keys)), "duplicate events on liquidity.anomalies.v1"
    assert sorted(map(_normalized, anomaly_rows), key=repr) == sorted(
        (_normalized(_as_stored(anomaly_row(e))) for e in published_anomalies), key=repr
    )

    # The crunch, on the right book; none on the calm real one.
    assert [(e.exchange, e.phase) for e in published_anomalies] == [
        (ExchangeId.BYBIT, CrunchPhase.STARTED),
        (ExchangeId.BYBIT, CrunchPhase.ENDED),
    ]
    # As if it had never stopped.
    assert sorted(published_anomalies, key=lambda e: e.exchange_ts) == anomalies(reference)
    expected = {_book_fields(e) for e in metrics(reference)}
    got = {_book_fields(e) for e in published_metrics}
    assert got <= expected
    assert len(expected - got) <= 4, "only samples still waiting for the trade grace at the very end"
