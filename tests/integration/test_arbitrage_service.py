"""The arbitrage service on the real broker and database, killed with SIGKILL and restarted.

Three venues' books (``book.l2.v1``) with a dislocation on Bybit that starts before the kill and
heals after the restart. The restarted process reads the open opportunities back from
``arb.opportunities.v1`` and rebuilds its books by replaying the inputs before its committed offsets
silently, so each opportunity is opened once (before the kill) and updated and closed under the same
id (after it), and no pair is sampled twice in one sampling interval. Events on ``arb.opportunities.v1`` and ``arb.spreads.v1`` must equal
the rows of ``arb_opportunities`` and ``arb_spreads``, with no duplicate anywhere.

The inputs go through one partition so that their order (and hence every evaluation) is the
order they were produced in; in production one replica consumes all partitions as they arrive.
"""

import asyncio
import signal
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg

from schemas.arbitrage import ArbOpportunity, ArbSpread, OpportunityEventType
from schemas.book import BookDepth, BookStatus
from schemas.common import ExchangeId
from schemas.market_data import Funding
from services.runtime.kafka import make_producer
from services.runtime.settings import Settings
from services.runtime.topics import ensure_topics
from tests.integration.helpers import read_topic, start_service_process, wait_until_consumed, wait_until_ready

T0 = 1_723_161_256_000_000_000
STEP_NS = 100_000_000
SYMBOL = "BTC-USDT-PERP"
VENUES = {ExchangeId.OKX: "BTC-USDT-SWAP", ExchangeId.BYBIT: "BTCUSDT", ExchangeId.BINANCE_USDM: "BTCUSDT"}
KILL_AT_STEP = 35  # mid-second: a restart without warm-up would sample some pairs twice in it
STEPS = 90
ARB_ENV = {
    "PERPWATCH_ARB_PERSIST_EVALUATIONS": "3",
    "PERPWATCH_ARB_SAMPLE_INTERVAL_MS": "1000",
    "PERPWATCH_ARB_UPDATE_INTERVAL_MS": "500",
    "PERPWATCH_ARB_NOTIONALS": "10000,100000",
}


def _mid(venue: ExchangeId, step: int) -> float:
    mid = 60_000.0 + (step % 3) * 0.1
    if venue is ExchangeId.BYBIT and 10 <= step < 60:
        mid *= 1.0030 if step < 40 else 1.0035  # 30 bps, then a new peak after the restart
    return mid


def _depth(venue: ExchangeId, step: int) -> BookDepth:
    mid = _mid(venue, step)
    return BookDepth(
        exchange=venue,
        symbol=SYMBOL,
        native_symbol=VENUES[venue],
        exchange_ts=T0 + step * STEP_NS,
        receive_ts=T0 + step * STEP_NS + 2_000_000,
        status=BookStatus.VALID,
        book_seq=step,
        venue_seq=1_000 + step,
        depth=10,
        bids=[(Decimal(f"{mid - 0.05 - k * 0.5:.2f}"), Decimal(f"{1.0 + k:.3f}")) for k in range(10)],
        asks=[(Decimal(f"{mid + 0.05 + k * 0.5:.2f}"), Decimal(f"{1.0 + k:.3f}")) for k in range(10)],
    )


def _funding(venue: ExchangeId, step: int) -> Funding:
    return Funding(
        exchange=venue,
        symbol=SYMBOL,
        native_symbol=VENUES[venue],
        exchange_ts=T0 + step * STEP_NS,
        receive_ts=T0 + step * STEP_NS,
        rate=Decimal("0.0001"),
        interval_s=8 * 3600,
        next_funding_ts=T0 + 3_600 * 1_000_000_000,
        mark_price=Decimal("60000.5"),
        index_price=Decimal("60000.0"),
    )


async def _produce(settings: Settings, steps: range) -> None:
    producer = make_producer(settings)
    await producer.start()
    try:
        for step in steps:
            for venue in VENUES:
                event: BookDepth | Funding = _depth(venue, step)
                await producer.send(
                    settings.topic_name("book.l2.v1"),
                    event.model_dump_json().encode(),
                    key=event.key.encode(),
                )
                if step % 10 == 0:
                    event = _funding(venue, step)
                    await producer.send(
                        settings.topic_name("md.funding.v1"),
                        event.model_dump_json().encode(),
                        key=event.key.encode(),
                    )
        await producer.flush()
    finally:
        await producer.stop()


async def _consumed(settings: Settings) -> None:
    group = f"{settings.consumer_group_prefix}.arbitrage"
    for topic in ("book.l2.v1", "md.funding.v1"):
        await wait_until_consumed(settings, group, topic, timeout_s=120)


def _rows(url: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(query).fetchall()


async def test_opportunities_survive_sigkill_and_topics_equal_tables(
    settings: Settings, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"topic_partitions": 1})
    await ensure_topics(settings)
    log_path = tmp_path / "arbitrage.log"

    first, port = start_service_process(["services.cli", "run", "arbitrage"], settings, log_path, ARB_ENV)
    try:
        await wait_until_ready(first, port, log_path)
        await _produce(settings, range(KILL_AT_STEP))
        await _consumed(settings)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    assert first.returncode == -signal.SIGKILL
    opened_before_kill = _rows(settings.database_url, "SELECT opportunity_id FROM arb_open_opportunities")
    assert len(opened_before_kill) == 2, log_path.read_text()[-3000:]

    second, port = start_service_process(["services.cli", "run", "arbitrage"], settings, log_path, ARB_ENV)
    try:
        await wait_until_ready(second, port, log_path)
        await _produce(settings, range(KILL_AT_STEP, STEPS))
        await _consumed(settings)
    finally:
        second.send_signal(signal.SIGTERM)
        await asyncio.to_thread(second.wait, 60)
    assert "open opportunities restored" in log_path.read_text()

    opportunities = [event for _, event in await read_topic(settings, "arb.opportunities.v1")]
    spreads = [event for _, event in await read_topic(settings, "arb.spreads.v1")]
    assert all(isinstance(e, ArbOpportunity) for e in opportunities)
    assert all(isinstance(e, ArbSpread) for e in spreads)

    # Each opportunity: opened once before the kill, then updated and closed under the same id.
    by_id: dict[str, list[ArbOpportunity]] = defaultdict(list)
    for event in opportunities:
        by_id[event.opportunity_id].append(event)
    assert sorted(by_id) == sorted(row[0] for row in opened_before_kill)
    kill_ts = T0 + KILL_AT_STEP * STEP_NS
    for opportunity_id, events in by_id.items():
        kinds = [e.event for e in events]
        assert kinds[0] is OpportunityEventType.OPENED, opportunity_id
        assert kinds[-1] is OpportunityEventType.CLOSED, opportunity_id
        assert kinds.count(OpportunityEventType.OPENED) == 1
        assert OpportunityEventType.UPDATED in kinds
        assert [e.seq for e in events] == list(range(len(events)))
        assert events[0].ts < kill_ts < events[-1].ts
        assert events[0].sell.exchange is ExchangeId.BYBIT
        assert events[-1].reason == "converged"
        assert Decimal(events[-1].peak_bps) > Decimal(events[0].peak_bps)

    # Topics equal tables, no duplicates on either side.
    on_topic = {(e.opportunity_id, e.seq, e.event.value, e.value_bps, e.peak_bps) for e in opportunities}
    assert len(on_topic) == len(opportunities), "duplicate events on arb.opportunities.v1"
    rows = _rows(
        settings.database_url, "SELECT opportunity_id, seq, event, value_bps, peak_bps FROM arb_opportunities"
    )
    assert len(set(rows)) == len(rows)
    assert set(rows) == on_topic

    spread_keys = {
        (e.symbol, e.buy.exchange.value, e.sell.exchange.value, e.ts, e.gross_spread_bps) for e in spreads
    }
    assert len(spread_keys) == len(spreads), "duplicate events on arb.spreads.v1"
    spread_rows = _rows(
        settings.database_url,
        "SELECT symbol, buy_exchange, sell_exchange, ts, gross_spread_bps FROM arb_spreads",
    )
    assert len(spread_rows) == len(spreads)
    assert {(s, b, e, int(ts.timestamp() * 1000), g) for s, b, e, ts, g in spread_rows} == {
        (s, b, e, ts // 1_000_000, g) for s, b, e, ts, g in spread_keys
    }
    assert len(spreads) >= 6 * (STEPS // 10 - 1)  # every ordered pair, about every second
    per_interval = Counter((e.buy.exchange, e.sell.exchange, e.ts // 1_000_000_000) for e in spreads)
    assert max(per_interval.values()) == 1
