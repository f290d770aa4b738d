"""Windows of history, what is still missing, and how a venue's page limit cuts them.

All times are integer nanoseconds since the epoch and every window is half open,
``[start_ns, end_ns)``. Nothing here does I/O or reads a clock: the caller passes ``now_ns``.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

NS_PER_S = 1_000_000_000
NS_PER_MS = 1_000_000


class What(StrEnum):
    KLINES = "klines"
    FUNDING = "funding"
    OI = "oi"


@dataclass(frozen=True, order=True)
class Window:
    """``[start_ns, end_ns)``."""

    start_ns: int
    end_ns: int

    def __post_init__(self) -> None:
        if self.end_ns <= self.start_ns:
            raise ValueError(f"empty window [{self.start_ns}, {self.end_ns})")

    @property
    def span_ns(self) -> int:
        return self.end_ns - self.start_ns

    def contains(self, ts_ns: int) -> bool:
        return self.start_ns <= ts_ns < self.end_ns


def merged(windows: Iterable[Window]) -> list[Window]:
    """The union of ``windows`` as sorted, disjoint, non-touching windows."""
    result: list[Window] = []
    for window in sorted(windows):
        if result and window.start_ns <= result[-1].end_ns:
            last = result[-1]
            result[-1] = Window(last.start_ns, max(last.end_ns, window.end_ns))
        else:
            result.append(window)
    return result


def missing(requested: Window, covered: Iterable[Window]) -> list[Window]:
    """The parts of ``requested`` that no covered window contains, in time order."""
    gaps: list[Window] = []
    cursor = requested.start_ns
    for window in merged(covered):
        if window.end_ns <= cursor:
            continue
        if window.start_ns >= requested.end_ns:
            break
        if window.start_ns > cursor:
            gaps.append(Window(cursor, window.start_ns))
        cursor = max(cursor, window.end_ns)
        if cursor >= requested.end_ns:
            break
    if cursor < requested.end_ns:
        gaps.append(Window(cursor, requested.end_ns))
    return gaps


def aligned(requested: Window, step_ns: int, now_ns: int) -> Window | None:
    """``requested`` cut to whole steps that have ended by ``now_ns``.

    A kline with open time ``t`` covers ``[t, t + step)``: only bars that lie wholly inside the
    request and are closed are fetched, so a forming bar is never stored as if it were final.
    Funding and OI records are points; the same cut keeps their windows on the venue's grid.
    """
    if step_ns <= 0:
        raise ValueError("step must be positive")
    start = -(-requested.start_ns // step_ns) * step_ns  # ceil: the first whole step
    end = min(requested.end_ns, now_ns) // step_ns * step_ns
    return Window(start, end) if end > start else None


def pages(windows: Iterable[Window], span_ns: int) -> list[Window]:
    """Each window cut into consecutive pages of at most ``span_ns``.

    ``span_ns`` is what one request returns in full (page limit x record spacing), so every page
    is complete when it is answered and may be marked covered on its own.
    """
    if span_ns <= 0:
        raise ValueError("page span must be positive")
    result: list[Window] = []
    for window in windows:
        start = window.start_ns
        while start < window.end_ns:
            end = min(window.end_ns, start + span_ns)
            result.append(Window(start, end))
            start = end
    return result


def plan(
    requested: Window, covered: Iterable[Window], *, step_ns: int, span_ns: int, now_ns: int
) -> list[Window]:
    """The pages a (re)run still has to fetch: aligned, minus what is covered, cut to the page span."""
    window = aligned(requested, step_ns, now_ns)
    if window is None:
        return []
    return pages(missing(window, covered), span_ns)


def parse_interval(text: str) -> int:
    """``1m``, ``5m``, ``1h``, ``4h``, ``1d`` -> seconds."""
    units = {"m": 60, "h": 3600, "d": 86400}
    text = text.strip().lower()
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit() or int(text[:-1]) <= 0:
        raise ValueError(f"interval must look like 1m, 5m, 1h or 1d, not {text!r}")
    return int(text[:-1]) * units[text[-1]]


def interval_name(seconds: int) -> str:
    """60 -> ``1m``, 3600 -> ``1h``, 86400 -> ``1d``."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
