"""Rolling baselines of one metric, built only from samples strictly before the one being judged.

The caller always asks ``estimate()`` first and ``add(x)`` second, so the sample being scored
never sits in its own baseline (no look-ahead, and an outlier cannot hide itself).

- ``RobustBaseline``: median and MAD of the last ``window`` samples. Robust: a crunch that fills
  less than half the window moves neither, so the crunch is measured against the calm market.
- ``EwmaBaseline``: exponentially weighted mean and standard deviation (span ``span``), cheaper
  and smoother. Once warm, each new value is clipped to ``clip`` scales around the mean before it
  is folded in (a winsorised EWMA): unclipped, the first sample of a crunch would blow the variance
  up and hide the rest of the crunch from the z-score.

Both return ``None`` until ``warmup`` samples have been seen: nothing may fire on a baseline
made of a handful of samples.

The scale is floored: a quoted spread pinned at one tick has a MAD of exactly zero, and the next
two-tick spread would otherwise be infinitely many deviations away. ``floor_rel`` (a fraction of
the baseline's own level) and ``floor_abs`` (in the metric's units) keep the z-score meaningful.
"""

import math
from bisect import bisect_left, insort
from collections import deque
from dataclasses import dataclass
from typing import Literal, Protocol

MAD_TO_SIGMA = 1.4826
"""MAD x 1.4826 estimates the standard deviation of normal data, so z-scores read like sigmas."""

BaselineMethod = Literal["median", "ewma"]


@dataclass(frozen=True, slots=True)
class Baseline:
    center: float
    scale: float
    """Always > 0 (floored)."""
    count: int
    """Samples the baseline is made of."""

    def z(self, value: float) -> float:
        return (value - self.center) / self.scale


class RollingBaseline(Protocol):
    def estimate(self) -> Baseline | None: ...

    def add(self, value: float) -> None: ...


def _floored(center: float, spread: float, floor_rel: float, floor_abs: float) -> float:
    return max(spread, floor_rel * abs(center), floor_abs, 1e-12)


class RobustBaseline:
    def __init__(self, window: int, warmup: int, *, floor_rel: float = 0.0, floor_abs: float = 0.0) -> None:
        if window < 1 or not 1 <= warmup <= window:
            raise ValueError("need 1 <= warmup <= window")
        self.window = window
        self.warmup = warmup
        self.floor_rel = floor_rel
        self.floor_abs = floor_abs
        self._order: deque[float] = deque()
        self._sorted: list[float] = []

    def __len__(self) -> int:
        return len(self._order)

    def add(self, value: float) -> None:
        self._order.append(value)
        insort(self._sorted, value)
        if len(self._order) > self.window:
            oldest = self._order.popleft()
            del self._sorted[bisect_left(self._sorted, oldest)]

    def estimate(self) -> Baseline | None:
        count = len(self._sorted)
        if count < self.warmup:
            return None
        median = _median(self._sorted)
        mad = _median_absolute_deviation(self._sorted, median)
        return Baseline(median, _floored(median, MAD_TO_SIGMA * mad, self.floor_rel, self.floor_abs), count)

    def values(self) -> list[float]:
        """The window, oldest first (for checkpoints and tests)."""
        return list(self._order)


class EwmaBaseline:
    def __init__(
        self, span: int, warmup: int, *, floor_rel: float = 0.0, floor_abs: float = 0.0, clip: float = 3.0
    ) -> None:
        if span < 1 or warmup < 1 or clip <= 0:
            raise ValueError("need span >= 1, warmup >= 1 and clip > 0")
        self.alpha = 2.0 / (span + 1)
        self.clip = clip
        self.warmup = warmup
        self.floor_rel = floor_rel
        self.floor_abs = floor_abs
        self.count = 0
        self.mean = 0.0
        self.variance = 0.0

    def add(self, value: float) -> None:
        estimate = self.estimate()
        if estimate is not None:
            reach = self.clip * estimate.scale
            value = min(max(value, estimate.center - reach), estimate.center + reach)
        self.count += 1
        if self.count == 1:
            self.mean = value
            return
        # West's incremental form: the variance update uses the deviation before the mean moves.
        delta = value - self.mean
        self.mean += self.alpha * delta
        self.variance = (1 - self.alpha) * (self.variance + self.alpha * delta * delta)

    def estimate(self) -> Baseline | None:
        if self.count < self.warmup:
            return None
        scale = _floored(self.mean, math.sqrt(self.variance), self.floor_rel, self.floor_abs)
        return Baseline(self.mean, scale, self.count)


def _median(ordered: list[float]) -> float:
    n = len(ordered)
    middle = n // 2
    if n % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def _median_absolute_deviation(ordered: list[float], median: float) -> float:
    """Median of |x - median| over a sorted list, in O(log n) instead of a sort per sample.

    The deviations are two sorted runs without building them: left of the median, read right to
    left (``median - x`` grows), and right of it, read left to right (``x - median`` grows). The
    middle order statistic of two sorted runs is a binary search on how many come from the left.
    """
    n = len(ordered)
    split = bisect_left(ordered, median)
    left_count, right_count = split, n - split

    def left(i: int) -> float:
        return median - ordered[split - 1 - i]

    def right(j: int) -> float:
        return ordered[split + j] - median

    def kth(k: int) -> float:
        lo, hi = max(0, k + 1 - right_count), min(k + 1, left_count)
        while lo < hi:
            i = (lo + hi) // 2
            j = k + 1 - i
            if j > 0 and i < left_count and right(j - 1) > left(i):
                lo = i + 1
            else:
                hi = i
        i = lo
        j = k + 1 - i
        if i == 0:
            return right(j - 1)
        if j == 0:
            return left(i - 1)
        return max(left(i - 1), right(j - 1))

    middle = n // 2
    if n % 2:
        return kth(middle)
    return (kth(middle - 1) + kth(middle)) / 2
