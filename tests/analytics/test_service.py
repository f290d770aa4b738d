"""The service shell offline: outputs equal rows, late trades are rejected, and a restart from a
checkpoint followed by a silent replay continues exactly like an uninterrupted run."""

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from aiokafka import TopicPartition

from schemas.market_data import Candle, Trade
from schemas.topics import topic
from services.analytics.core.engine import EngineConfig
from services.analytics.service import (
    CANDLES,
    CHECKPOINTS,
    AnalyticsProcessor,
    AnalyticsSettings,
    build_processor,
    output_row,
)
from services.runtime.service import Output, RejectedInput


@dataclass
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes
    value: bytes


def records(trades: list[Trade]) -> list[tuple[Record, Trade]]:
    return [
        (Record("ns.md.trades.v1", 0, i, t.key.encode(), t.model_dump_json().encode()), t)
        for i, t in enumerate(trades)
    ]


def run(processor: AnalyticsProcessor, items: list[tuple[Record, Any]], batch: int = 500) -> Output:
    out = Output()
    for start in range(0, len(items), batch):
        for record, event in items[start : start + batch]:
            processor.handle(record, event, out)
        processor.end_batch(out)
    return out


@pytest.mark.data
def test_every_event_has_its_row_and_its_contract(binance_trades: list[Trade]) -> None:
    processor = AnalyticsProcessor(EngineConfig())
    out = run(processor, records(binance_trades))
    candles = [e for name, e in out.events if name == "md.candles.v1"]
    assert {c.interval_s for c in candles if isinstance(c, Candle)} == {1, 60, 300}
    for name, event in out.events:
        contract = topic(name)
        assert contract.payload.validate_json(event.model_dump_json()) == event
    rows = [output_row(e)[1] for _, e in out.events if isinstance(e, Candle)]
    assert rows == out.rows[CANDLES]
    large = [e for name, e in out.events if name == "analytics.flow.v1"]
    assert large, "a 5.7-minute BTC capture has trades over 100k USD"


@pytest.mark.data
def test_restart_from_checkpoint_continues_like_an_uninterrupted_run(binance_trades: list[Trade]) -> None:
    items = records(binance_trades)
    config = EngineConfig(grace_ms=500)
    whole = run(AnalyticsProcessor(config, checkpoint_every=3000), items)

    first = AnalyticsProcessor(config, checkpoint_every=3000)
    committed = 12_345  # the crash: offsets below this were committed
    before = run(first, items[:committed])
    checkpoint = [row for row in before.rows[CHECKPOINTS] if row[3] < committed][-1]
    _, _, partition, end_offset, state = checkpoint

    second = AnalyticsProcessor(config, checkpoint_every=3000)
    tp = TopicPartition("ns.md.trades.v1", partition)
    second.assigned({tp})
    second.restore_checkpoint(tp, json.loads(state))
    second._live_from[tp] = committed
    after = run(second, items[end_offset + 1 :])

    def published(out: Output) -> list[str]:
        return [e.model_dump_json() for _, e in out.events]

    assert published(before) + published(after) == published(whole)


def test_a_late_trade_is_rejected_with_its_reason() -> None:
    base = {
        "exchange": "binance_usdm",
        "symbol": "BTC-USDT-PERP",
        "native_symbol": "BTCUSDT",
        "receive_ts": 0,
    }
    trades = [
        Trade.model_validate(
            {
                **base,
                "exchange_ts": ts,
                "trade_id": str(i),
                "side": "buy",
                "price": "1",
                "quantity": "1",
                "notional": "1",
            }
        )
        for i, ts in enumerate([1_000_000_000, 5_000_000_000, 1_500_000_000])
    ]
    processor = AnalyticsProcessor(EngineConfig(grace_ms=1000))
    items = records(trades)
    out = Output()
    for record, event in items[:2]:
        processor.handle(record, event, out)
    with pytest.raises(RejectedInput) as caught:
        processor.handle(items[2][0], items[2][1], out)
    assert caught.value.error_type == "late_trade"
    assert "already emitted" in caught.value.reason


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERPWATCH_ANALYTICS_GRACE_MS", "750")
    monkeypatch.setenv("PERPWATCH_ANALYTICS_LARGE_TRADE_USD_BY_SYMBOL", "BTC-USDT-PERP:250000")
    monkeypatch.setenv(
        "PERPWATCH_ANALYTICS_PAIRS",
        '[{"name": "btc-eth", "a": "binance_usdm:BTC-USDT-PERP", "b": "binance_usdm:ETH-USDT-PERP"}]',
    )
    config = AnalyticsSettings().engine_config()
    assert config.grace_ms == 750
    assert config.large_trade_usd_by_symbol == {"BTC-USDT-PERP": Decimal(250000)}
    assert config.spike_thresholds == {300: 3.0, 900: 2.5, 3600: 2.0}
    assert config.pairs[0].leg_b[1] == "ETH-USDT-PERP"
    assert build_processor().config.grace_ms == 750


def test_a_quiet_partition_is_checkpointed_by_event_time() -> None:
    from schemas.market_data import OpenInterest

    processor = AnalyticsProcessor(EngineConfig(), checkpoint_every=1000, checkpoint_interval_s=300)
    ident = {
        "exchange": "binance_usdm",
        "symbol": "BTC-USDT-PERP",
        "native_symbol": "BTCUSDT",
        "receive_ts": 0,
    }
    written = []
    for offset, minute in enumerate(range(0, 30, 2)):
        event = OpenInterest.model_validate(
            {**ident, "exchange_ts": minute * 60_000_000_000, "open_interest": "1"}
        )
        out = Output()
        processor.handle(Record("md.open_interest.v1", 1, offset, b"", b""), event, out)
        processor.end_batch(out)
        written += [row[3] for row in out.rows[CHECKPOINTS]]
    # One record per batch, one every 2 minutes: a checkpoint after each 5 minutes of event time.
    assert written == [3, 6, 9, 12]
