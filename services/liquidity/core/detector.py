"""The liquidity-crunch rule for one book: spread up AND depth near the mid down, sustained.

Per sample, against baselines of the samples strictly before it (``baseline.py``):

- ``spread_z``: robust z-score of the quoted spread in bps;
- ``depth_z``: robust z-score of ``log(1 + notional)`` resting within ``band_bps`` of the mid,
  both sides together (log: depth is multiplicative, a halving is a halving at any size);
- a sample is a *breach* when ``spread_z > k`` and ``depth_z < -k`` (with ``depth_test="cusum"``
  the depth half is a one-sided CUSUM alarm on ``-depth_z`` instead). A book with an empty side has
  no spread: that counts as a spread breach (a side emptying is the extreme crunch).

A crunch *starts* at the ``sustain``-th consecutive breach (N) and *ends* once ``end_after``
consecutive samples (M) are back inside the bounds (``spread_z <= k`` and ``depth_z >= -k``).
Nothing can breach before both baselines are warm.

Severity: ``score = min(spread_z, -depth_z) / k * (1 + |imbalance|)``: how many times past the
threshold the weaker of the two signals went, doubled when all the remaining size sits on one
side. It is at least 1 when the rule fires; low < 2 <= medium < 4 <= high < 8 <= critical.

Every verdict depends only on the samples up to it: the state machine never revisits one.
"""

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from services.liquidity.core.baseline import Baseline, BaselineMethod, EwmaBaseline, RobustBaseline

DepthTest = Literal["zscore", "cusum"]


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


def severity_of(score: float) -> Severity:
    if score >= 8:
        return Severity.CRITICAL
    if score >= 4:
        return Severity.HIGH
    if score >= 2:
        return Severity.MEDIUM
    return Severity.LOW


@dataclass(frozen=True, slots=True)
class DetectorConfig:
    k: float = 3.0
    """z-score threshold, both signals."""
    band_bps: int = 10
    """X: the depth band the rule watches (one of the sampled bands)."""
    sustain: int = 3
    """N: consecutive breaching samples before a crunch starts."""
    end_after: int = 5
    """M: consecutive samples back inside the bounds before it ends."""
    method: BaselineMethod = "median"
    window: int = 300
    """Median/MAD: samples in the rolling window."""
    ewma_span: int = 120
    warmup: int = 60
    """Samples both baselines need before anything can fire."""
    spread_floor_rel: float = 0.5
    """Spread scale floor, as a fraction of the baseline spread (tick-pinned spreads have MAD 0)."""
    spread_floor_bps: float = 0.001
    log_depth_floor: float = 0.1
    """Log-depth scale floor (0.1: a 10% depth change is at most one sigma)."""
    depth_test: DepthTest = "zscore"
    cusum_drift: float = 0.5
    """CUSUM reference value, in sigmas: drops smaller than this never accumulate."""
    cusum_threshold: float = 5.0
    """CUSUM decision interval h, in sigmas."""

    def __post_init__(self) -> None:
        if self.k <= 0 or self.sustain < 1 or self.end_after < 1:
            raise ValueError("need k > 0, sustain >= 1 and end_after >= 1")
        if not 1 <= self.warmup <= self.window and self.method == "median":
            raise ValueError("need 1 <= warmup <= window")

    def new_baseline(self, *, floor_rel: float, floor_abs: float) -> RobustBaseline | EwmaBaseline:
        if self.method == "median":
            return RobustBaseline(self.window, self.warmup, floor_rel=floor_rel, floor_abs=floor_abs)
        return EwmaBaseline(
            self.ewma_span, self.warmup, floor_rel=floor_rel, floor_abs=floor_abs, clip=self.k
        )


@dataclass(frozen=True, slots=True)
class SampleInput:
    """What the rule reads from one metrics sample."""

    ts: int
    spread_bps: float | None
    """None when a side is empty."""
    depth_notional: float
    """Quote notional within ``band_bps`` of the mid, both sides."""
    imbalance: float | None


@dataclass(frozen=True, slots=True)
class Verdict:
    """The rule's reading of one sample: values, baselines, z-scores, and the outcome."""

    ts: int
    spread_bps: float | None
    log_depth: float
    depth_notional: float
    imbalance: float | None
    spread_baseline: Baseline | None
    depth_baseline: Baseline | None
    spread_z: float | None
    depth_z: float | None
    cusum: float
    spread_breach: bool
    depth_breach: bool
    score: float

    @property
    def warm(self) -> bool:
        return self.spread_baseline is not None and self.depth_baseline is not None

    @property
    def breach(self) -> bool:
        return self.spread_breach and self.depth_breach


@dataclass(frozen=True, slots=True)
class CrunchStarted:
    started_ts: int
    """First sample of the streak that met the rule."""
    ts: int
    """The sample that completed the streak (when the crunch is declared)."""
    evidence: tuple[Verdict, ...]
    score: float
    severity: Severity


@dataclass(frozen=True, slots=True)
class CrunchEnded:
    started_ts: int
    ended_ts: int
    """First of the ``end_after`` samples back inside the bounds."""
    ts: int
    """The sample that completed the calm streak (when the end is declared)."""
    evidence: tuple[Verdict, ...]
    """The samples back inside the bounds."""
    peak_score: float
    severity: Severity
    """From the peak score over the whole crunch."""
    peak_spread_z: float | None
    peak_depth_z: float | None
    samples: int
    """Samples from the start of the streak to the end declaration."""

    @property
    def duration_ns(self) -> int:
        return self.ended_ts - self.started_ts


CrunchEvent = CrunchStarted | CrunchEnded


@dataclass
class _Ongoing:
    started_ts: int
    samples: int
    peak_score: float
    peak_spread_z: float | None
    peak_depth_z: float | None
    calm: list[Verdict] = field(default_factory=list)


class CrunchDetector:
    """The state machine of one book. ``step`` once per sample, in sample order."""

    def __init__(self, config: DetectorConfig) -> None:
        self.config = config
        self.spread = config.new_baseline(
            floor_rel=config.spread_floor_rel, floor_abs=config.spread_floor_bps
        )
        self.log_depth = config.new_baseline(floor_rel=0.0, floor_abs=config.log_depth_floor)
        self.cusum = 0.0
        self.streak: list[Verdict] = []
        self.ongoing: _Ongoing | None = None

    @property
    def active(self) -> bool:
        return self.ongoing is not None

    def judge(self, sample: SampleInput) -> Verdict:
        """Score a sample against the baselines as they are now, then fold it into them."""
        cfg = self.config
        log_depth = math.log1p(max(sample.depth_notional, 0.0))
        spread_base = self.spread.estimate()
        depth_base = self.log_depth.estimate()
        spread_z = (
            spread_base.z(sample.spread_bps)
            if spread_base is not None and sample.spread_bps is not None
            else None
        )
        depth_z = depth_base.z(log_depth) if depth_base is not None else None
        warm = spread_base is not None and depth_base is not None
        if depth_z is not None:
            self.cusum = max(0.0, self.cusum - depth_z - cfg.cusum_drift)
        spread_breach = warm and (sample.spread_bps is None or (spread_z is not None and spread_z > cfg.k))
        if cfg.depth_test == "cusum":
            depth_breach = warm and self.cusum > cfg.cusum_threshold
        else:
            depth_breach = warm and depth_z is not None and depth_z < -cfg.k
        score = 0.0
        if warm and depth_z is not None:
            spread_part = spread_z if spread_z is not None else -depth_z
            score = min(spread_part, -depth_z) / cfg.k * (1 + abs(sample.imbalance or 0.0))
        if sample.spread_bps is not None:
            self.spread.add(sample.spread_bps)
        self.log_depth.add(log_depth)
        return Verdict(
            ts=sample.ts,
            spread_bps=sample.spread_bps,
            log_depth=log_depth,
            depth_notional=sample.depth_notional,
            imbalance=sample.imbalance,
            spread_baseline=spread_base,
            depth_baseline=depth_base,
            spread_z=spread_z,
            depth_z=depth_z,
            cusum=self.cusum,
            spread_breach=spread_breach,
            depth_breach=depth_breach,
            score=max(score, 0.0),
        )

    def _inside(self, verdict: Verdict) -> bool:
        k = self.config.k
        return (
            verdict.spread_z is not None
            and verdict.spread_z <= k
            and verdict.depth_z is not None
            and verdict.depth_z >= -k
        )

    def step(self, sample: SampleInput) -> tuple[Verdict, CrunchEvent | None]:
        verdict = self.judge(sample)
        cfg = self.config
        ongoing = self.ongoing
        if ongoing is None:
            if not verdict.breach:
                self.streak.clear()
                return verdict, None
            self.streak.append(verdict)
            if len(self.streak) < cfg.sustain:
                return verdict, None
            evidence = tuple(self.streak)
            self.streak.clear()
            score = max(v.score for v in evidence)
            self.ongoing = _Ongoing(
                started_ts=evidence[0].ts,
                samples=len(evidence),
                peak_score=score,
                peak_spread_z=_peak(evidence, high=True),
                peak_depth_z=_peak(evidence, high=False),
            )
            return verdict, CrunchStarted(evidence[0].ts, verdict.ts, evidence, score, severity_of(score))
        ongoing.samples += 1
        ongoing.peak_score = max(ongoing.peak_score, verdict.score)
        ongoing.peak_spread_z = _max_or(ongoing.peak_spread_z, verdict.spread_z)
        if verdict.depth_z is not None:
            current = ongoing.peak_depth_z
            ongoing.peak_depth_z = verdict.depth_z if current is None else min(current, verdict.depth_z)
        if not self._inside(verdict):
            ongoing.calm.clear()
            return verdict, None
        ongoing.calm.append(verdict)
        if len(ongoing.calm) < cfg.end_after:
            return verdict, None
        calm = tuple(ongoing.calm)
        self.ongoing = None
        self.cusum = 0.0  # an alarm that has been resolved must not re-fire on its own tail
        return verdict, CrunchEnded(
            started_ts=ongoing.started_ts,
            ended_ts=calm[0].ts,
            ts=verdict.ts,
            evidence=calm,
            peak_score=ongoing.peak_score,
            severity=severity_of(ongoing.peak_score),
            peak_spread_z=ongoing.peak_spread_z,
            peak_depth_z=ongoing.peak_depth_z,
            samples=ongoing.samples,
        )


def _max_or(current: float | None, value: float | None) -> float | None:
    if value is None:
        return current
    return value if current is None else max(current, value)


def _peak(verdicts: tuple[Verdict, ...], *, high: bool) -> float | None:
    values = [v.spread_z if high else v.depth_z for v in verdicts]
    present = [v for v in values if v is not None]
    if not present:
        return None
    return max(present) if high else min(present)
