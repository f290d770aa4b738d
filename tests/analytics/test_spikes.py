"""Spikes: a known spike fires on its bar and no other; later bars never change a verdict."""

import math
import random
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.analytics import Spike, SpikeMetric
from schemas.common import ExchangeId, Side
from schemas.market_data import OpenInterest, Trade
from services.analytics.core.engine import SPIKES_TOPIC, AnalyticsEngine, EngineConfig
from services.analytics.core.spikes import OpenInterestBars, RollingZ

S = 1_000_000_000
IDENT = {"exchange": ExchangeId.BINANCE_USDM, "symbol": "BTC-USDT-PERP", "native_symbol": "BTCUSDT"}


def verdicts(values: list[float], window: int = 100, threshold: float = 3.0) -> list[bool]:
    z = RollingZ(window, min_baseline=20)
    out = []
    for v in values:
        score = z.score(v)
        out.append(score is not None and score.z >= threshold)
    return out


def test_the_current_value_is_not_in_its_own_baseline() -> None:
    z = RollingZ(5, min_baseline=3)
    for v in (1.0, 2.0, 3.0):
        z.score(v)
    score = z.score(10.0)
    assert score is not None
    assert score.mean == 2.0
    assert score.std == 1.0
    assert score.z == 8.0
    assert score.window == 3


def test_a_constant_baseline_gives_no_verdict() -> None:
    z = RollingZ(10, min_baseline=3)
    assert [z.score(1.0) for _ in range(6)] == [None] * 6


def trade(i: int, ts_s: float, qty: str) -> Trade:
    q = Decimal(qty)
    return Trade(
        **IDENT,
        exchange_ts=int(ts_s * S),
        receive_ts=int(ts_s * S),
        trade_id=str(i),
        side=Side.BUY,
        price=Decimal(100),
        quantity=q,
        notional=q * 100,
    )


def test_a_known_volume_spike_fires_on_its_bar_and_no_other() -> None:
    rng = random.Random(7)
    engine = EngineConfig(bar_intervals_s=(300,), spike_thresholds={300: 3.0, 900: 2.5})
    run = AnalyticsEngine(engine)
    spikes: list[Spike] = []
    spike_bar = 150
    n = 0
    for bar in range(200):
        volume = math.exp(rng.uniform(-0.3, 0.3)) * (40 if bar == spike_bar else 1)
        for k in range(3):
            n += 1
            for topic, event in run.on_event(
                "md.trades.v1", trade(n, bar * 300 + k * 60 + 1, f"{volume / 3:.6f}")
            ):
                if topic == SPIKES_TOPIC:
                    assert isinstance(event, Spike)
                    spikes.append(event)
    assert [(s.timeframe_s, s.exchange_ts // S // 300) for s in spikes] == [
        (300, spike_bar),
        (900, spike_bar // 3 * 3),
    ]
    first = spikes[0]
    assert first.metric is SpikeMetric.LOG_VOLUME
    assert first.z >= 3.0
    assert first.window == 100
    assert math.isclose(first.z, (first.value - first.baseline_mean) / first.baseline_std)


def test_an_open_interest_jump_fires_once() -> None:
    run = AnalyticsEngine(EngineConfig(spike_thresholds={300: 3.0}))
    rng = random.Random(3)
    oi = 1000.0
    fired: list[Spike] = []
    for bucket in range(150):
        oi += rng.uniform(-1, 1) + (60 if bucket == 120 else 0)
        event = OpenInterest(
            **IDENT, exchange_ts=bucket * 300 * S + 5 * S, receive_ts=0, open_interest=Decimal(f"{oi:.3f}")
        )
        fired += [e for _, e in run.on_event("md.open_interest.v1", event) if isinstance(e, Spike)]
    # A bucket closes when the next one's first observation arrives.
    assert [(e.metric, e.exchange_ts // S // 300) for e in fired] == [(SpikeMetric.OI_CHANGE, 120)]


def test_open_interest_buckets_measure_change_between_observed_buckets() -> None:
    bars = OpenInterestBars(60 * S)
    assert bars.observe(1 * S, Decimal(10)) == (None, True)
    assert bars.observe(50 * S, Decimal(12)) == (None, True)
    assert bars.observe(61 * S, Decimal(15)) == (None, True)  # no previous bucket yet: no change
    closed, on_time = bars.observe(200 * S, Decimal(11))
    assert on_time
    assert closed is not None
    assert (closed.start_ns, closed.change) == (60 * S, Decimal(3))
    assert bars.observe(100 * S, Decimal(1)) == (None, False)  # older than the open bucket


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.floats(-50, 50, allow_nan=False), min_size=1, max_size=150),
    st.lists(st.floats(-50, 50), max_size=50),
)
def test_appending_future_values_never_changes_an_earlier_verdict(
    head: list[float], tail: list[float]
) -> None:
    assert verdicts(head + tail, window=30)[: len(head)] == verdicts(head, window=30)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 10_000), min_size=2, max_size=60), st.integers(1, 59))
def test_engine_spikes_of_a_prefix_are_a_prefix_of_the_spikes(volumes: list[int], cut: int) -> None:
    """Bars appended later never change (or add, or remove) a verdict on an earlier bar."""
    config = EngineConfig(
        bar_intervals_s=(300,), spike_thresholds={300: 1.0, 900: 1.0}, spike_window=10, spike_min_baseline=3
    )

    def spikes(n_bars: int) -> list[str]:
        run = AnalyticsEngine(config)
        found = []
        # One trade per bar, and one more bar to close the last one.
        for bar, volume in enumerate([*volumes[:n_bars], 1]):
            for topic, event in run.on_event("md.trades.v1", trade(bar, bar * 300 + 150, str(volume))):
                if topic == SPIKES_TOPIC:
                    found.append(event.model_dump_json())
        return found

    cut = min(cut, len(volumes))
    full, prefix = spikes(len(volumes)), spikes(cut)
    closed_in_prefix = [s for s in full if Spike.model_validate_json(s).close_ts < cut * 300 * S]
    assert prefix[: len(closed_in_prefix)] == closed_in_prefix
