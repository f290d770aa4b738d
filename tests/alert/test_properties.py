"""Properties of the state machine on random streams of samples, against the rule's definition."""

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.alert import AlertNotification, AlertStatus, duration_ns
from tests.alert.events import T0, S, candle, engine, rule

# Strictly increasing sample times (whole seconds) with closes around the threshold of 100.
samples = st.lists(
    st.tuples(st.integers(min_value=1, max_value=20), st.sampled_from([95, 99, 100, 101, 105])),
    min_size=1,
    max_size=60,
).map(lambda steps: [(sum(gap for gap, _ in steps[: i + 1]), close) for i, (_, close) in enumerate(steps)])
durations = st.sampled_from(["0s", "5s", "10s", "30s"])


def feed(closes: list[tuple[int, int]], **fields: object) -> list[AlertNotification]:
    eng = engine(rule(**fields))
    notes: list[AlertNotification] = []
    for seconds, close in closes:
        notes += eng.on_event("md.candles.v1", candle(seconds, close))
    return notes


def held_at(closes: list[tuple[int, int]], t_ns: int) -> int | None:
    """The close in force at t (sample and hold)."""
    current = None
    for seconds, close in closes:
        if T0 + seconds * S <= t_ns:
            current = close
    return current


@settings(max_examples=150, deadline=None)
@given(closes=samples, for_=durations, keep=durations, repeat=st.sampled_from(["0s", "20s", "1m"]))
def test_notifications_follow_the_rule(
    closes: list[tuple[int, int]], for_: str, keep: str, repeat: str
) -> None:
    fields = {"for": for_, "keep_firing_for": keep, "repeat_interval": repeat}
    notes = feed(closes, **fields)
    # Deterministic: the same stream gives the same notifications.
    assert notes == feed(closes, **fields)
    # Every notification obeys its contract (the engine builds them without re-validation).
    for note in notes:
        assert AlertNotification.model_validate_json(note.model_dump_json()) == note
    # Idempotency keys are unique; time never goes back.
    assert len({n.idempotency_key for n in notes}) == len(notes)
    assert [n.event_ts for n in notes] == sorted(n.event_ts for n in notes)
    for_ns = duration_ns(for_)
    keep_ns = duration_ns(keep)
    firing = False
    last_sent = 0
    for note in notes:
        if note.status is AlertStatus.FIRING and note.reminder == 0:
            assert not firing, "fired twice without resolving"
            firing = True
            last_sent = note.event_ts
            # The condition held for the whole of `for` before it fired.
            start = note.event_ts - for_ns
            in_force = [c for s, c in closes if start < T0 + s * S <= note.event_ts]
            before = held_at(closes, start)
            assert all(c > 100 for c in in_force)
            assert for_ns == 0 or (before is not None and before > 100)
        elif note.status is AlertStatus.FIRING:
            assert firing
            assert duration_ns(repeat)
            assert note.event_ts - last_sent >= duration_ns(repeat)
            assert held_at(closes, note.event_ts) is not None
            last_sent = note.event_ts
        else:
            assert firing, "resolved without firing"
            firing = False
            assert note.ends_at == note.event_ts
            assert note.ends_at >= note.starts_at
            # Cleared for the whole of keep_firing_for: no true sample inside it.
            window = [c for s, c in closes if note.event_ts - keep_ns <= T0 + s * S <= note.event_ts]
            assert all(c <= 100 for c in window)
            assert (held_at(closes, note.event_ts) or 0) <= 100


@settings(max_examples=100, deadline=None)
@given(closes=samples, keep=st.sampled_from(["1s", "10s", "1m"]))
def test_crossings_fire_only_at_a_crossing(closes: list[tuple[int, int]], keep: str) -> None:
    notes = feed(closes, condition="crosses above", keep_firing_for=keep)
    crossings = {
        T0 + closes[i][0] * S for i in range(1, len(closes)) if closes[i - 1][1] <= 100 < closes[i][1]
    }
    for note in notes:
        if note.status is AlertStatus.FIRING:
            assert note.event_ts in crossings
    assert bool(crossings) == any(n.status is AlertStatus.FIRING for n in notes)


@settings(max_examples=100, deadline=None)
@given(closes=samples)
def test_windowed_sum_equals_a_brute_force_sum_when_it_fires(closes: list[tuple[int, int]]) -> None:
    notes = feed(closes, metric="md.candles.v1.close", aggregate="sum", window="30s", threshold="300")
    for note in notes:
        if note.status is AlertStatus.FIRING and note.reminder == 0:
            t = note.event_ts
            expected = sum(c for s, c in closes if t - 30 * S < T0 + s * S <= t)
            assert note.value == Decimal(expected)
            assert expected > 300


@settings(max_examples=100, deadline=None)
@given(
    closes=samples,
    aggregate=st.sampled_from(["sum", "count", "avg", "max", "min"]),
    window=st.sampled_from(["1s", "7s", "30s"]),
)
def test_window_aggregates_equal_brute_force_after_every_sample(
    closes: list[tuple[int, int]], aggregate: str, window: str
) -> None:
    eng = engine(rule(aggregate=aggregate, window=window))
    width = duration_ns(window)
    for seconds, close in closes:
        eng.on_event("md.candles.v1", candle(seconds, close))
        t = T0 + seconds * S
        inside = [Decimal(c) for s, c in closes if t - width < T0 + s * S <= t]
        expected = {
            "sum": sum(inside, Decimal(0)),
            "count": Decimal(len(inside)),
            "avg": sum(inside, Decimal(0)) / len(inside),
            "max": max(inside),
            "min": min(inside),
        }[aggregate]
        [value] = eng.series_values().values()
        assert value == expected


@settings(max_examples=60, deadline=None)
@given(
    streams=st.lists(samples, min_size=2, max_size=3),
    order=st.lists(st.integers(min_value=0, max_value=2), min_size=200, max_size=200),
    for_=durations,
    keep=durations,
)
def test_partition_interleaving_does_not_change_the_notifications(
    streams: list[list[tuple[int, int]]], order: list[int], for_: str, keep: str
) -> None:
    """Each partition in order, partitions interleaved at random: the same notifications."""
    symbols = ["ETH-USDT-PERP", "BTC-USDT-PERP", "SOL-USDT-PERP"]
    fields = {"for": for_, "keep_firing_for": keep, "repeat_interval": "20s"}

    def run_in(sequence: list[int]) -> set[str]:
        eng = engine(
            rule(**fields),
            rule(id="vol", metric="md.candles.v1.close", aggregate="sum", window="10s", threshold="300"),
        )
        eng.lateness_ns = 5 * S
        cursors = [0] * len(streams)
        notes: list[AlertNotification] = []
        for lane in sequence:
            lane %= len(streams)
            if cursors[lane] < len(streams[lane]):
                seconds, close = streams[lane][cursors[lane]]
                cursors[lane] += 1
                notes += eng.on_event("md.candles.v1", candle(seconds, close, symbol=symbols[lane]), lane)
        for lane, stream in enumerate(streams):
            for seconds, close in stream[cursors[lane] :]:
                notes += eng.on_event("md.candles.v1", candle(seconds, close, symbol=symbols[lane]), lane)
        return {n.idempotency_key for n in notes}

    assert run_in(order) == run_in([])  # [] = each partition whole, one after the other
