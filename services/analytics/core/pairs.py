"""Pair analytics on aligned bar closes: hedge ratios, spread, z-score, correlation, cointegration.

Both legs are taken as log prices: y = ln(close a), x = ln(close b). Each statistic that cannot be
computed (window too short, a constant series, collinear legs, a numerical failure) is None with
a reason, never NaN. Closes are aligned by bar start, so the result at a bar depends only on the
two legs' bars up to it, whichever leg's bar arrives first.
"""

import itertools
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

# Relative size under which a variance counts as zero: float noise, not a signal.
_EPS = 1e-12
# Closes of one leg kept while waiting for the other leg's bar at the same start.
MAX_PENDING = 10_000


@dataclass(frozen=True, slots=True)
class OLSFit:
    alpha: float
    beta: float
    residuals: list[float]


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values)


def _is_constant(values: Sequence[float]) -> bool:
    if not values:
        return True
    scale = max(1.0, max(abs(v) for v in values))
    return max(values) - min(values) <= _EPS * scale


def ols(y: Sequence[float], x: Sequence[float]) -> OLSFit | str:
    """y = alpha + beta * x by least squares; a reason string when x is constant."""
    if len(y) != len(x) or len(x) < 3:
        return "too short: OLS needs at least 3 points"
    if _is_constant(x):
        return "constant series: the regressor does not move"
    mx, my = _mean(x), _mean(y)
    sxx = math.fsum((a - mx) ** 2 for a in x)
    sxy = math.fsum((a - mx) * (b - my) for a, b in zip(x, y, strict=True))
    beta = sxy / sxx
    alpha = my - beta * mx
    return OLSFit(alpha, beta, [b - alpha - beta * a for a, b in zip(x, y, strict=True)])


def correlation(a: Sequence[float], b: Sequence[float]) -> float | str:
    if len(a) < 3:
        return "too short: correlation needs at least 3 returns"
    if _is_constant(a) or _is_constant(b):
        return "constant series: a leg's returns do not move"
    ma, mb = _mean(a), _mean(b)
    saa = math.fsum((v - ma) ** 2 for v in a)
    sbb = math.fsum((v - mb) ** 2 for v in b)
    sab = math.fsum((u - ma) * (v - mb) for u, v in zip(a, b, strict=True))
    return max(-1.0, min(1.0, sab / math.sqrt(saa * sbb)))


def half_life(spread: Sequence[float]) -> float | str:
    """Bars for a deviation to halve, from d(s_t) = c + lambda * s_(t-1): ln 2 / -lambda."""
    if len(spread) < 4:
        return "too short: half-life needs at least 4 points"
    fit = ols([b - a for a, b in itertools.pairwise(spread)], spread[:-1])
    if isinstance(fit, str):
        return fit
    if not fit.beta < 0:
        return "not mean-reverting: the spread does not pull back"
    return math.log(2) / -fit.beta


def coint_pvalue(y: Sequence[float], x: Sequence[float]) -> float | str:
    """Engle-Granger p-value from statsmodels ``coint`` (constant, lags chosen by AIC)."""
    try:
        from statsmodels.tsa.stattools import coint
    except ImportError:
        return "unavailable: statsmodels is not installed"
    try:
        _, pvalue, _ = coint(list(y), list(x))
    except Exception as exc:  # statsmodels raises a variety of numerical errors
        return f"numerical failure: {type(exc).__name__}"
    value = float(pvalue)
    return value if math.isfinite(value) else "numerical failure: non-finite p-value"


class KalmanHedge:
    """A random-walk state [alpha, beta] observed through y = alpha + beta * x + noise.

    ``delta`` sets how fast the hedge ratio may drift (state noise delta / (1 - delta) per step);
    ``observation_var`` is the measurement noise. Plain 2x2 arithmetic keeps it dependency-free.
    """

    def __init__(self, delta: float = 1e-4, observation_var: float = 1e-3) -> None:
        self.q = delta / (1.0 - delta)
        self.r = observation_var
        self.alpha = 0.0
        self.beta = 0.0
        # Covariance [[p00, p01], [p01, p11]]; None until the first observation.
        self.p: tuple[float, float, float] | None = None
        self.steps = 0

    def update(self, y: float, x: float) -> float:
        if self.p is None:
            p00, p01, p11 = 1.0, 0.0, 1.0
        else:
            p00, p01, p11 = self.p
            p00 += self.q
            p11 += self.q
        # Observation h = [1, x]; innovation variance s = h P h' + r.
        ph0 = p00 + p01 * x
        ph1 = p01 + p11 * x
        s = ph0 + ph1 * x + self.r
        error = y - (self.alpha + self.beta * x)
        k0, k1 = ph0 / s, ph1 / s
        self.alpha += k0 * error
        self.beta += k1 * error
        self.p = (p00 - k0 * ph0, p01 - k0 * ph1, p11 - k1 * ph1)
        self.steps += 1
        return self.beta

    def to_state(self) -> list[Any]:
        return [self.alpha, self.beta, None if self.p is None else list(self.p), self.steps]

    def restore(self, state: list[Any]) -> None:
        self.alpha, self.beta = float(state[0]), float(state[1])
        self.p = None if state[2] is None else (float(state[2][0]), float(state[2][1]), float(state[2][2]))
        self.steps = int(state[3])


@dataclass(slots=True)
class PairResult:
    start_ns: int
    close_a: Decimal
    close_b: Decimal
    observations: int
    ols_beta: float | None = None
    ols_alpha: float | None = None
    kalman_beta: float | None = None
    spread: float | None = None
    spread_z: float | None = None
    correlation: float | None = None
    coint_pvalue: float | None = None
    half_life_bars: float | None = None
    null_reasons: dict[str, str] = field(default_factory=dict)


def pair_statistics(
    y: Sequence[float], x: Sequence[float], *, min_observations: int, with_coint: bool = True
) -> dict[str, float | str]:
    """Every rolling statistic of one window: a float, or the reason it is missing."""
    stats: dict[str, float | str] = {}
    n = len(y)
    if n < min_observations:
        reason = f"too short: {n} aligned closes, {min_observations} needed"
        return dict.fromkeys(
            ("ols_beta", "ols_alpha", "spread", "spread_z", "correlation", "coint_pvalue", "half_life_bars"),
            reason,
        )
    constant = (
        "constant series: leg a does not move"
        if _is_constant(y)
        else "constant series: leg b does not move"
        if _is_constant(x)
        else ""
    )
    returns_y = [b - a for a, b in itertools.pairwise(y)]
    returns_x = [b - a for a, b in itertools.pairwise(x)]
    stats["correlation"] = constant or correlation(returns_y, returns_x)
    fit = constant or ols(y, x)
    if isinstance(fit, str):
        for name in ("ols_beta", "ols_alpha", "spread", "spread_z", "coint_pvalue", "half_life_bars"):
            stats[name] = fit
        return stats
    stats["ols_beta"], stats["ols_alpha"] = fit.beta, fit.alpha
    spread = fit.residuals
    stats["spread"] = spread[-1]
    scale = max(1.0, max(abs(v) for v in y))
    if max(abs(v) for v in spread) <= 1e-10 * scale:
        collinear = "collinear inputs: the legs are an exact linear function of each other"
        for name in ("spread_z", "coint_pvalue", "half_life_bars"):
            stats[name] = collinear
        return stats
    mean = _mean(spread)
    std = math.sqrt(math.fsum((s - mean) ** 2 for s in spread) / (n - 1))
    stats["spread_z"] = (spread[-1] - mean) / std
    stats["half_life_bars"] = half_life(spread)
    stats["coint_pvalue"] = coint_pvalue(y, x) if with_coint else "disabled"
    return stats


class PairTracker:
    """One configured pair: aligns the legs' bar closes and computes statistics on each."""

    def __init__(
        self,
        window: int,
        *,
        min_observations: int = 30,
        with_coint: bool = True,
        kalman_delta: float = 1e-4,
        kalman_observation_var: float = 1e-3,
    ) -> None:
        if window < 3:
            raise ValueError("pair window must be at least 3")
        self.window = window
        self.min_observations = min(min_observations, window)
        self.with_coint = with_coint
        self.pending: tuple[dict[int, Decimal], dict[int, Decimal]] = ({}, {})
        self.last_aligned: int | None = None
        self.y: deque[float] = deque(maxlen=window)
        self.x: deque[float] = deque(maxlen=window)
        self.kalman = KalmanHedge(kalman_delta, kalman_observation_var)

    def on_close(self, leg: int, start_ns: int, close: Decimal) -> list[PairResult]:
        """A final bar close of leg 0 (a) or 1 (b); returns the results of the starts now aligned."""
        if self.last_aligned is not None and start_ns <= self.last_aligned:
            return []
        mine = self.pending[leg]
        mine[start_ns] = close
        if len(mine) > MAX_PENDING:  # the other leg is silent (or served elsewhere): keep the newest
            del mine[min(mine)]
        other = self.pending[1 - leg]
        if start_ns not in other:
            return []
        a, b = self.pending
        results = []
        for start in sorted(s for s in a if s <= start_ns and s in b):
            results.append(self._aligned(start, a[start], b[start]))
        # Anything older than the aligned start can never align: one leg skipped it.
        for side in self.pending:
            for start in [s for s in side if s <= start_ns]:
                del side[start]
        return results

    def _aligned(self, start_ns: int, close_a: Decimal, close_b: Decimal) -> PairResult:
        self.last_aligned = start_ns
        y, x = math.log(close_a), math.log(close_b)
        self.y.append(y)
        self.x.append(x)
        result = PairResult(start_ns, close_a, close_b, len(self.y))
        result.kalman_beta = self.kalman.update(y, x)
        stats = pair_statistics(
            list(self.y), list(self.x), min_observations=self.min_observations, with_coint=self.with_coint
        )
        for name, value in stats.items():
            if isinstance(value, str):
                result.null_reasons[name] = value
            else:
                setattr(result, name, value)
        return result

    def to_state(self) -> dict[str, Any]:
        return {
            "pending": [[[s, str(c)] for s, c in side.items()] for side in self.pending],
            "last_aligned": self.last_aligned,
            "y": list(self.y),
            "x": list(self.x),
            "kalman": self.kalman.to_state(),
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.pending = tuple({int(s): Decimal(c) for s, c in side} for side in state["pending"])  # type: ignore[assignment]
        self.last_aligned = state["last_aligned"]
        self.y = deque(state["y"], maxlen=self.window)
        self.x = deque(state["x"], maxlen=self.window)
        self.kalman.restore(state["kalman"])
