"""The processor shell: events and rows agree, outputs are deterministic, a restart replays silently."""

import asyncio
from dataclasses import dataclass

import pytest
from aiokafka import TopicPartition

from schemas.book import BookDepth
from schemas.liquidity import LiquidityAnomaly, LiquidityMetrics
from schemas.market_data import Trade
from services.liquidity.service import (
    LIQUIDITY_ANOMALIES,
    LIQUIDITY_METRICS,
    LiquidityProcessor,
    LiquiditySettings,
    anomaly_row,
    build_processor,
    metrics_row,
)
from services.runtime.service import Output, RejectedInput
from services.runtime.settings import Settings
from tests.liquidity.simdata import Crunch, simulated_market
from tests.liquidity.support import anomalies, metrics, record, run_processor

BOOKS, TRADES = "book.l2.v1", "md.trades.v1"


@pytest.fixture(scope="module")
def crunch_market() -> list[BookDepth | Trade]:
    return list(simulated_market(1500, crunch=Crunch(at_step=1000)))


def test_every_event_has_its_row(crunch_market: list[BookDepth | Trade]) -> None:
    out = run_processor(crunch_market)
    published_metrics = metrics(out)
    published_anomalies = anomalies(out)
    assert len(published_anomalies) == 2
    assert out.rows[LIQUIDITY_METRICS] == [metrics_row(e) for e in published_metrics]
    assert out.rows[LIQUIDITY_ANOMALIES] == [anomaly_row(e) for e in published_anomalies]
    assert all(len(row) == len(LIQUIDITY_METRICS.columns) for row in out.rows[LIQUIDITY_METRICS])
    assert all(len(row) == len(LIQUIDITY_ANOMALIES.columns) for row in out.rows[LIQUIDITY_ANOMALIES])
    keys = [(r[1], r[2], r[3], r[0]) for r in out.rows[LIQUIDITY_METRICS]]
    assert len(keys) == len(set(keys)), "natural keys are unique"
    for event in published_metrics:
        assert LiquidityMetrics.model_validate_json(event.model_dump_json()) == event
    for anomaly in published_anomalies:
        assert LiquidityAnomaly.model_validate_json(anomaly.model_dump_json()) == anomaly


def test_outputs_are_deterministic(crunch_market: list[BookDepth | Trade]) -> None:
    first = run_processor(crunch_market)
    second = run_processor(crunch_market, batch=137)
    assert [(t, e.model_dump_json()) for t, e in first.events] == [
        (t, e.model_dump_json()) for t, e in second.events
    ]


@dataclass
class Fed:
    topic: str
    offset: int
    event: BookDepth | Trade


def _records(events: list[BookDepth | Trade]) -> list[Fed]:
    offsets = {BOOKS: 0, TRADES: 0}
    fed = []
    for event in events:
        topic = BOOKS if isinstance(event, BookDepth) else TRADES
        fed.append(Fed(topic, offsets[topic], event))
        offsets[topic] += 1
    return fed


def _feed(processor: LiquidityProcessor, fed: list[Fed], batch: int, out_per_batch: list[Output]) -> None:
    for start in range(0, len(fed), batch):
        out = Output()
        for item in fed[start : start + batch]:
            processor.handle(record(item.topic, item.offset, item.event), item.event, out)
        processor.end_batch(out)
        out_per_batch.append(out)


def test_a_restart_replays_silently_then_continues_as_if_it_never_stopped(
    crunch_market: list[BookDepth | Trade],
) -> None:
    fed = _records(crunch_market)
    batch = 400
    reference: list[Output] = []
    _feed(LiquidityProcessor(), fed, batch, reference)
    assert any(out.events for out in reference)

    # The crash: the batches before the crunch were committed, the rest is consumed again.
    first_anomaly = next(
        n for n, out in enumerate(reference) if any(t.startswith("liquidity.an") for t, _ in out.events)
    )
    committed_batches = first_anomaly - 1
    assert committed_batches >= 2
    cut = committed_batches * batch
    committed = {
        TopicPartition(BOOKS, 0): sum(1 for f in fed[:cut] if f.topic == BOOKS),
        TopicPartition(TRADES, 0): sum(1 for f in fed[:cut] if f.topic == TRADES),
    }
    restarted = LiquidityProcessor()
    restarted.assigned(set(committed))
    positions = asyncio.run(restarted.restore(set(committed), dict(committed), Settings()))
    assert positions == dict.fromkeys(committed, 0)  # the default rewind reaches the start here
    replayed: list[Output] = []
    _feed(restarted, fed, batch, replayed)
    assert all(not out.events and not out.rows for out in replayed[:committed_batches])
    after = [(t, e.model_dump_json()) for out in replayed[committed_batches:] for t, e in out.events]
    expected = [(t, e.model_dump_json()) for out in reference[committed_batches:] for t, e in out.events]
    assert after == expected
    assert any(t == "liquidity.anomalies.v1" for t, _ in after)


def test_rejections() -> None:
    processor = LiquidityProcessor()
    out = Output()
    books = [e for e in simulated_market(3) if isinstance(e, BookDepth)]
    processor.handle(record(BOOKS, 0, books[1]), books[1], out)
    with pytest.raises(RejectedInput) as rejected:
        processor.handle(record(BOOKS, 1, books[0]), books[0], out)
    assert rejected.value.error_type == "out_of_order"
    with pytest.raises(RejectedInput):
        processor.handle(record(BOOKS, 2, books[0]), object(), out)


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERPWATCH_LIQUIDITY_K", "4.5")
    monkeypatch.setenv("PERPWATCH_LIQUIDITY_BAND_BPS", "25")
    monkeypatch.setenv("PERPWATCH_LIQUIDITY_CADENCE_MS", "500")
    processor = build_processor()
    assert processor.config.detector.k == 4.5
    assert processor.config.detector.band_bps == 25
    assert processor.config.cadence_ns == 500_000_000
    assert processor.rule.band_bps == 25
    monkeypatch.setenv("PERPWATCH_LIQUIDITY_BAND_BPS", "20")
    with pytest.raises(ValueError, match="band_bps"):
        LiquiditySettings()


def _keys(outputs: list[Output]) -> list[tuple[str, str]]:
    return [(t, e.model_dump_json()) for out in outputs for t, e in out.events]


def test_a_restart_that_replays_in_another_order_loses_nothing_and_repeats_nothing(
    crunch_market: list[BookDepth | Trade],
) -> None:
    """Kafka does not replay two topics in the order it first delivered them: here the committed
    books all come back before the committed trades. Whatever was published before the crash plus
    whatever is published after it is exactly the uninterrupted run."""
    fed = _records(crunch_market)
    batch = 300
    reference: list[Output] = []
    _feed(LiquidityProcessor(), fed, batch, reference)
    committed_batches = 4
    cut = committed_batches * batch
    committed = {
        TopicPartition(BOOKS, 0): sum(1 for f in fed[:cut] if f.topic == BOOKS),
        TopicPartition(TRADES, 0): sum(1 for f in fed[:cut] if f.topic == TRADES),
    }
    restarted = LiquidityProcessor()
    asyncio.run(restarted.restore(set(committed), dict(committed), Settings()))
    silent = [f for f in fed[:cut] if f.topic == BOOKS] + [f for f in fed[:cut] if f.topic == TRADES]
    replayed: list[Output] = []
    _feed(restarted, silent + fed[cut:], 250, replayed)
    before = _keys(reference[:committed_batches])
    after = _keys(replayed)
    assert not set(before) & set(after), "published twice"
    assert sorted(before + after) == sorted(_keys(reference))


def test_prometheus_gauges_follow_the_samples_and_crunches(crunch_market: list[BookDepth | Trade]) -> None:
    from prometheus_client import REGISTRY

    labels = {"exchange": "binance_usdm", "symbol": "BTC-USDT-PERP"}
    before = REGISTRY.get_sample_value("perpwatch_liquidity_samples_total", labels) or 0.0
    out = run_processor(crunch_market)
    assert REGISTRY.get_sample_value("perpwatch_liquidity_samples_total", labels) == before + len(
        metrics(out)
    )
    started = REGISTRY.get_sample_value("perpwatch_liquidity_crunches_total", {**labels, "phase": "started"})
    assert started is not None
    assert started >= 1
    assert REGISTRY.get_sample_value("perpwatch_liquidity_crunch_active", labels) == 0.0  # it ended
    assert REGISTRY.get_sample_value("perpwatch_liquidity_spread_bps", labels) == metrics(out)[-1].spread_bps
