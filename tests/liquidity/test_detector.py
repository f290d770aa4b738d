"""Baselines, the crunch rule, and the no-look-ahead property."""

import math
import statistics
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.liquidity.core.baseline import MAD_TO_SIGMA, EwmaBaseline, RobustBaseline
from services.liquidity.core.detector import (
    CrunchDetector,
    CrunchEnded,
    CrunchStarted,
    DetectorConfig,
    SampleInput,
    Severity,
    severity_of,
)

SMALL = DetectorConfig(k=3.0, sustain=3, end_after=2, window=50, warmup=20)


# --- baselines ----------------------------------------------------------------------------------


@given(st.lists(st.floats(min_value=-1e6, max_value=1e6), min_size=1, max_size=80), st.integers(1, 30))
def test_robust_baseline_is_the_median_and_mad_of_the_last_window(values: list[float], window: int) -> None:
    baseline = RobustBaseline(window, 1)
    for value in values:
        baseline.add(value)
    kept = values[-window:]
    estimate = baseline.estimate()
    assert estimate is not None
    median = statistics.median(kept)
    mad = statistics.median(abs(x - median) for x in kept)
    assert estimate.center == pytest.approx(median)
    assert estimate.scale == pytest.approx(max(MAD_TO_SIGMA * mad, 1e-12))
    assert estimate.count == len(kept)
    assert baseline.values() == kept


def test_warmup_gate_and_scale_floors() -> None:
    baseline = RobustBaseline(10, 5, floor_rel=0.5, floor_abs=0.001)
    for _ in range(4):
        baseline.add(2.0)
        if len(baseline) < 5:
            assert baseline.estimate() is None
    baseline.add(2.0)
    estimate = baseline.estimate()
    assert estimate is not None
    assert estimate.center == 2.0
    assert estimate.scale == 1.0  # MAD 0 (a pinned spread): the relative floor decides
    assert estimate.z(5.0) == 3.0


def test_ewma_baseline() -> None:
    baseline = EwmaBaseline(span=9, warmup=3)
    baseline.add(1.0)
    baseline.add(1.0)
    assert baseline.estimate() is None
    for _ in range(200):
        baseline.add(1.0)
        baseline.add(3.0)
    estimate = baseline.estimate()
    assert estimate is not None
    assert estimate.center == pytest.approx(2.0, abs=0.25)
    assert estimate.scale == pytest.approx(1.0, abs=0.2)


# --- the rule -----------------------------------------------------------------------------------


def calm(n: int, ts0: int = 0) -> list[SampleInput]:
    """Spread 1 bp +-1%, depth 1e6 +-2% (deterministic wiggle), balanced book."""
    return [
        SampleInput(ts0 + i, 1.0 + 0.01 * math.sin(i), 1e6 * (1 + 0.02 * math.cos(i * 1.3)), 0.0)
        for i in range(n)
    ]


def crunch(n: int, ts0: int, imbalance: float = 0.0) -> list[SampleInput]:
    return [SampleInput(ts0 + i, 10.0, 1e5, imbalance) for i in range(n)]


def run(detector: CrunchDetector, samples: list[SampleInput]) -> list[object]:
    return [event for sample in samples if (event := detector.step(sample)[1]) is not None]


def test_fires_on_the_nth_breach_and_ends_after_m_calm_samples() -> None:
    detector = CrunchDetector(SMALL)
    events = run(detector, calm(40))
    assert events == []
    verdicts = [detector.step(s) for s in crunch(3, 40)]
    assert [event for _, event in verdicts[:2]] == [None, None]
    started = verdicts[2][1]
    assert isinstance(started, CrunchStarted)
    assert started.started_ts == 40
    assert started.ts == 42
    assert [v.ts for v in started.evidence] == [40, 41, 42]
    assert all(v.breach for v in started.evidence)
    assert started.severity is Severity.HIGH  # min(18, 23) / 3 = 6
    assert run(detector, crunch(5, 43)) == []
    ended = run(detector, calm(2, 48))
    assert len(ended) == 1
    assert isinstance(ended[0], CrunchEnded)
    assert ended[0].started_ts == 40
    assert ended[0].ended_ts == 48
    assert ended[0].ts == 49
    assert ended[0].duration_ns == 8
    assert ended[0].samples == 10
    assert not detector.active


def test_nothing_fires_before_warmup() -> None:
    detector = CrunchDetector(SMALL)
    verdicts = [detector.step(s) for s in calm(5) + crunch(14, 5)]
    assert [event for _, event in verdicts] == [None] * 19
    assert not any(verdict.warm or verdict.breach for verdict, _ in verdicts)


def test_a_streak_shorter_than_n_does_not_fire() -> None:
    detector = CrunchDetector(SMALL)
    samples = calm(40) + crunch(2, 40) + calm(1, 42) + crunch(2, 43) + calm(5, 45)
    assert run(detector, samples) == []


def test_spread_alone_or_depth_alone_does_not_fire() -> None:
    wide = [SampleInput(40 + i, 10.0, 1e6, 0.0) for i in range(10)]
    thin = [SampleInput(40 + i, 1.0, 1e5, 0.0) for i in range(10)]
    assert run(CrunchDetector(SMALL), calm(40) + wide) == []
    assert run(CrunchDetector(SMALL), calm(40) + thin) == []


def test_an_empty_side_counts_as_a_spread_breach() -> None:
    drained = [SampleInput(40 + i, None, 1e5, 1.0) for i in range(3)]
    events = run(CrunchDetector(SMALL), calm(40) + drained)
    assert len(events) == 1
    assert isinstance(events[0], CrunchStarted)
    assert events[0].evidence[0].spread_z is None


def test_severity_grows_with_one_sided_books() -> None:
    balanced = run(CrunchDetector(SMALL), calm(40) + crunch(3, 40, imbalance=0.0))
    one_sided = run(CrunchDetector(SMALL), calm(40) + crunch(3, 40, imbalance=-1.0))
    assert isinstance(balanced[0], CrunchStarted)
    assert isinstance(one_sided[0], CrunchStarted)
    assert one_sided[0].score == pytest.approx(2 * balanced[0].score)
    assert [severity_of(x) for x in (1.0, 2.0, 4.0, 8.0)] == list(Severity)


def test_cusum_depth_test_and_ewma_baseline_also_fire() -> None:
    for config in (replace(SMALL, depth_test="cusum"), replace(SMALL, method="ewma", ewma_span=30)):
        events = run(CrunchDetector(config), calm(40) + crunch(6, 40) + calm(30, 46))
        kinds = [type(e) for e in events]
        assert kinds == [CrunchStarted, CrunchEnded], config


def test_cusum_accumulates_small_persistent_drops() -> None:
    config = replace(SMALL, depth_test="cusum", log_depth_floor=0.1, cusum_drift=0.5, cusum_threshold=4.0)
    detector = CrunchDetector(config)
    run(detector, calm(40))
    # 25% less depth: about -2.9 sigmas a sample, never below -k on its own, but it adds up.
    verdicts = [detector.step(SampleInput(40 + i, 10.0, 0.75e6, 0.0))[0] for i in range(4)]
    assert all(v.depth_z is not None and v.depth_z > -config.k for v in verdicts)
    assert verdicts[-1].depth_breach


def test_the_baseline_never_contains_the_sample_it_judges() -> None:
    detector = CrunchDetector(SMALL)
    run(detector, calm(30))
    before = detector.spread.estimate()
    verdict, _ = detector.step(SampleInput(30, 1e9, 1.0, 0.0))
    assert verdict.spread_baseline == before
    assert verdict.spread_z is not None
    assert verdict.spread_z > 1e6


# --- no look-ahead ------------------------------------------------------------------------------

spreads = st.one_of(st.none(), st.floats(min_value=0.01, max_value=50.0))
depths = st.floats(min_value=0.0, max_value=1e9)
imbalances = st.one_of(st.none(), st.floats(min_value=-1.0, max_value=1.0))
samples_strategy = st.lists(st.tuples(spreads, depths, imbalances), min_size=0, max_size=120)


def as_samples(raw: list[tuple[float | None, float, float | None]], ts0: int = 0) -> list[SampleInput]:
    return [SampleInput(ts0 + i, s, d, b) for i, (s, d, b) in enumerate(raw)]


configs = st.sampled_from(
    [
        replace(SMALL, warmup=5, window=20, sustain=2, end_after=2),
        replace(SMALL, warmup=5, window=20, depth_test="cusum"),
        replace(SMALL, warmup=5, method="ewma", ewma_span=10),
        replace(SMALL, warmup=1, window=1, sustain=1, end_after=1, k=0.5),
    ]
)


@settings(max_examples=150, deadline=None)
@given(config=configs, prefix=samples_strategy, future=samples_strategy)
def test_appending_future_samples_never_changes_an_earlier_verdict(
    config: DetectorConfig,
    prefix: list[tuple[float | None, float, float | None]],
    future: list[tuple[float | None, float, float | None]],
) -> None:
    """Run the rule on a history, then on the same history followed by any future: every verdict and
    every event of the history is identical in both runs."""
    history = as_samples(prefix)
    alone = CrunchDetector(config)
    first = [alone.step(s) for s in history]
    extended = CrunchDetector(config)
    second = [extended.step(s) for s in history + as_samples(future, ts0=len(prefix))]
    assert second[: len(first)] == first


@settings(max_examples=100, deadline=None)
@given(prefix=samples_strategy, future=samples_strategy, other_future=samples_strategy)
def test_two_different_futures_agree_on_the_past(
    prefix: list[tuple[float | None, float, float | None]],
    future: list[tuple[float | None, float, float | None]],
    other_future: list[tuple[float | None, float, float | None]],
) -> None:
    config = replace(SMALL, warmup=5, window=20, sustain=2, end_after=2)
    a, b = CrunchDetector(config), CrunchDetector(config)
    n = len(prefix)
    run_a = [a.step(s) for s in as_samples(prefix + future)]
    run_b = [b.step(s) for s in as_samples(prefix + other_future)]
    assert run_a[:n] == run_b[:n]


@given(st.lists(st.floats(min_value=-1e3, max_value=1e3, allow_subnormal=False), min_size=1, max_size=60))
def test_the_fast_mad_is_the_median_of_absolute_deviations(values: list[float]) -> None:
    from services.liquidity.core.baseline import _median_absolute_deviation

    ordered = sorted(values)
    median = statistics.median(ordered)
    assert _median_absolute_deviation(ordered, median) == statistics.median(abs(x - median) for x in ordered)
    # Also with values repeated, the case of a spread pinned at one tick.
    pinned = sorted(ordered + [median] * len(ordered))
    assert _median_absolute_deviation(pinned, statistics.median(pinned)) == statistics.median(
        abs(x - statistics.median(pinned)) for x in pinned
    )
