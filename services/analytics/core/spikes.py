"""Spike detection: the z-score of a bar's metric against the bars before it.

The baseline is a rolling window of the previous ``window`` values; the current value is scored
first and only then joins the baseline, so a bar is never in its own baseline and appending later
bars can never change an earlier verdict.
"""

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any


@dataclass(frozen=True, slots=True)
class Score:
    value: float
    mean: float
    std: float
    z: float
    window: int


class RollingZ:
    """Scores each new value against the last ``window`` values (sample std, ddof = 1)."""

    def __init__(self, window: int, *, min_baseline: int = 20) -> None:
        if window < 2:
            raise ValueError("a baseline needs at least 2 values")
        self.window = window
        self.min_baseline = max(2, min(min_baseline, window))
        self.values: deque[float] = deque(maxlen=window)

    def score(self, value: float) -> Score | None:
        """The score of ``value`` (None while the baseline is too short or constant); then keep it."""
        result = None
        n = len(self.values)
        if n >= self.min_baseline and math.isfinite(value):
            mean = math.fsum(self.values) / n
            variance = math.fsum((v - mean) ** 2 for v in self.values) / (n - 1)
            std = math.sqrt(variance)
            # A near-constant baseline would turn float noise into huge z: no verdict then.
            if std > 1e-12 * max(1.0, abs(mean)):
                result = Score(value, mean, std, (value - mean) / std, n)
        if math.isfinite(value):
            self.values.append(value)
        return result

    def to_state(self) -> list[float]:
        return list(self.values)

    def restore(self, values: Iterable[float]) -> None:
        self.values = deque(values, maxlen=self.window)


@dataclass(frozen=True, slots=True)
class OIBar:
    """Open interest of one closed bucket: its last observation and the change since the previous."""

    start_ns: int
    interval_ns: int
    last: Decimal
    change: Decimal


class OpenInterestBars:
    """Open interest cut into event-time buckets by its own observations.

    A bucket closes when the first observation of a later bucket arrives (OI is polled or pushed
    on its own topic, so only its own timestamps can cut it deterministically). The change is
    measured from the previous *observed* bucket's last value; buckets without observations are
    skipped. An observation older than the open bucket is late and is reported, not applied.
    """

    def __init__(self, interval_ns: int) -> None:
        self.interval_ns = interval_ns
        self.start: int | None = None
        self.last_ts = -1
        self.last: Decimal | None = None
        self.previous: Decimal | None = None

    def observe(self, ts: int, open_interest: Decimal) -> tuple[OIBar | None, bool]:
        """(the bucket this observation closed, or None; False when the observation is late)."""
        start = ts - ts % self.interval_ns
        if self.start is not None and start < self.start:
            return None, False
        closed = None
        if self.start is not None and start > self.start and self.last is not None:
            if self.previous is not None:
                closed = OIBar(self.start, self.interval_ns, self.last, self.last - self.previous)
            self.previous = self.last
            self.last = None
            self.last_ts = -1
        self.start = start
        if ts >= self.last_ts:
            self.last = open_interest
            self.last_ts = ts
        return closed, True

    def to_state(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "last_ts": self.last_ts,
            "last": None if self.last is None else str(self.last),
            "previous": None if self.previous is None else str(self.previous),
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.start = state["start"]
        self.last_ts = int(state["last_ts"])
        self.last = None if state["last"] is None else Decimal(state["last"])
        self.previous = None if state["previous"] is None else Decimal(state["previous"])


def log_volume(volume: Decimal) -> float | None:
    """ln(volume) of a bar with trades; None for an empty bar (no verdict, not in the baseline)."""
    return math.log(volume) if volume > 0 else None


def fires_volume(score: Score, threshold: float) -> bool:
    return score.z >= threshold


def fires_oi(score: Score, threshold: float) -> bool:
    return abs(score.z) >= threshold
