"""The book core's state machine: buffering, breaks, resync, throttling, checksums, checkpoints."""

from decimal import Decimal

import pytest

from schemas.common import ExchangeId
from services.book_builder.core import BinanceSequenceRule, BookBuilder, BookState, TopOfBook
from services.book_builder.core.builder import BookInvalidated, DepthSnapshot, InvalidReason, Outcome
from services.book_builder.core.checksum import ChecksumSpec, interleaved_crc32
from services.book_builder.core.sequence import ContiguousRangeRule, PrevIdSequenceRule
from tests.book_builder.events import delta, levels, snapshot

MS = 1_000_000


def tops(outcomes: list[Outcome]) -> list[TopOfBook]:
    return [o for o in outcomes if isinstance(o, TopOfBook)]


def depths(outcomes: list[Outcome]) -> list[DepthSnapshot]:
    return [o for o in outcomes if isinstance(o, DepthSnapshot)]


def invalid(outcomes: list[Outcome]) -> list[BookInvalidated]:
    return [o for o in outcomes if isinstance(o, BookInvalidated)]


def live_builder(**kwargs: object) -> BookBuilder:
    builder = BookBuilder(BinanceSequenceRule(), **kwargs)  # type: ignore[arg-type]
    builder.on_snapshot(snapshot(100, [("100", "1"), ("99", "2")], [("101", "1"), ("102", "3")]))
    return builder


def test_nothing_is_published_before_the_snapshot_and_buffered_deltas_follow_it() -> None:
    builder = BookBuilder(BinanceSequenceRule())
    for d in (
        delta(90, 95, 89, bids=[("99", "9")]),
        delta(96, 105, 95, bids=[("100", "2")]),
        delta(106, 110, 105, asks=[("101", "0")]),
    ):
        assert builder.on_delta(d) == []
    assert builder.buffered == 3
    outcomes = builder.on_snapshot(snapshot(100, [("100", "1")], [("101", "1"), ("102", "3")]))
    assert [t.venue_seq for t in tops(outcomes)] == [100, 105, 110]
    assert (tops(outcomes)[-1].bid_quantity, tops(outcomes)[-1].ask_price) == (Decimal(2), Decimal(102))
    assert builder.counters.stale == 1
    assert builder.buffered == 0


def test_a_gap_publishes_an_invalid_status_and_nothing_until_the_resync() -> None:
    builder = live_builder()
    builder.on_delta(delta(99, 102, 98, bids=[("100", "2")]))
    outcomes = builder.on_delta(delta(110, 112, 108, bids=[("100", "5")]))
    [broken] = invalid(outcomes)
    assert (broken.kind, broken.venue_seq) == (InvalidReason.GAP, 102)
    assert "binance" in broken.reason
    assert builder.state is BookState.AWAITING_SNAPSHOT
    assert builder.on_delta(delta(113, 114, 112, bids=[("100", "6")])) == []
    outcomes = builder.on_snapshot(snapshot(112, [("100", "5")], [("101", "1")]))
    assert builder.counters.resyncs == 1
    assert [t.venue_seq for t in tops(outcomes)] == [112, 114]
    assert depths(outcomes)[0].venue_seq == 112, "the first valid book publishes its depth at once"


def test_a_snapshot_older_than_the_buffered_deltas_publishes_nothing_valid() -> None:
    builder = live_builder()
    builder.on_delta(delta(99, 102, 98))
    builder.on_delta(delta(110, 112, 108))  # gap
    outcomes = builder.on_snapshot(snapshot(105, [("100", "1")], [("101", "1")]))  # older than 110
    assert [type(o) for o in outcomes] == [BookInvalidated]
    assert builder.counters.resyncs == 0
    outcomes = builder.on_snapshot(snapshot(111, [("100", "1")], [("101", "1")]))  # 110..112 straddles
    assert builder.state.value == "live"
    assert builder.counters.resyncs == 1
    assert [t.venue_seq for t in tops(outcomes)] == [111]
    assert builder.last_seq == 112


@pytest.mark.parametrize(("bid", "ask"), [("101", "101"), ("102", "101")], ids=["locked", "crossed"])
def test_crossed_or_locked_books_are_never_published(bid: str, ask: str) -> None:
    builder = live_builder()
    outcomes = builder.on_delta(delta(99, 101, 98, bids=[(bid, "1")], asks=[(ask, "1")]))
    assert tops(outcomes) == []
    assert depths(outcomes) == []
    assert invalid(outcomes)[0].kind is InvalidReason.CROSSED
    assert builder.counters.crossed == 1


def test_a_crossed_snapshot_is_not_published() -> None:
    builder = BookBuilder(BinanceSequenceRule())
    outcomes = builder.on_snapshot(snapshot(5, [("10", "1")], [("9", "1")]))
    assert [type(o) for o in outcomes] == [BookInvalidated]
    assert builder.state is BookState.AWAITING_SNAPSHOT


def test_top_is_published_only_when_it_changes_and_depth_is_throttled_by_event_time() -> None:
    builder = BookBuilder(BinanceSequenceRule(), depth=2, depth_interval_ns=100 * MS)
    first = builder.on_snapshot(snapshot(100, [("100", "1"), ("99", "2"), ("98", "1")], [("101", "1")], ts=0))
    assert depths(first)[0].bids == levels([("100", "1"), ("99", "2")])
    deep_change = builder.on_delta(delta(100, 101, 99, bids=[("98", "4")], ts=50 * MS))
    assert tops(deep_change) == []
    assert depths(deep_change) == [], "within 100 ms of the last depth"
    top_change = builder.on_delta(delta(102, 102, 101, bids=[("100", "0")], ts=99 * MS))
    assert [(t.bid_price, t.book_seq) for t in tops(top_change)] == [(Decimal(99), 2)]
    assert depths(top_change) == []
    later = builder.on_delta(delta(103, 103, 102, asks=[("105", "1")], ts=100 * MS))
    [depth] = depths(later)
    assert (depth.venue_seq, depth.bids, depth.book_seq) == (103, levels([("99", "2"), ("98", "4")]), 2)


def test_empty_updates_are_heartbeats() -> None:
    builder = BookBuilder(PrevIdSequenceRule("okx"))
    builder.on_snapshot(snapshot(7, [("1", "1")], [("2", "1")], exchange=ExchangeId.OKX))
    assert builder.on_delta(delta(None, 7, 7, exchange=ExchangeId.OKX)) == []
    assert builder.state is BookState.LIVE


def test_a_checksum_mismatch_breaks_the_book_and_zero_means_no_checksum() -> None:
    bids, asks = [("100", "1")], [("101", "2")]
    good = interleaved_crc32(levels(bids), levels(asks))
    builder = BookBuilder(PrevIdSequenceRule("okx"), checksum=ChecksumSpec(interleaved_crc32))
    builder.on_snapshot(snapshot(1, bids, asks, checksum=good, exchange=ExchangeId.OKX))
    assert builder.counters.checksum_checks == 1
    assert tops(builder.on_delta(delta(None, 2, 1, bids=[("100", "3")], checksum=0, exchange=ExchangeId.OKX)))
    assert builder.counters.checksum_checks == 1, "0 is OKX's 'no checksum'"
    outcomes = builder.on_delta(
        delta(None, 3, 2, bids=[("100", "4")], checksum=good, exchange=ExchangeId.OKX)
    )
    assert invalid(outcomes)[0].kind is InvalidReason.CHECKSUM
    assert builder.counters.checksum_failures == 1


def test_rest_venues_ignore_a_snapshot_older_than_the_live_book() -> None:
    builder = BookBuilder(ContiguousRangeRule("gateio"), snapshot_always_resets=False)
    builder.on_snapshot(snapshot(100, [("1", "1")], [("2", "1")], exchange=ExchangeId.GATEIO))
    builder.on_delta(delta(101, 105, None, bids=[("1", "5")], exchange=ExchangeId.GATEIO))
    assert builder.on_snapshot(snapshot(103, [("1", "9")], [("2", "1")], exchange=ExchangeId.GATEIO)) == []
    assert (builder.last_seq, builder.counters.stale_snapshots) == (105, 1)
    assert builder.book.best_bid() == (Decimal(1), Decimal(5))


def test_stream_venues_reset_on_every_snapshot_even_a_restart_at_id_1() -> None:
    builder = BookBuilder(ContiguousRangeRule("bybit"))
    builder.on_snapshot(snapshot(13079592, [("1", "1")], [("2", "1")], exchange=ExchangeId.BYBIT))
    builder.on_snapshot(snapshot(1, [("1.5", "1")], [("2", "1")], exchange=ExchangeId.BYBIT))
    assert (builder.last_seq, builder.book.best_bid()) == (1, (Decimal("1.5"), Decimal(1)))
    assert tops(builder.on_delta(delta(None, 2, None, bids=[("1.6", "1")], exchange=ExchangeId.BYBIT)))


def test_a_checkpoint_restores_a_builder_that_continues_identically() -> None:
    stream = [
        delta(99 + i, 100 + i, 99 + i, bids=[("100", str(i + 1))], ts=i * 30 * MS) for i in range(1, 12)
    ]
    reference = live_builder()
    expected = [reference.on_delta(d) for d in stream]
    for cut in range(len(stream)):
        original = live_builder()
        for d in stream[:cut]:
            original.on_delta(d)
        checkpoint = original.checkpoint()
        assert checkpoint is not None
        restored = BookBuilder(BinanceSequenceRule())
        restored.restore(checkpoint)
        assert [restored.on_delta(d) for d in stream[cut:]] == expected[cut:]
    assert BookBuilder(BinanceSequenceRule()).checkpoint() is None, "nothing to keep before a snapshot"
