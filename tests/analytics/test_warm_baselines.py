"""History under the volume-spike baselines (the analytics start-up backfill)."""

import math
from decimal import Decimal

from schemas.common import ExchangeId
from services.analytics.core.engine import AnalyticsEngine, EngineConfig, OpenInterestStream, TradeStream

NS = 1_000_000_000


def test_one_minute_klines_fill_the_five_minute_baseline_with_whole_buckets_only() -> None:
    engine = AnalyticsEngine(EngineConfig(spike_thresholds={300: 3.0}, spike_window=10))
    # 52 one-minute bars from 00:00: ten whole 5-minute buckets and an unfinished one (2 bars).
    bars = [(i * 60 * NS, 60, Decimal(i % 5 + 1)) for i in range(52)]
    added = engine.warm_volume_baselines(ExchangeId.BYBIT, "BTC-USDT-PERP", "BTCUSDT", bars)
    assert added == {300: 10}
    stream = engine.streams[("md.trades.v1", "bybit:BTC-USDT-PERP")]
    assert isinstance(stream, TradeStream)
    assert list(stream.volume_z[300].values) == [math.log(15)] * 10


def test_history_goes_before_what_the_baseline_holds_and_is_cut_to_the_window() -> None:
    engine = AnalyticsEngine(EngineConfig(spike_thresholds={300: 3.0}, spike_window=4))
    bars = [(i * 300 * NS, 300, Decimal(2)) for i in range(3)]
    engine.warm_volume_baselines(ExchangeId.BYBIT, "BTC-USDT-PERP", "BTCUSDT", bars)
    stream = engine.streams[("md.trades.v1", "bybit:BTC-USDT-PERP")]
    assert isinstance(stream, TradeStream)
    stream.volume_z[300].values.append(math.log(7))  # a live bar
    engine.warm_volume_baselines(ExchangeId.BYBIT, "BTC-USDT-PERP", "BTCUSDT", bars)
    assert list(stream.volume_z[300].values) == [math.log(2)] * 3 + [math.log(7)]


def test_bars_that_divide_no_timeframe_are_ignored() -> None:
    engine = AnalyticsEngine(EngineConfig(spike_thresholds={300: 3.0}))
    assert (
        engine.warm_volume_baselines(ExchangeId.BYBIT, "BTC-USDT-PERP", "BTCUSDT", [(0, 420, Decimal(1))])
        == {}
    )


def test_open_interest_history_fills_the_oi_change_baseline_like_live_observations() -> None:
    engine = AnalyticsEngine(EngineConfig(spike_thresholds={300: 3.0}, spike_window=10))
    # One observation every 5 minutes, OI growing by 10 each time: 6 observations, 5 buckets close
    # (the last stays open), the first closed bucket has no previous one: 4 changes of 10.
    observations = [(i * 300 * NS, Decimal(1000 + 10 * i)) for i in range(6)]
    added = engine.warm_open_interest_baselines(ExchangeId.BYBIT, "BTC-USDT-PERP", "BTCUSDT", observations)
    assert added == {300: 4}
    stream = engine.streams[("md.open_interest.v1", "bybit:BTC-USDT-PERP")]
    assert isinstance(stream, OpenInterestStream)
    assert list(stream.z[300].values) == [10.0] * 4
