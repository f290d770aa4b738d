"""Guards and lifecycle on a time-controlled stream: a stale leg, a skewed pair, an invalid book
and an absurd spread each prevent an opening; persistence, peaks, closing and cooldown."""

from services.arbitrage.core.engine import ArbitrageEngine, Guard, Kind, OpportunityEvent
from services.arbitrage.core.lifecycle import OpenOpportunity, Transition
from tests.arbitrage.support import MS, SYMBOL, T0, book, engine, opportunities

# okx quotes 60,000 and bybit 60,120: buying on okx and selling on bybit earns ~20 bps gross, ~9.5 after fees.
CHEAP = book(60_000.0)
DEAR = book(60_120.0)
CALM = book(60_001.0)


def _events(
    engine_: ArbitrageEngine,
    *steps: tuple[str, int, tuple[list[tuple[float, float]], list[tuple[float, float]]]],
) -> list[OpportunityEvent]:
    out: list[OpportunityEvent] = []
    for venue, ts, (bids, asks) in steps:
        out.extend(opportunities(engine_.on_depth(venue, SYMBOL, ts, bids, asks)))
    return out


def test_a_dislocation_opens_on_the_right_pair_and_direction() -> None:
    e = engine()
    events = _events(e, ("okx", T0, CHEAP), ("bybit", T0 + 10 * MS, DEAR))
    assert [(x.transition, x.view.buy.exchange, x.view.sell.exchange, x.kind) for x in events] == [
        (Transition.OPENED, "okx", "bybit", Kind.SPREAD)
    ]
    assert events[0].opportunity_id == f"spread:okx:{SYMBOL}>bybit:{SYMBOL}@{T0 + 10 * MS}"
    assert events[0].value > 9.0


def test_stale_leg_prevents_opening() -> None:
    e = engine(max_age_ns=2_000 * MS, max_skew_ns=10_000 * MS)
    events = _events(e, ("okx", T0, CHEAP), ("bybit", T0 + 2_001 * MS, DEAR))
    assert events == []
    assert e.counters.rejections == {Guard.STALE.value: 1}


def test_skewed_pair_prevents_opening() -> None:
    e = engine(max_age_ns=2_000 * MS, max_skew_ns=500 * MS)
    events = _events(e, ("okx", T0, CHEAP), ("bybit", T0 + 501 * MS, DEAR))
    assert events == []
    assert e.counters.rejections == {Guard.SKEW.value: 1}
    # the okx leg catches up: within the skew again, it opens
    events = _events(e, ("okx", T0 + 600 * MS, CHEAP))
    assert [x.transition for x in events] == [Transition.OPENED]


def test_invalid_book_prevents_opening_and_closes_an_open_one() -> None:
    e = engine()
    e.on_depth("okx", SYMBOL, T0, *CHEAP)
    e.on_invalid("okx", SYMBOL, T0 + 5 * MS, "gap: expected 7, got 9")
    assert _events(e, ("bybit", T0 + 10 * MS, DEAR)) == []
    opened = _events(e, ("okx", T0 + 20 * MS, CHEAP))
    assert [x.transition for x in opened] == [Transition.OPENED]
    closed = opportunities(e.on_invalid("okx", SYMBOL, T0 + 30 * MS, "checksum"))
    assert [(x.transition, x.reason) for x in closed] == [(Transition.CLOSED, "guard:invalid_book")]
    assert e.counters.rejections[Guard.INVALID_BOOK.value] == 1


def test_absurd_spread_prevents_opening() -> None:
    e = engine(sanity_cap_bps=500.0)
    events = _events(e, ("okx", T0, CHEAP), ("bybit", T0 + 10 * MS, book(63_300.0)))  # ~540 bps
    assert events == []
    assert e.counters.rejections == {Guard.SANITY_CAP.value: 1}


def test_opens_after_n_evaluations() -> None:
    e = engine(persist_evaluations=3, persist_ns=10_000 * MS)
    e.on_depth("okx", SYMBOL, T0, *CHEAP)
    assert _events(e, ("bybit", T0 + 10 * MS, DEAR), ("bybit", T0 + 20 * MS, DEAR)) == []
    events = _events(e, ("bybit", T0 + 30 * MS, DEAR))
    assert [x.transition for x in events] == [Transition.OPENED]
    assert events[0].first_seen_ts == T0 + 10 * MS
    assert events[0].opened_ts == T0 + 30 * MS


def test_opens_after_t_ms_and_a_dip_restarts_the_count() -> None:
    e = engine(
        persist_evaluations=1_000, persist_ns=300 * MS, max_age_ns=10_000 * MS, max_skew_ns=10_000 * MS
    )
    e.on_depth("okx", SYMBOL, T0, *CHEAP)
    assert _events(e, ("bybit", T0 + 100 * MS, DEAR), ("bybit", T0 + 200 * MS, CALM)) == []
    assert _events(e, ("bybit", T0 + 300 * MS, DEAR), ("bybit", T0 + 500 * MS, DEAR)) == []
    events = _events(e, ("bybit", T0 + 600 * MS, DEAR))
    assert [x.transition for x in events] == [Transition.OPENED]
    assert events[0].first_seen_ts == T0 + 300 * MS


def test_updated_with_peak_then_closed_with_duration_and_peak() -> None:
    e = engine(update_interval_ns=100 * MS)
    events = _events(
        e,
        ("okx", T0, CHEAP),
        ("bybit", T0 + 10 * MS, DEAR),  # opened
        ("bybit", T0 + 50 * MS, book(60_150.0)),  # a new peak, but within the update interval
        ("bybit", T0 + 120 * MS, book(60_130.0)),  # updated with the 60,150 peak
        ("bybit", T0 + 300 * MS, CALM),  # closed
    )
    assert [x.transition for x in events] == [Transition.OPENED, Transition.UPDATED, Transition.CLOSED]
    opened, updated, closed = events
    assert updated.peak > opened.peak
    assert updated.peak_ts == T0 + 50 * MS
    assert (closed.peak, closed.peak_ts) == (updated.peak, updated.peak_ts)
    assert closed.reason == "converged"
    assert closed.ts - closed.opened_ts == 290 * MS
    assert [x.seq for x in events] == [0, 1, 2]
    assert len({x.opportunity_id for x in events}) == 1


def test_cooldown_before_reopening() -> None:
    e = engine(cooldown_ns=1_000 * MS, max_age_ns=10_000 * MS, max_skew_ns=10_000 * MS)
    first = _events(e, ("okx", T0, CHEAP), ("bybit", T0 + 10 * MS, DEAR), ("bybit", T0 + 20 * MS, CALM))
    assert [x.transition for x in first] == [Transition.OPENED, Transition.CLOSED]
    assert _events(e, ("bybit", T0 + 500 * MS, DEAR), ("bybit", T0 + 1_019 * MS, DEAR)) == []
    again = _events(e, ("okx", T0 + 1_020 * MS, CHEAP))
    assert [x.transition for x in again] == [Transition.OPENED]
    assert again[0].opportunity_id != first[0].opportunity_id


def test_restored_opportunity_continues_under_its_id() -> None:
    e = engine()
    opened_ts = T0 - 5_000 * MS
    restored = OpenOpportunity(
        f"spread:okx:{SYMBOL}>bybit:{SYMBOL}@{opened_ts}", opened_ts, opened_ts, 12.0, opened_ts, seq=3
    )
    e.restore(Kind.SPREAD, f"okx:{SYMBOL}", f"bybit:{SYMBOL}", restored, -1)
    assert e.open_count[Kind.SPREAD] == 1
    events = _events(e, ("okx", T0, CHEAP), ("bybit", T0 + 10 * MS, CALM))
    assert [(x.transition, x.opportunity_id, x.seq) for x in events] == [
        (Transition.CLOSED, restored.opportunity_id, 4)
    ]
    assert e.open_count[Kind.SPREAD] == 0


def test_stale_funding_blocks_a_funding_opportunity() -> None:
    from services.arbitrage.core.funding import FundingQuote

    e = engine(funding_max_age_ns=60_000 * MS)
    e.on_funding("okx", SYMBOL, FundingQuote(T0, 0.0001, 8 * 3600, T0))
    assert (
        opportunities(e.on_funding("bybit", SYMBOL, FundingQuote(T0 + 61_000 * MS, 0.0004, 8 * 3600, T0)))
        == []
    )
    assert e.counters.rejections == {Guard.STALE_FUNDING.value: 1}


def test_restored_opportunity_waits_for_both_books() -> None:
    e = engine()
    opened_ts = T0 - 5_000 * MS
    restored = OpenOpportunity(
        f"spread:okx:{SYMBOL}>bybit:{SYMBOL}@{opened_ts}", opened_ts, opened_ts, 9.0, opened_ts
    )
    e.restore(Kind.SPREAD, f"okx:{SYMBOL}", f"bybit:{SYMBOL}", restored, -1)
    assert _events(e, ("okx", T0, CHEAP)) == []  # bybit not seen yet since the restart: no verdict
    assert e.open_count[Kind.SPREAD] == 1
    events = _events(e, ("bybit", T0 + 10 * MS, book(60_150.0)))  # both books: a new peak
    assert [(x.transition, x.opportunity_id, x.seq) for x in events] == [
        (Transition.UPDATED, restored.opportunity_id, 1)
    ]
