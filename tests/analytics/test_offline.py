"""`perpwatch analyze analytics FILE` on real normalized output: the service's events, then a summary."""

import io

import orjson
import pytest

from schemas.market_data import Candle
from services.analytics.core.engine import EngineConfig
from services.analytics.service import AnalyticsProcessor, build_processor
from services.runtime.offline import analyze


def _events(out: io.BytesIO, topic: str) -> list[dict[str, object]]:
    return [e for e in map(orjson.loads, out.getvalue().splitlines()) if e["topic"] == topic]


@pytest.mark.data
def test_candles_and_flow_of_a_real_capture(binance_lines: list[bytes]) -> None:
    out = io.BytesIO()
    summary = analyze(build_processor(), binance_lines, out)
    assert summary.inputs == {"md.trades.v1": 21_313}
    assert summary.skipped == {"md.bbo.v1": 66_089, "md.book.v1": 6_552}
    assert summary.rejected == {}
    minute_bars = [
        c
        for c in (Candle.model_validate(e["event"]) for e in _events(out, "md.candles.v1"))
        if c.interval_s == 60
    ]
    assert len(minute_bars) == 5
    assert sum(c.trade_count for c in minute_bars) < 21_313
    flow = _events(out, "analytics.flow.v1")
    assert flow
    assert summary.outputs["analytics.flow.v1"] == len(flow)


def test_late_and_invalid_lines_are_counted() -> None:
    base = (
        '"exchange":"binance_usdm","symbol":"BTC-USDT-PERP","native_symbol":"BTCUSDT","receive_ts":0,'
        '"side":"buy","price":"1","quantity":"1","notional":"1"'
    )
    lines = [
        f'{{"topic":"md.trades.v1","key":"binance_usdm:BTC-USDT-PERP","event":{{{base},"exchange_ts":{ts},"trade_id":"{i}"}}}}'.encode()
        for i, ts in enumerate([1_000_000_000, 9_000_000_000, 2_000_000_000])
    ]
    lines.append(b'{"topic":"md.trades.v1","key":"k","event":{"exchange":"nowhere"}}')
    summary = analyze(AnalyticsProcessor(EngineConfig(grace_ms=0)), lines, io.BytesIO())
    assert summary.rejected == {"late_trade": 1, "validation_error": 1}
