"""The detector on the exchange simulator: it fires on an injected liquidity crunch, quickly, on the
right venue and symbol, and stays silent on calm data of the same length."""

import pytest

from schemas.common import ExchangeId
from schemas.liquidity import CrunchPhase
from tests.liquidity.simdata import STEP_NS, SYMBOL, T0, Crunch, simulated_market
from tests.liquidity.support import anomalies, metrics, run_processor

VENUES = (ExchangeId.BINANCE_USDM, ExchangeId.BYBIT)
STEPS = 4000  # 400 s of market: 60 s of warm-up, a crunch at 300 s
AT_STEP = 3000
S = 1_000_000_000


@pytest.mark.parametrize("seed", [11, 12])
def test_fires_on_an_injected_crunch_within_a_bounded_delay(seed: int) -> None:
    crunch = Crunch(at_step=AT_STEP, venue=ExchangeId.BYBIT, symbol=SYMBOL, duration_s=10.0)
    out = run_processor(simulated_market(STEPS, seed=seed, crunch=crunch, venues=VENUES))
    events = anomalies(out)
    assert [e.phase for e in events] == [CrunchPhase.STARTED, CrunchPhase.ENDED]
    started, ended = events
    assert (started.exchange, started.symbol) == (ExchangeId.BYBIT, SYMBOL)
    assert (ended.exchange, ended.symbol, ended.crunch_id) == (ExchangeId.BYBIT, SYMBOL, started.crunch_id)
    injected_at = T0 + AT_STEP * STEP_NS  # injected before that step: its book is the first crunched one
    # Bounded delay: the first sampled second after the injection starts the streak, and the rule
    # needs N = 3 samples of one second each.
    assert injected_at <= started.started_ts <= injected_at + S
    assert started.exchange_ts - injected_at <= 3 * S
    assert len(started.evidence) == 3
    assert all(e.spread_breach and e.depth_breach for e in started.evidence)
    assert started.severity_score >= 1
    # The fault lasts 10 s; the end is declared after M = 5 samples back inside the bounds.
    assert ended.ended_ts is not None
    assert ended.duration_s is not None
    assert 8 <= ended.duration_s <= 40
    assert len(ended.evidence) == 5
    # The other venue's book of the same symbol never crunched.
    binance = [m for m in metrics(out) if m.exchange is ExchangeId.BINANCE_USDM]
    assert binance
    assert not any(m.crunch_active or m.breach for m in binance)


@pytest.mark.parametrize("seed", [11, 12])
def test_silent_on_calm_data_of_the_same_length(seed: int) -> None:
    out = run_processor(simulated_market(STEPS, seed=seed, venues=VENUES))
    assert anomalies(out) == []
    samples = metrics(out)
    assert len(samples) == 2 * STEPS // 10
    warm = [m for m in samples if m.spread_z is not None and m.depth_z is not None]
    assert len(warm) >= len(samples) - 2 * 60


def test_every_baseline_and_depth_test_fires_on_the_injected_crunch() -> None:
    from services.liquidity.service import LiquiditySettings

    crunch = Crunch(at_step=1500, duration_s=10.0)
    for settings in (
        LiquiditySettings(baseline="ewma"),
        LiquiditySettings(depth_test="cusum"),
        LiquiditySettings(band_bps=100, k=4.0, sustain=2, end_after=3),
    ):
        events = anomalies(run_processor(simulated_market(2000, crunch=crunch), settings))
        assert [e.phase for e in events][:1] == [CrunchPhase.STARTED], settings
        assert events[0].rule.k == settings.k
        assert events[0].rule.sustain == settings.sustain
