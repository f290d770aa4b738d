"""The alert state machine on a time-controlled stream (exchange time only)."""

from decimal import Decimal

import pytest

from schemas.alert import AlertStatus
from services.alert.core.engine import AlertState
from services.alert.core.rules import RuleError
from tests.alert.events import S, at, candle, engine, rule, run, status


def test_pending_then_firing_after_for_then_resolved() -> None:
    eng = engine(rule(**{"for": "10s"}))
    notes = run(eng, [(0, 99), (1, 101), (5, 102)])
    assert notes == []
    assert list(eng.series_states().values()) == [AlertState.PENDING]
    # The deadline (1 s + 10 s) is met by the first event at or past it, at its own time.
    assert run(eng, [(12, 103)]) == [("firing", 11.0, 0)]
    assert run(eng, [(13, 99)]) == [("resolved", 13.0, 0)]
    assert list(eng.series_states().values()) == [AlertState.RESOLVED]


def test_a_false_sample_inside_for_returns_to_inactive() -> None:
    eng = engine(rule(**{"for": "10s"}))
    assert run(eng, [(0, 101), (9, 99), (10, 101), (19, 101)]) == []
    assert run(eng, [(20, 101)]) == [("firing", 20.0, 0)]


def test_sample_exactly_at_the_deadline_decides() -> None:
    eng = engine(rule(**{"for": "10s"}))
    assert run(eng, [(0, 101), (10, 99)]) == []
    eng = engine(rule(**{"for": "10s"}))
    assert run(eng, [(0, 101), (10, 101)]) == [("firing", 10.0, 0)]


def test_for_zero_fires_on_the_first_true_sample() -> None:
    eng = engine(rule())
    assert run(eng, [(0, 99), (3, 150)]) == [("firing", 3.0, 0)]


def test_no_flapping_inside_keep_firing_for() -> None:
    eng = engine(rule(keep_firing_for="30s"))
    flapping = [(0, 101), (5, 99), (10, 101), (15, 99), (20, 101), (25, 99), (30, 99), (54, 99)]
    assert run(eng, flapping) == [("firing", 0.0, 0)]
    # Cleared at 25 s and not true again: resolves at 25 + 30 s.
    assert run(eng, [(56, 99)]) == [("resolved", 55.0, 0)]


def test_reminders_at_the_repeat_interval_only_while_the_condition_holds() -> None:
    eng = engine(rule(repeat_interval="1m", keep_firing_for="5m"))
    closes = [(float(t), 150.0) for t in range(0, 200, 10)]
    assert run(eng, closes) == [
        ("firing", 0.0, 0),
        ("firing", 60.0, 1),
        ("firing", 120.0, 2),
        ("firing", 180.0, 3),
    ]
    # Cleared: kept firing for 5 minutes, without reminders, then resolved.
    assert run(eng, [(200, 99), (400, 99)]) == []
    assert run(eng, [(600, 99)]) == [("resolved", 500.0, 3)]


def test_reminder_deadline_is_met_by_other_series_events() -> None:
    eng = engine(rule(repeat_interval="30s"))
    eng.on_event("md.candles.v1", candle(0, 150))
    notes = eng.on_event("md.candles.v1", candle(45, 1, symbol="BTC-USDT-PERP"))
    assert [(n.status, n.reminder, n.event_ts) for n in notes] == [(AlertStatus.FIRING, 1, at(30))]


def test_crosses_above_fires_at_the_crossing_and_resolves_after_keep_firing_for() -> None:
    eng = engine(rule(condition="crosses above", keep_firing_for="10s"))
    assert run(eng, [(0, 150), (1, 160)]) == []  # no crossing without a previous sample below
    assert run(eng, [(2, 90), (3, 110)]) == [("firing", 3.0, 0)]
    assert run(eng, [(5, 120), (12, 130)]) == []
    assert run(eng, [(14, 90)]) == [("resolved", 13.0, 0)]


def test_crosses_below_rearms_while_firing() -> None:
    eng = engine(rule(condition="crosses below", keep_firing_for="10s"))
    notes = run(eng, [(0, 101), (1, 99), (5, 101), (9, 99), (18, 99), (19, 99), (20, 99)])
    assert notes == [("firing", 1.0, 0), ("resolved", 19.0, 0)]


def test_equality_with_tolerance() -> None:
    eng = engine(rule(condition="==", threshold="100", tolerance="0.5"))
    assert run(eng, [(0, 99), (1, 100.4)]) == [("firing", 1.0, 0)]
    assert run(eng, [(2, 100.6)]) == [("resolved", 2.0, 0)]


def test_windowed_sum_fires_and_resolves_as_samples_leave_the_window() -> None:
    eng = engine(rule(metric="md.candles.v1.volume", aggregate="sum", window="10s", threshold="2"))
    assert run(eng, [(0, 1), (1, 1)]) == []
    assert run(eng, [(2, 1)]) == [("firing", 2.0, 0)]  # 3 candles of volume 1 in 10 s
    # The 0 s sample leaves the window at 10 s: the sum drops to 2 and the alert resolves then.
    assert run(eng, [(30, 1)]) == [("resolved", 10.0, 0)]


def test_dedup_one_alert_per_fingerprint_and_distinct_series() -> None:
    eng = engine(rule(repeat_interval="1h"))
    notes = []
    for t in range(10):
        notes += eng.on_event("md.candles.v1", candle(t, 150))
        notes += eng.on_event("md.candles.v1", candle(t, 150, symbol="BTC-USDT-PERP"))
    assert len(notes) == 2
    assert len({n.fingerprint for n in notes}) == 2
    assert len({n.idempotency_key for n in notes}) == 2
    assert {n.labels["symbol"] for n in notes} == {"ETH-USDT-PERP", "BTC-USDT-PERP"}


def test_fingerprint_is_stable_and_labels_are_complete() -> None:
    first = engine(rule(labels={"team": "desk"})).on_event("md.candles.v1", candle(0, 150))
    again = engine(rule(labels={"team": "desk"})).on_event("md.candles.v1", candle(0, 150))
    assert first == again
    assert first[0].labels == {
        "rule_id": "high-close",
        "exchange": "okx",
        "symbol": "ETH-USDT-PERP",
        "interval_s": "1",
        "team": "desk",
    }
    assert first[0].idempotency_key == f"{first[0].fingerprint}:{at(0)}:firing:0"


def test_scope_filters_events() -> None:
    eng = engine(rule(scope={"exchange": "okx", "symbol": "BTC-USDT-PERP"}))
    assert run(eng, [(0, 150)]) == []  # ETH
    assert run(eng, [(1, 150)], symbol="BTC-USDT-PERP", exchange="bybit") == []
    assert run(eng, [(2, 150)], symbol="BTC-USDT-PERP") == [("firing", 2.0, 0)]


def test_scope_exchange_excludes_other_venues() -> None:
    eng = engine(rule(scope={"exchange": "okx"}))
    assert run(eng, [(0, 150)], exchange="bybit") == []
    assert run(eng, [(1, 150)]) == [("firing", 1.0, 0)]


def test_connector_down_inhibits_the_venues_market_alerts_and_says_so() -> None:
    connector = rule(id="down", name="down", metric="md.status.v1.down", condition=">=", threshold="1")
    eng = engine(rule(), connector)
    notes = eng.on_event("md.status.v1", status(0, "disconnected"))
    assert [(n.rule_id, n.status, n.suppressed) for n in notes] == [("down", AlertStatus.FIRING, "")]
    assert "market alerts of okx are inhibited" in notes[0].summary
    [suppressed] = eng.on_event("md.candles.v1", candle(1, 150))
    assert suppressed.suppressed.startswith("inhibited: okx connector ws-1 disconnected")
    assert suppressed.idempotency_key.endswith(":suppressed")
    # Another venue is not inhibited.
    [other] = eng.on_event("md.candles.v1", candle(2, 150, exchange="bybit"))
    assert other.suppressed == ""
    # The connector comes back while the okx alert still fires: it is delivered then.
    notes = eng.on_event("md.status.v1", status(10, "connected"))
    assert [(n.rule_id, n.status, n.suppressed, n.event_ts) for n in notes] == [
        ("down", AlertStatus.RESOLVED, "", at(10)),
        ("high-close", AlertStatus.FIRING, "", at(10)),
    ]


def test_inhibited_alert_that_resolves_unseen_resolves_suppressed() -> None:
    eng = engine(rule())
    eng.on_event("md.status.v1", status(0, "stale", symbols=("ETH-USDT-PERP",)))
    [fired] = eng.on_event("md.candles.v1", candle(1, 150))
    [resolved] = eng.on_event("md.candles.v1", candle(2, 50))
    assert fired.suppressed
    assert resolved.suppressed == "its firing was never delivered"
    # A connection that does not carry the symbol does not inhibit it.
    eng.on_event("md.status.v1", status(3, "connected"))
    eng.on_event("md.status.v1", status(3, "disconnected", connection="ws-2", symbols=("BTC-USDT-PERP",)))
    [fired] = eng.on_event("md.candles.v1", candle(4, 150))
    assert fired.suppressed == ""


def test_connector_down_for_more_than_t() -> None:
    connector = rule(
        id="down", name="down", metric="md.status.v1.down", condition=">=", threshold="1", **{"for": "1m"}
    )
    eng = engine(connector)
    assert eng.on_event("md.status.v1", status(0, "disconnected")) == []
    # Time is exchange time: any later event (here a candle) moves it past the deadline.
    [note] = eng.on_event("md.candles.v1", candle(61, 1))
    assert (note.status, note.event_ts, note.labels["exchange"]) == (AlertStatus.FIRING, at(60), "okx")


def test_snooze_blocks_delivery_until_it_ends() -> None:
    # T0 is 2024-08-08T23:54:00Z: the snooze ends 390 s later.
    eng = engine(rule(snooze_until="2024-08-09T00:00:30Z", repeat_interval="1h"))
    [held] = eng.on_event("md.candles.v1", candle(0, 150))
    assert held.suppressed == "snoozed until 2024-08-09T00:00:30Z"
    assert eng.on_event("md.candles.v1", candle(10, 150)) == []
    notes = eng.on_event("md.candles.v1", candle(395, 150))
    assert [(n.status, n.suppressed, n.event_ts) for n in notes] == [(AlertStatus.FIRING, "", at(390))]


def test_rule_change_resolves_open_alerts_and_cosmetic_change_keeps_them() -> None:
    eng = engine(rule(repeat_interval="1h"))
    eng.on_event("md.candles.v1", candle(0, 150))
    assert eng.set_rule(rule(name="renamed", repeat_interval="2h", severity="critical")) == []
    [note] = eng.set_rule(rule(threshold="200"))
    assert (note.status, note.reason) == (AlertStatus.RESOLVED, "rule changed")
    eng.on_event("md.candles.v1", candle(1, 250))
    [note] = eng.remove_rule("high-close")
    assert note.reason == "rule deleted"
    assert eng.on_event("md.candles.v1", candle(2, 250)) == []


def test_disabled_rule_is_not_evaluated() -> None:
    eng = engine(rule(enabled=False))
    assert run(eng, [(0, 150)]) == []


def test_late_samples_are_ignored_per_series() -> None:
    eng = engine(rule())
    run(eng, [(10, 50)])
    assert run(eng, [(5, 150)]) == []
    assert eng.stats.late_samples == 1


def test_restore_continues_a_firing_alert_without_re_announcing_it() -> None:
    eng = engine(rule(repeat_interval="1m"))
    [fired] = eng.on_event("md.candles.v1", candle(0, 150))
    restarted = engine(rule(repeat_interval="1m"))
    assert restarted.restore(fired) == []
    assert run(restarted, [(10, 150)]) == []
    assert run(restarted, [(70, 150)]) == [("firing", 60.0, 1)]
    [resolved] = restarted.on_event("md.candles.v1", candle(80, 50))
    assert resolved.starts_at == fired.starts_at
    assert resolved.fingerprint == fired.fingerprint


def test_restore_resolves_an_alert_whose_rule_is_gone() -> None:
    [fired] = engine(rule()).on_event("md.candles.v1", candle(0, 150))
    [resolved] = engine().restore(fired)
    assert resolved.status is AlertStatus.RESOLVED
    assert resolved.fingerprint == fired.fingerprint


def test_bad_rules_are_refused_with_reasons() -> None:
    eng = engine()
    with pytest.raises(RuleError) as bad:
        eng.set_rule(rule(metric="md.candles.v1.nope"))
    assert "'nope' is not a field of md.candles.v1" in str(bad.value)
    assert eng.rules == {}


def test_value_and_threshold_travel_as_decimals() -> None:
    [note] = engine(rule(threshold="100.5")).on_event("md.candles.v1", candle(0, "100.50000001"))
    assert note.value == Decimal("100.50000001")
    assert note.threshold == Decimal("100.5")


def test_lanes_make_the_result_independent_of_partition_interleaving() -> None:
    """A lane far ahead does not decide for a lane behind it: its own samples do."""
    pending_then_cleared = [(0, 150), (5, 50), (6, 150)]
    far_ahead = [(t, 1) for t in range(0, 300, 10)]

    def feed(order: str) -> list[tuple[str, int, str]]:
        eng = engine(rule(**{"for": "10s"}, scope={"symbol": "ETH-USDT-PERP"}))
        eng.lateness_ns = 3600 * S
        a = [("a", candle(t, c, symbol="BTC-USDT-PERP")) for t, c in far_ahead]
        b = [("b", candle(t, c)) for t, c in pending_then_cleared]
        events = a + b if order == "a first" else b + a
        notes = [n for lane, e in events for n in eng.on_event("md.candles.v1", e, lane)]
        notes += eng.advance_to(at(400))
        return [(n.status.value, n.event_ts, n.labels["symbol"]) for n in notes]

    assert feed("a first") == feed("b first") == [("firing", at(16), "ETH-USDT-PERP")]


def test_a_silent_lane_is_moved_by_the_others_after_the_lateness() -> None:
    eng = engine(
        rule(
            id="down", name="down", metric="md.status.v1.down", condition=">=", threshold="1", **{"for": "1m"}
        )
    )
    eng.lateness_ns = 10 * S
    assert eng.on_event("md.status.v1", status(0, "disconnected"), ("md.status.v1", 0)) == []
    assert eng.on_event("md.candles.v1", candle(65, 1), ("md.candles.v1", 2)) == []
    [note] = eng.on_event("md.candles.v1", candle(70, 1), ("md.candles.v1", 2))
    assert note.event_ts == at(60)
