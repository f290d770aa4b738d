"""The pure planning core: windows, what is missing, page cuts, closed bars only."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.backfill.core.plan import (
    Window,
    aligned,
    interval_name,
    merged,
    missing,
    pages,
    parse_interval,
    plan,
)

MIN = 60_000_000_000


def test_missing_is_the_request_minus_the_covered_windows() -> None:
    requested = Window(0, 100)
    covered = [Window(10, 20), Window(15, 30), Window(50, 60), Window(95, 200)]
    assert missing(requested, covered) == [Window(0, 10), Window(30, 50), Window(60, 95)]
    assert missing(requested, []) == [requested]
    assert missing(requested, [Window(-5, 105)]) == []


def test_aligned_keeps_only_whole_closed_bars() -> None:
    # 10:00:30 .. 10:05:10 with 1-minute bars, now 10:04:20: bars 10:01, 10:02, 10:03 only.
    start, end, now = 30 * 10**9, 5 * MIN + 10 * 10**9, 4 * MIN + 20 * 10**9
    assert aligned(Window(start, end), MIN, now) == Window(MIN, 4 * MIN)
    assert aligned(Window(0, 30 * 10**9), MIN, now) is None


def test_pages_cut_at_the_span_and_cover_everything_once() -> None:
    cut = pages([Window(0, 2500 * MIN)], 1500 * MIN)
    assert cut == [Window(0, 1500 * MIN), Window(1500 * MIN, 2500 * MIN)]


def test_plan_after_a_partial_run_fetches_only_the_rest() -> None:
    requested, now = Window(0, 3000 * MIN), 10**20
    first = plan(requested, [], step_ns=MIN, span_ns=1000 * MIN, now_ns=now)
    assert len(first) == 3
    rest = plan(requested, first[:2], step_ns=MIN, span_ns=1000 * MIN, now_ns=now)
    assert rest == [first[2]]
    assert plan(requested, first, step_ns=MIN, span_ns=1000 * MIN, now_ns=now) == []


@given(
    st.lists(st.tuples(st.integers(0, 500), st.integers(1, 100)), max_size=8),
    st.integers(0, 400),
    st.integers(1, 300),
)
def test_missing_and_covered_partition_the_request(
    spans: list[tuple[int, int]], start: int, length: int
) -> None:
    requested = Window(start, start + length)
    covered = [Window(a, a + n) for a, n in spans]
    gaps = missing(requested, covered)
    for t in range(requested.start_ns, requested.end_ns):
        in_gap = any(g.contains(t) for g in gaps)
        in_cover = any(c.contains(t) for c in covered)
        assert in_gap != in_cover
    assert merged(gaps) == gaps


def test_intervals() -> None:
    assert parse_interval("1m") == 60
    assert parse_interval("4h") == 14400
    assert parse_interval("1d") == 86400
    assert interval_name(300) == "5m"
    assert interval_name(3600) == "1h"
    with pytest.raises(ValueError, match="interval must look like"):
        parse_interval("1s")
    with pytest.raises(ValueError, match="empty window"):
        Window(5, 5)
