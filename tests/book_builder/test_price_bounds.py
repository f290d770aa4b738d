"""Plausible prices (``core.bounds``): against the instrument's tick and the live book's mid.

Every rejection is a ``RejectedInput("implausible_price")`` raised before the book changes, so
the runtime dead-letters the record and the book, its sequence and its outputs are as before.
"""

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.market_data import BookDelta, BookSnapshot
from services.book_builder.core import BinanceSequenceRule, BookBuilder, BookState
from services.book_builder.core.bounds import FAR_FACTOR, MAX_TICKS, MID_FACTOR, TickBounds, price_range
from services.runtime.service import RejectedInput
from tests.book_builder.events import delta, snapshot

TICK = Decimal("0.10")  # Binance BTCUSDT's


def live_book() -> BookBuilder:
    """A live book around a mid of 100.05: bid 100.0, ask 100.1."""
    builder = BookBuilder(BinanceSequenceRule(), tick=TICK)
    builder.on_event(
        snapshot(10, bids=[("100.0", "1"), ("99.9", "2")], asks=[("100.1", "1"), ("100.2", "3")])
    )
    assert builder.state is BookState.LIVE
    return builder


def state(builder: BookBuilder) -> tuple[object, ...]:
    return builder.book.bids(), builder.book.asks(), builder.last_seq, builder.state, builder.counters


def assert_rejected_unchanged(builder: BookBuilder, event: BookSnapshot | BookDelta, reason: str) -> None:
    before = state(builder)
    with pytest.raises(RejectedInput, match=reason) as rejected:
        builder.on_event(event)
    assert rejected.value.error_type == "implausible_price"
    assert state(builder) == before, "a rejected event leaves the book as it was"


@pytest.mark.parametrize(
    ("price", "reason"),
    [
        ("0.01", "outside"),  # below one tick
        (str(TICK * MAX_TICKS * 10), "outside"),  # 10^11 ticks
        ("1E-30", "outside"),
    ],
)
def test_prices_implausible_for_the_tick_are_rejected_even_before_the_first_snapshot(
    price: str, reason: str
) -> None:
    builder = BookBuilder(BinanceSequenceRule(), tick=TICK)
    assert_rejected_unchanged(builder, snapshot(10, bids=[(price, "1")], asks=[("100.1", "1")]), reason)
    assert builder.buffered == 0
    assert_rejected_unchanged(builder, delta(11, 12, 10, bids=[(price, "1")]), reason)
    assert builder.buffered == 0, "a rejected delta is not buffered for the next snapshot either"


@pytest.mark.parametrize(
    "price",
    [
        "100.05",  # off the tick by one place: venues do that
        "100.000001",  # far finer than the tick: not bounded (see core.bounds)
        "100.10000000",  # padded with zeros, as some venues print every price
        "0.10",  # one tick
    ],
)
def test_off_tick_and_padded_prices_within_the_rule_are_accepted(price: str) -> None:
    builder = BookBuilder(BinanceSequenceRule(), tick=TICK)
    builder.on_event(snapshot(10, bids=[(price, "1")], asks=[("1000", "1")]))
    assert builder.book.best_bid() == (Decimal(price), Decimal(1))


def test_without_a_known_tick_only_the_mid_bounds_hold() -> None:
    builder = BookBuilder(BinanceSequenceRule())
    builder.on_event(snapshot(10, bids=[("0.0000001", "1")], asks=[("100.1", "1")]))
    assert builder.state is BookState.LIVE


@pytest.mark.parametrize(
    ("bids", "asks", "reason"),
    [
        ([("1001", "1")], [], r"update 12 bid 1001 is outside"),  # crosses: above mid x 10
        ([], [("10.0", "1")], r"update 12 ask 10.0 is outside"),  # crosses: below mid / 10
        ([("0.09", "1")], [], r"update 12 bid 0.09 is outside"),  # below mid / 1000
        ([], [("100051", "1")], r"update 12 ask 100051 is outside"),  # above mid x 1000
        ([("100.0", "5"), ("1001", "1")], [], "bid 1001"),  # one bad level rejects the whole update
    ],
)
def test_a_delta_level_far_from_the_mid_is_rejected_and_the_book_is_unchanged(
    bids: list[tuple[str, str]], asks: list[tuple[str, str]], reason: str
) -> None:
    builder = BookBuilder(BinanceSequenceRule())  # the mid rule needs no tick
    builder.on_event(snapshot(10, bids=[("100.0", "1")], asks=[("100.1", "1")]))
    builder.on_event(delta(11, 11, 10, bids=[("99.9", "1")]))
    assert_rejected_unchanged(builder, delta(12, 12, 11, bids=bids, asks=asks), reason)
    # The venue's next (good) update still applies: the rejected one never moved the sequence.
    assert builder.on_event(delta(12, 12, 11, bids=[("100.0", "3")]))
    assert builder.book.best_bid() == (Decimal("100.0"), Decimal(3))


def test_far_resting_orders_as_real_books_have_them_are_accepted() -> None:
    """The Binance BTCUSDT capture has bids at 1/110 of the mid and asks at 10.007 times it."""
    builder = live_book()
    builder.on_event(delta(11, 11, 10, bids=[("0.91", "1")], asks=[("1001.3", "1")]))
    assert (Decimal("0.91"), Decimal(1)) in builder.book.bids()
    assert (Decimal("1001.3"), Decimal(1)) in builder.book.asks()


def test_deleting_a_level_is_never_bounded_by_the_mid() -> None:
    builder = live_book()
    builder.on_event(delta(11, 11, 10, bids=[("5000", "0")], asks=[("0.5", "0")]))
    assert builder.last_seq == 11


def test_a_snapshot_whose_top_is_tenfold_off_a_live_books_mid_is_rejected() -> None:
    builder = live_book()
    far = snapshot(20, bids=[("1500.0", "1")], asks=[("1500.1", "1")])
    assert_rejected_unchanged(builder, far, "snapshot 20 best bid 1500.0")
    deep = snapshot(20, bids=[("100.2", "1"), ("0.5", "9")], asks=[("100.3", "1"), ("5000", "1")])
    builder.on_event(deep)  # far levels deep in a snapshot are resting orders, not its top
    assert builder.book.best_bid() == (Decimal("100.2"), Decimal(1))


def test_a_book_waiting_for_a_snapshot_has_no_mid_to_bound_by() -> None:
    fresh = BookBuilder(BinanceSequenceRule())
    fresh.on_event(snapshot(10, bids=[("1500.0", "1")], asks=[("1500.1", "1")]))
    assert fresh.state is BookState.LIVE


# --- properties --------------------------------------------------------------------------------

ticks = st.sampled_from([Decimal("0.1"), Decimal("0.01"), Decimal("0.5"), Decimal("1"), Decimal("0.00001")])


@settings(max_examples=300, deadline=None)
@given(ticks, st.integers(-3, 12), st.integers(1, 9), st.booleans())
def test_a_side_is_accepted_iff_every_price_is_from_one_tick_to_max_ticks(
    tick: Decimal, power: int, digit: int, padded: bool
) -> None:
    price = (tick * digit).scaleb(power)
    if padded:
        price = price.quantize(Decimal("1E-12")) if price < 10**20 else price
    levels = [(tick, Decimal(1)), (price, Decimal(1))]
    plausible = tick <= price <= tick * MAX_TICKS
    try:
        TickBounds(tick).check(price_range(levels), "bid")
    except RejectedInput:
        assert not plausible
    else:
        assert plausible


mids = st.integers(10, 10**7).map(lambda n: Decimal(n) / 10)


@settings(max_examples=300, deadline=None)
@given(mids, st.integers(1, 999), st.booleans(), st.integers(1, 10**6))
def test_a_delta_is_accepted_or_rejected_by_the_bounds_and_a_rejection_changes_nothing(
    mid: Decimal, permille: int, bid_side: bool, scale: int
) -> None:
    """For any level price: accepted iff within its side's bounds of the mid; rejected ones leave the book."""
    bid, ask = mid - Decimal("0.05"), mid + Decimal("0.05")
    builder = BookBuilder(BinanceSequenceRule())
    builder.on_event(snapshot(10, bids=[(str(bid), "1")], asks=[(str(ask), "1")]))
    price = (mid * scale / permille).quantize(Decimal("0.01"))
    if price <= 0:
        return
    level = [(str(price), "1")]
    event = delta(11, 11, 10, bids=level if bid_side else [], asks=[] if bid_side else level)
    book_mid = (bid + ask) / 2
    low, high = (
        (book_mid / FAR_FACTOR, book_mid * MID_FACTOR)
        if bid_side
        else (book_mid / MID_FACTOR, book_mid * FAR_FACTOR)
    )
    before = state(builder)
    try:
        builder.on_event(event)
    except RejectedInput:
        assert not low <= price <= high
        assert state(builder) == before
    else:
        assert low <= price <= high
