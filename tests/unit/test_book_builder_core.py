"""The book-builder core: continuity, resync, never a crossed or unsynced top."""

import gzip
from decimal import Decimal
from pathlib import Path

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import BestBidOffer, BookDelta, BookSequence, BookSnapshot, ExchangeId
from services.book_builder.core import BinanceSequenceRule, BookBuilder, BookState, L2Book, TopOfBook
from services.book_builder.core.builder import BookInvalidated
from services.instruments.catalog import load_snapshot
from services.venues.binance_usdm.adapter import BinanceUsdmNormalizer

IDS = {"exchange": ExchangeId.BINANCE_USDM, "symbol": "BTC-USDT-PERP", "native_symbol": "BTCUSDT"}


def _d(value: str) -> Decimal:
    return Decimal(value)


def snapshot(last: int, bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> BookSnapshot:
    return BookSnapshot(
        **IDS,
        exchange_ts=1,
        receive_ts=1,
        sequence=BookSequence(last=last),
        bids=[(_d(p), _d(q)) for p, q in bids],
        asks=[(_d(p), _d(q)) for p, q in asks],
    )


def delta(first: int, last: int, prev: int, bids=(), asks=()) -> BookDelta:  # type: ignore[no-untyped-def]
    return BookDelta(
        **IDS,
        exchange_ts=2,
        receive_ts=2,
        sequence=BookSequence(first=first, last=last, prev=prev),
        bids=[(_d(p), _d(q)) for p, q in bids],
        asks=[(_d(p), _d(q)) for p, q in asks],
    )


def tops(outcomes: list[object]) -> list[TopOfBook]:
    return [o for o in outcomes if isinstance(o, TopOfBook)]


def test_deltas_before_the_snapshot_are_buffered_then_applied_by_the_venue_rule() -> None:
    builder = BookBuilder(BinanceSequenceRule())
    assert builder.on_delta(delta(90, 95, 89, bids=[("99", "9")])) == []  # older than the snapshot
    assert builder.on_delta(delta(96, 105, 95, bids=[("100", "2")])) == []  # straddles it
    assert builder.on_delta(delta(106, 110, 105, asks=[("101", "0")])) == []
    outcomes = builder.on_snapshot(snapshot(100, [("100", "1")], [("101", "1"), ("102", "3")]))
    published = tops(outcomes)
    assert [t.venue_seq for t in published] == [100, 105, 110]
    assert (published[-1].bid_price, published[-1].bid_quantity) == (_d("100"), _d("2"))
    assert published[-1].ask_price == _d("102")
    assert builder.counters.stale == 1
    assert builder.state is BookState.LIVE


def test_a_gap_invalidates_the_book_until_the_next_snapshot() -> None:
    builder = BookBuilder(BinanceSequenceRule())
    builder.on_snapshot(snapshot(100, [("100", "1")], [("101", "1")]))
    builder.on_delta(delta(99, 102, 98, bids=[("100", "2")]))  # U <= 100 <= u: the first delta
    outcomes = builder.on_delta(delta(110, 112, 108, bids=[("100", "5")]))  # 103..109 missing
    assert isinstance(outcomes[0], BookInvalidated)
    assert builder.state is BookState.AWAITING_SNAPSHOT
    assert builder.counters.gaps == 1
    assert builder.on_delta(delta(113, 114, 112, bids=[("100", "6")])) == []  # nothing while invalid
    outcomes = builder.on_snapshot(snapshot(112, [("100", "5")], [("101", "1")]))
    assert builder.counters.resyncs == 1
    assert [t.venue_seq for t in tops(outcomes)] == [112, 114]
    assert tops(outcomes)[-1].bid_quantity == _d("6")


def test_a_crossed_book_is_never_published() -> None:
    builder = BookBuilder(BinanceSequenceRule())
    builder.on_snapshot(snapshot(100, [("100", "1")], [("101", "1")]))
    outcomes = builder.on_delta(delta(100, 101, 99, bids=[("101", "1")]))
    assert not tops(outcomes)
    assert builder.counters.crossed == 1
    assert builder.state is BookState.AWAITING_SNAPSHOT


def test_top_is_published_only_when_it_changes() -> None:
    builder = BookBuilder(BinanceSequenceRule())
    builder.on_snapshot(snapshot(100, [("100", "1")], [("101", "1")]))
    assert tops(builder.on_delta(delta(100, 101, 99, bids=[("99", "4")]))) == []
    [top] = tops(builder.on_delta(delta(102, 102, 101, bids=[("100", "0")])))
    assert (top.bid_price, top.book_seq) == (_d("99"), 2)


class ReferenceBook:
    """The naive model: two dicts, sorted on demand."""

    def __init__(self) -> None:
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}

    def apply(self, side: dict[Decimal, Decimal], levels: list[tuple[Decimal, Decimal]]) -> None:
        for price, quantity in levels:
            if quantity == 0:
                side.pop(price, None)
            else:
                side[price] = quantity


_level = st.tuples(
    st.integers(1, 40).map(lambda p: Decimal(p) / 4),
    st.sampled_from([Decimal(0), Decimal("0.5"), Decimal(2)]),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.lists(_level, max_size=6), st.lists(_level, max_size=6)), max_size=30))
def test_l2_book_matches_a_naive_reference(updates: list[tuple[list, list]]) -> None:  # type: ignore[type-arg]
    book, reference = L2Book(), ReferenceBook()
    for bids, asks in updates:
        book.apply_bids(bids)
        book.apply_asks(asks)
        reference.apply(reference.bids, bids)
        reference.apply(reference.asks, asks)
        assert book.bids() == sorted(reference.bids.items(), reverse=True)
        assert book.asks() == sorted(reference.asks.items())
        assert all(q > 0 for _, q in book.bids() + book.asks())


def test_real_binance_capture_matches_every_book_ticker(binance_capture: Path) -> None:
    """Rebuilt tops equal the venue's own bookTicker wherever both carry the same update id."""
    normalizer = BinanceUsdmNormalizer(load_snapshot())
    builder = BookBuilder(BinanceSequenceRule())
    rebuilt: dict[int, tuple[Decimal, ...]] = {}
    tickers: dict[int, tuple[Decimal, ...]] = {}
    with gzip.open(binance_capture, "rb") as lines:
        for line in lines:
            stamp, raw = line.split(b" ", 1)
            frame = orjson.loads(raw)
            if "lastUpdateId" in frame:
                events = normalizer.normalize_rest_snapshot(frame, "BTCUSDT", int(stamp))
            else:
                events = normalizer.normalize(frame, int(stamp))
            for event in events:
                if isinstance(event, BookSnapshot):
                    outcomes = builder.on_snapshot(event)
                elif isinstance(event, BookDelta):
                    outcomes = builder.on_delta(event)
                else:
                    if isinstance(event, BestBidOffer) and event.sequence is not None:
                        tickers[event.sequence] = (
                            event.bid_price,
                            event.bid_quantity,
                            event.ask_price,
                            event.ask_quantity,
                        )
                    continue
                for top in tops(outcomes):
                    rebuilt[top.venue_seq] = (
                        top.bid_price,
                        top.bid_quantity,
                        top.ask_price,
                        top.ask_quantity,
                    )
    common = rebuilt.keys() & tickers.keys()
    mismatches = [u for u in common if rebuilt[u] != tickers[u]]
    assert len(common) >= 100
    assert mismatches == []
    assert builder.counters.gaps == 0
