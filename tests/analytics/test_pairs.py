"""Pair statistics against statsmodels, the Kalman filter on a known hedge ratio, and the guards."""

import itertools
import math
import random
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.analytics import PairStats
from schemas.common import ExchangeId
from services.analytics.core.engine import PairConfig, pair_stats
from services.analytics.core.pairs import (
    KalmanHedge,
    PairTracker,
    correlation,
    half_life,
    ols,
    pair_statistics,
)


def cointegrated(n: int, beta: float, seed: int) -> tuple[list[float], list[float]]:
    rng = random.Random(seed)
    x, spread, ys, xs = 4.0, 0.0, [], []
    for _ in range(n):
        x += rng.gauss(0, 0.01)
        spread = 0.7 * spread + rng.gauss(0, 0.002)
        xs.append(x)
        ys.append(0.5 + beta * x + spread)
    return ys, xs


def test_ols_equals_statsmodels() -> None:
    sm = pytest.importorskip("statsmodels.api")
    y, x = cointegrated(250, 1.3, seed=1)
    fit = ols(y, x)
    assert not isinstance(fit, str)
    params = sm.OLS(y, sm.add_constant(x)).fit().params
    assert fit.alpha == pytest.approx(params[0], abs=1e-9)
    assert fit.beta == pytest.approx(params[1], abs=1e-9)


def test_coint_and_half_life_equal_statsmodels() -> None:
    sm = pytest.importorskip("statsmodels.api")
    from statsmodels.tsa.stattools import coint

    y, x = cointegrated(200, 0.8, seed=2)
    stats = pair_statistics(y, x, min_observations=30)
    assert stats["coint_pvalue"] == pytest.approx(coint(y, x)[1], abs=1e-9)
    assert isinstance(stats["coint_pvalue"], float)
    assert stats["coint_pvalue"] < 0.05
    fit = sm.OLS(y, sm.add_constant(x)).fit()
    resid = list(fit.resid)
    assert stats["spread"] == pytest.approx(resid[-1], abs=1e-9)
    lam = sm.OLS([b - a for a, b in itertools.pairwise(resid)], sm.add_constant(resid[:-1])).fit().params[1]
    assert stats["half_life_bars"] == pytest.approx(math.log(2) / -lam, abs=1e-9)
    # AR(1) coefficient 0.7 -> lambda -0.3 -> half-life ln2/0.3 = 2.3 bars, roughly.
    assert 1.0 < float(stats["half_life_bars"]) < 5.0
    mean = sum(resid) / len(resid)
    std = math.sqrt(sum((r - mean) ** 2 for r in resid) / (len(resid) - 1))
    assert stats["spread_z"] == pytest.approx((resid[-1] - mean) / std, abs=1e-9)


def test_correlation_equals_pearson() -> None:
    np = pytest.importorskip("numpy")
    rng = random.Random(5)
    a = [rng.gauss(0, 1) for _ in range(100)]
    b = [v * 0.5 + rng.gauss(0, 1) for v in a]
    assert correlation(a, b) == pytest.approx(float(np.corrcoef(a, b)[0, 1]), abs=1e-12)


def test_kalman_finds_a_known_hedge_ratio() -> None:
    y, x = cointegrated(1500, 1.75, seed=3)
    kalman = KalmanHedge(delta=1e-5, observation_var=1e-5)
    betas = [kalman.update(a, b) for a, b in zip(y, x, strict=True)]
    assert betas[-1] == pytest.approx(1.75, abs=0.05)
    assert all(math.isfinite(b) for b in betas)


def test_kalman_follows_a_hedge_ratio_that_changes() -> None:
    rng = random.Random(9)
    kalman = KalmanHedge(delta=1e-4, observation_var=1e-6)
    x = 4.0
    for i in range(3000):
        beta = 1.0 if i < 1500 else 2.0
        x += rng.gauss(0, 0.02)
        got = kalman.update(beta * x + rng.gauss(0, 0.001), x)
        if i in (1499, 2999):
            assert got == pytest.approx(beta, abs=0.1)


@pytest.mark.parametrize(
    ("y", "x", "field", "reason"),
    [
        ([1.0] * 50, [float(i) for i in range(50)], "ols_beta", "constant series: leg a"),
        ([float(i) for i in range(50)], [2.0] * 50, "correlation", "constant series: leg b"),
        ([0.1 + 2 * i for i in range(50)], [float(i) for i in range(50)], "coint_pvalue", "collinear inputs"),
        ([1.0, 2.0], [3.0, 1.0], "spread_z", "too short"),
    ],
)
def test_degenerate_inputs_give_a_reason_not_a_crash(
    y: list[float], x: list[float], field: str, reason: str
) -> None:
    stats = pair_statistics(y, x, min_observations=10)
    assert isinstance(stats[field], str)
    assert str(stats[field]).startswith(reason)
    assert all(isinstance(v, str) or math.isfinite(v) for v in stats.values())


def test_a_spread_that_only_drifts_is_not_mean_reverting() -> None:
    assert half_life([float(i) for i in range(20)]) == "not mean-reverting: the spread does not pull back"


def test_tracker_aligns_closes_whichever_leg_arrives_first() -> None:
    y, x = cointegrated(60, 1.2, seed=4)
    first, second = (
        PairTracker(40, min_observations=10, with_coint=False),
        PairTracker(40, min_observations=10, with_coint=False),
    )
    a = [Decimal(str(round(math.exp(v), 6))) for v in y]
    b = [Decimal(str(round(math.exp(v), 6))) for v in x]
    in_order = []
    for i in range(60):
        in_order += first.on_close(0, i, a[i]) + first.on_close(1, i, b[i])
    leg_b_first = []
    for i in range(60):
        leg_b_first += second.on_close(1, i, b[i])
    for i in range(60):
        leg_b_first += second.on_close(0, i, a[i])
    assert in_order == leg_b_first
    assert len(in_order) == 60
    event = pair_stats(
        PairConfig(
            "btc-eth",
            (ExchangeId.BINANCE_USDM, "BTC-USDT-PERP"),
            (ExchangeId.BINANCE_USDM, "ETH-USDT-PERP"),
            60,
            40,
            10,
        ),
        in_order[-1],
    )
    assert PairStats.model_validate_json(event.model_dump_json()) == event
    assert event.ols_beta is not None
    assert event.null_reasons == {"coint_pvalue": "disabled"}
    assert in_order[0].null_reasons["ols_beta"].startswith("too short")


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(0.01, 1e6, allow_nan=False, allow_infinity=False), min_size=1, max_size=40),
    st.lists(st.floats(0.01, 1e6, allow_nan=False, allow_infinity=False), min_size=1, max_size=40),
)
def test_no_nan_ever_reaches_the_output(a: list[float], b: list[float]) -> None:
    tracker = PairTracker(20, min_observations=5, with_coint=False)
    n = min(len(a), len(b))
    for i in range(n):
        for result in tracker.on_close(0, i, Decimal(repr(a[i]))) + tracker.on_close(
            1, i, Decimal(repr(b[i]))
        ):
            for name in (
                "ols_beta",
                "ols_alpha",
                "kalman_beta",
                "spread",
                "spread_z",
                "correlation",
                "half_life_bars",
            ):
                value = getattr(result, name)
                assert value is None or math.isfinite(value)
                assert (value is None) == (name in result.null_reasons) or name == "kalman_beta"


def test_a_silent_leg_does_not_grow_the_pending_closes_without_bound() -> None:
    from services.analytics.core import pairs

    tracker = PairTracker(10, with_coint=False)
    for start in range(pairs.MAX_PENDING + 50):
        assert tracker.on_close(0, start, Decimal(1)) == []
    assert len(tracker.pending[0]) == pairs.MAX_PENDING
    assert min(tracker.pending[0]) == 50
