"""Properties of the book core, over generated update sequences (hypothesis)."""

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.common import ExchangeId
from schemas.market_data import BookDelta, BookSequence, BookSnapshot
from services.book_builder.core import BinanceSequenceRule, BookBuilder, BookState, L2Book, TopOfBook
from services.book_builder.core.builder import BookInvalidated
from services.book_builder.core.checksum import WireUnits
from services.instruments.catalog import Instrument

IDS = {"exchange": ExchangeId.BINANCE_USDM, "symbol": "BTC-USDT-PERP", "native_symbol": "BTCUSDT"}
Level = tuple[Decimal, Decimal]

quantities = st.sampled_from([Decimal(0), Decimal("0.001"), Decimal("0.5"), Decimal(2), Decimal("13.370")])
# Bids below 100 and asks above it: any sequence of valid updates keeps the book uncrossed.
bid_levels = st.lists(st.tuples(st.integers(1, 399).map(lambda t: Decimal(t) / 4), quantities), max_size=8)
ask_levels = st.lists(st.tuples(st.integers(401, 800).map(lambda t: Decimal(t) / 4), quantities), max_size=8)
updates = st.lists(st.tuples(bid_levels, ask_levels, st.integers(1, 3)), max_size=40)


class ReferenceBook:
    """The naive model: two dicts, sorted on demand."""

    def __init__(self) -> None:
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}

    def apply(self, bids: list[Level], asks: list[Level]) -> None:
        for side, levels in ((self.bids, bids), (self.asks, asks)):
            for price, quantity in levels:
                if quantity == 0:
                    side.pop(price, None)
                else:
                    side[price] = quantity

    def sorted_bids(self) -> list[Level]:
        return sorted(self.bids.items(), reverse=True)

    def sorted_asks(self) -> list[Level]:
        return sorted(self.asks.items())

    def top(self) -> tuple[Decimal, ...] | None:
        if not self.bids or not self.asks:
            return None
        (bp, bq), (ap, aq) = self.sorted_bids()[0], self.sorted_asks()[0]
        return bp, bq, ap, aq


def chain(
    snapshot_bids: list[Level], snapshot_asks: list[Level], steps: list[tuple[list[Level], list[Level], int]]
) -> tuple[BookSnapshot, list[BookDelta]]:
    """A snapshot at id 1000 and deltas whose U/u/pu chain as Binance sends them."""
    snapshot = BookSnapshot(
        **IDS,
        exchange_ts=0,
        receive_ts=0,
        sequence=BookSequence(last=1000),
        bids=snapshot_bids,
        asks=snapshot_asks,
    )
    deltas, last = [], 1000
    for index, (bids, asks, width) in enumerate(steps):
        first = last if index == 0 else last + 1  # the first diff straddles lastUpdateId
        deltas.append(
            BookDelta(
                **IDS,
                exchange_ts=index + 1,
                receive_ts=index + 1,
                sequence=BookSequence(first=first, last=last + width, prev=last),
                bids=bids,
                asks=asks,
            )
        )
        last += width
    return snapshot, deltas


@settings(max_examples=150, deadline=None)
@given(bid_levels, ask_levels, updates)
def test_after_any_valid_updates_the_book_equals_a_naive_reference(
    snapshot_bids: list[Level], snapshot_asks: list[Level], steps: list[tuple[list[Level], list[Level], int]]
) -> None:
    snapshot, deltas = chain(snapshot_bids, snapshot_asks, steps)
    builder, reference = BookBuilder(BinanceSequenceRule()), ReferenceBook()
    published = [o for o in builder.on_snapshot(snapshot) if isinstance(o, TopOfBook)]
    reference.apply(snapshot_bids, snapshot_asks)
    expected_tops = [reference.top()] if reference.top() else []
    for event in deltas:
        published += [o for o in builder.on_delta(event) if isinstance(o, TopOfBook)]
        reference.apply(event.bids, event.asks)
        bids, asks = builder.book.bids(), builder.book.asks()
        assert bids == reference.sorted_bids()
        assert asks == reference.sorted_asks()
        assert all(q > 0 for _, q in bids + asks), "no zero-quantity level is ever kept"
        assert [p for p, _ in bids] == sorted((p for p, _ in bids), reverse=True)
        top = reference.top()
        if top is not None and (not expected_tops or expected_tops[-1] != top):
            expected_tops.append(top)
    assert builder.state is BookState.LIVE
    assert builder.counters.gaps == 0
    assert [(t.bid_price, t.bid_quantity, t.ask_price, t.ask_quantity) for t in published] == expected_tops
    assert all(t.bid_price < t.ask_price for t in published)


@settings(max_examples=100, deadline=None)
@given(bid_levels, ask_levels, updates.filter(lambda u: len(u) >= 2), st.data())
def test_a_missing_delta_is_always_detected_and_nothing_is_published_after_it(
    snapshot_bids: list[Level],
    snapshot_asks: list[Level],
    steps: list[tuple[list[Level], list[Level], int]],
    data: st.DataObject,
) -> None:
    snapshot, deltas = chain(snapshot_bids, snapshot_asks, steps)
    dropped = data.draw(st.integers(0, len(deltas) - 2), label="dropped delta")
    builder = BookBuilder(BinanceSequenceRule())
    builder.on_snapshot(snapshot)
    outcomes = []
    for index, event in enumerate(deltas):
        if index != dropped:
            outcomes.append(builder.on_delta(event))
    after_break = [o for batch in outcomes[dropped:] for o in batch]
    assert isinstance(after_break[0], BookInvalidated)
    assert not any(isinstance(o, TopOfBook) for o in after_break)
    assert builder.state is BookState.AWAITING_SNAPSHOT
    assert builder.counters.gaps == 1


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 40).map(lambda p: Decimal(p) / 4), quantities), max_size=30))
def test_l2_book_sides_stay_sorted_without_zero_levels(levels: list[Level]) -> None:
    book, reference = L2Book(), ReferenceBook()
    half = len(levels) // 2
    book.apply_bids(levels[:half])
    book.apply_asks(levels[half:])
    reference.apply(levels[:half], levels[half:])
    assert book.bids() == reference.sorted_bids()
    assert book.asks() == reference.sorted_asks()
    assert book.bids(3) == reference.sorted_bids()[:3]
    assert book.asks(3) == reference.sorted_asks()[:3]


wire_numbers = st.decimals(min_value=Decimal("0.00001"), max_value=Decimal(10**6), places=5).map(
    lambda d: Decimal(format(d.normalize(), "f"))
)


@settings(max_examples=300, deadline=None)
@given(
    wire_numbers,
    wire_numbers,
    st.sampled_from(["0.0001", "0.01", "1", "10", "100", "1000000"]),
    st.sampled_from(["1", "1000"]),
)
def test_linear_units_come_back_to_the_venue_digits(
    price: Decimal, size: Decimal, contract_size: str, multiplier: str
) -> None:
    instrument = Instrument(
        exchange=ExchangeId.OKX,
        native_symbol="X-USDT-SWAP",
        base="X",
        quote="USDT",
        tick_size=Decimal("0.1"),
        lot_size=Decimal(1),
        contract_size=Decimal(contract_size),
        inverse=False,
        multiplier=Decimal(multiplier),
    )
    normalized = [(instrument.base_price(price), instrument.base_quantity(size, price))]
    units = WireUnits(instrument.contract_size, False, instrument.multiplier)
    [(wire_price, wire_size)] = units.to_wire(normalized)
    assert (format(wire_price, "f"), format(wire_size, "f")) == (format(price, "f"), format(size, "f"))


@settings(max_examples=300, deadline=None)
@given(wire_numbers, st.integers(1, 10**7), st.sampled_from(["1", "10", "100"]))
def test_inverse_contract_counts_come_back_to_the_venue_digits(
    price: Decimal, contracts: int, size: str
) -> None:
    base = Decimal(contracts) * Decimal(size) / price  # what the parsers publish for inverse books
    [(wire_price, wire_contracts)] = WireUnits(Decimal(size), True).to_wire([(price, base)])
    assert (format(wire_price, "f"), format(wire_contracts, "f")) == (format(price, "f"), str(contracts))
