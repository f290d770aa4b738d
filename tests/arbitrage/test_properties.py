"""Properties of the core on random books: the executable spread never beats the gross spread
minus fees, the fast VWAP walk is the textbook one, and the same input gives the same output."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.arbitrage.core.engine import ArbitrageEngine, Emitted, OpportunityEvent, SpreadSample
from services.arbitrage.core.fees import fee_table
from services.arbitrage.core.vwap import LadderSide, bare_vwap, walk_vwap
from tests.arbitrage.support import MS, SYMBOL, T0, config

sizes = st.floats(min_value=1e-6, max_value=1e3, allow_nan=False, allow_infinity=False)


@st.composite
def books(draw: st.DrawFn) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """A valid (uncrossed) book: 1-20 levels a side around a random mid."""
    mid = draw(st.floats(min_value=1e-4, max_value=1e5))
    tick = mid * draw(st.floats(min_value=1e-6, max_value=1e-3))
    gap = draw(st.integers(min_value=1, max_value=5))
    bid_gaps = draw(st.lists(st.integers(1, 4), min_size=1, max_size=20))
    ask_gaps = draw(st.lists(st.integers(1, 4), min_size=1, max_size=20))
    bids, asks = [], []
    price = mid - gap * tick / 2
    for step in bid_gaps:
        bids.append((price, draw(sizes)))
        price -= step * tick
    price = mid + gap * tick / 2
    for step in ask_gaps:
        asks.append((price, draw(sizes)))
        price += step * tick
    return [(p, q) for p, q in bids if p > 0], asks


@settings(max_examples=300, deadline=None)
@given(
    book_a=books(),
    book_b=books(),
    shift=st.floats(min_value=-0.03, max_value=0.03),
    fee_a=st.floats(min_value=0, max_value=20),
    fee_b=st.floats(min_value=0, max_value=20),
    notionals=st.lists(st.floats(min_value=1e-3, max_value=1e8), min_size=1, max_size=4, unique=True),
)
def test_executable_never_exceeds_gross_minus_fees(
    book_a: tuple[list[tuple[float, float]], list[tuple[float, float]]],
    book_b: tuple[list[tuple[float, float]], list[tuple[float, float]]],
    shift: float,
    fee_a: float,
    fee_b: float,
    notionals: list[float],
) -> None:
    bids_a, asks_a = book_a
    if not bids_a:
        return
    # Put venue B's book near A's so that both directions get exercised.
    scale = (bids_a[0][0] + asks_a[0][0]) / 2 / ((book_b[0][0][0] + book_b[1][0][0]) / 2) * (1 + shift)
    bids_b = [(p * scale, q) for p, q in book_b[0]]
    asks_b = [(p * scale, q) for p, q in book_b[1]]
    engine = ArbitrageEngine(
        config(
            fees=fee_table({"okx": fee_a, "bybit": fee_b}),
            notionals=tuple(sorted(notionals)),
            sample_interval_ns=1,
            sanity_cap_bps=1e9,
        )
    )
    engine.on_depth("okx", SYMBOL, T0, bids_a, asks_a)
    emitted = engine.on_depth("bybit", SYMBOL, T0 + MS, bids_b, asks_b)
    views = [item.view for item in emitted if isinstance(item, SpreadSample | OpportunityEvent)]
    assert {(v.buy.exchange, v.sell.exchange) for v in views} == {("okx", "bybit"), ("bybit", "okx")}
    for view in views:
        assert view.gross_bps is not None
        ceiling = view.gross_bps - view.buy.fee_bps - view.sell.fee_bps
        for fill in view.fills:
            if fill.spread_bps is not None:
                assert fill.spread_bps <= ceiling
                assert fill.buy_vwap is not None
                assert fill.sell_vwap is not None
                assert fill.buy_vwap >= view.buy.best_ask
                assert fill.sell_vwap <= view.sell.best_bid


@settings(max_examples=300, deadline=None)
@given(
    levels=st.lists(st.tuples(st.floats(1e-4, 1e6), sizes), min_size=0, max_size=30),
    fraction=st.one_of(st.just(0.0), st.floats(min_value=1e-9, max_value=1.2)),  # no subnormal sizes
)
def test_fast_walk_matches_the_textbook_walk(levels: list[tuple[float, float]], fraction: float) -> None:
    levels = sorted(levels)
    side = LadderSide.of(levels)
    quantity = side.depth * fraction
    fast, slow = walk_vwap(side, quantity), bare_vwap(levels, quantity)
    if quantity <= 0:
        assert fast is None
        return
    if quantity > side.depth * (1 + 1e-9):
        assert fast is None
        assert slow is None
    elif quantity < side.depth * (1 - 1e-9):
        assert fast is not None
        assert slow is not None
        assert fast == pytest.approx(slow, rel=1e-9)
        assert levels[0][0] * (1 - 1e-12) <= fast <= levels[-1][0] * (1 + 1e-12)


@settings(max_examples=50, deadline=None)
@given(
    moves=st.lists(
        st.tuples(
            st.sampled_from(["okx", "bybit", "binance_usdm"]), st.floats(-0.004, 0.004), st.integers(1, 400)
        ),
        min_size=1,
        max_size=60,
    )
)
def test_same_input_same_output(moves: list[tuple[str, float, int]]) -> None:
    def run() -> list[Emitted]:
        engine = ArbitrageEngine(config(persist_evaluations=2, sample_interval_ns=500 * MS))
        ts, out = T0, list[Emitted]()
        for venue, move, step_ms in moves:
            ts += step_ms * MS
            mid = 60_000.0 * (1 + move)
            bids = [(mid - 0.5 - k, 0.5 + k) for k in range(5)]
            asks = [(mid + 0.5 + k, 0.5 + k) for k in range(5)]
            out.extend(engine.on_depth(venue, SYMBOL, ts, bids, asks))
        return out

    assert run() == run()
