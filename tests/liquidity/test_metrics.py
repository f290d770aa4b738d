"""Every book metric on books computed by hand: one level, many levels, an empty side, a thin book."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.liquidity.core.metrics import (
    book_metrics,
    imbalance,
    microprice,
    mid_and_spread,
    side_bands,
    slippage_bps,
    vwap_for_notional,
)

D = Decimal


def levels(*pairs: tuple[str, str]) -> list[tuple[Decimal, Decimal]]:
    return [(D(p), D(q)) for p, q in pairs]


def test_one_level_each_side() -> None:
    bids, asks = levels(("99", "2")), levels(("101", "1"))
    m = book_metrics(bids, asks, imbalance_levels=5, slippage_notional=D(50))
    assert m is not None
    assert m.mid == D(100)
    assert m.spread_bps == pytest.approx(200.0)  # 2 / 100 * 1e4
    # (99 * 1 + 101 * 2) / 3 = 100.333...: leans to the ask, where size is thinner.
    assert m.microprice == D("100.3333")
    assert m.imbalance == pytest.approx((2 - 1) / 3)
    # 10 and 25 bps of 100 are 99.9 and 99.75: neither touch reaches; 100 bps is 99..101 inclusive.
    assert m.band(10).bid_base == m.band(25).bid_base == m.band(50).bid_base == 0
    assert (m.band(100).bid_base, m.band(100).ask_base) == (D(2), D(1))
    assert (m.band(100).bid_notional, m.band(100).ask_notional) == (D(198), D(101))
    assert m.bid_reach_bps == pytest.approx(100.0)
    assert m.ask_reach_bps == pytest.approx(100.0)
    # 50 quote of 101 asks: VWAP 101, 100 bps above the mid; 50 quote of 99 bids: 100 bps below.
    assert m.buy_slippage_bps == pytest.approx(100.0)
    assert m.sell_slippage_bps == pytest.approx(100.0)
    assert (m.bid_levels, m.ask_levels) == (1, 1)


def test_many_levels() -> None:
    bids = levels(("1000.0", "1"), ("999.5", "2"), ("998.0", "3"), ("990.1", "4"), ("985.0", "5"))
    asks = levels(("1000.2", "1"), ("1001.0", "1"), ("1002.4", "2"), ("1009.0", "4"), ("1020.0", "8"))
    m = book_metrics(bids, asks, imbalance_levels=2, slippage_notional=D(3000))
    assert m is not None
    assert m.mid == D("1000.1")
    assert m.spread_bps == pytest.approx(0.2 / 1000.1 * 1e4)
    # bands around 1000.1: 10 bps = +-1.0001, 25 = +-2.50025, 50 = +-5.0005, 100 = +-10.001
    b10, b25, b50, b100 = (m.band(x) for x in (10, 25, 50, 100))
    assert (b10.bid_base, b10.ask_base) == (D(3), D(2))  # 1000.0, 999.5 | 1000.2, 1001.0
    assert (b25.bid_base, b25.ask_base) == (D(6), D(4))  # + 998.0 | + 1002.4
    assert (b50.bid_base, b50.ask_base) == (D(6), D(4))
    assert (b100.bid_base, b100.ask_base) == (
        D(10),
        D(8),
    )  # + 990.1 (>= 990.099) | + 1009.0; 985 and 1020 are out
    assert b10.bid_notional == D("1000.0") + D("1999.0")
    assert b100.ask_notional == D("1000.2") + D("1001.0") + D("2004.8") + D("4036.0")
    assert m.imbalance == pytest.approx((3 - 2) / 5)
    # buy 3000: 1000.2 (1 unit) + 1001.0 (1 unit) + 998.8 quote at 1002.4
    filled = D(2) + D("998.8") / D("1002.4")
    vwap = D(3000) / filled
    assert m.buy_slippage_bps == pytest.approx(float((vwap - D("1000.1")) / D("1000.1") * 10_000))
    # sell 3000: 1000 (1) + 1999 quote at 999.5 (2) + 1 quote at 998
    sold = D(1) + D(2) + D(1) / D(998)
    assert m.sell_slippage_bps == pytest.approx(float((D("1000.1") - D(3000) / sold) / D("1000.1") * 10_000))


def test_an_empty_side() -> None:
    m = book_metrics(levels(("100", "1"), ("99.95", "3")), [], imbalance_levels=5)
    assert m is not None
    assert m.mid is None
    assert m.spread_bps is None
    assert m.microprice is None
    assert m.reference == D(100)
    assert m.imbalance == 1.0
    assert m.band(10).bid_base == D(4)
    assert m.band(10).ask_base == 0
    assert m.band(100).ask_notional == 0
    assert m.ask_reach_bps == 0.0
    assert m.buy_slippage_bps is None
    assert m.sell_slippage_bps is None
    only_asks = book_metrics([], levels(("100", "1")))
    assert only_asks is not None
    assert only_asks.imbalance == -1.0


def test_an_empty_book_has_no_metrics() -> None:
    assert book_metrics([], []) is None
    assert imbalance([], [], 5) is None


def test_a_book_too_thin_for_the_notional() -> None:
    bids, asks = levels(("99", "1")), levels(("101", "1"), ("102", "1"))
    m = book_metrics(bids, asks, slippage_notional=D(1000))
    assert m is not None
    assert m.buy_slippage_bps is None  # 203 quote of asks
    assert m.sell_slippage_bps is None  # 99 quote of bids
    exact = book_metrics(bids, asks, slippage_notional=D(203))
    assert exact is not None
    assert exact.buy_slippage_bps == pytest.approx(float((D(203) / D(2) - D(100)) / D(100) * 10_000))


def test_band_edges_are_inclusive() -> None:
    # mid 100: the 10 bps band is [99.9, 100.1].
    base, _, _ = side_bands(levels(("99.9", "1"), ("99.89", "1")), D(100), (10,), bid=True)
    assert base == [D(1)]
    base, _, _ = side_bands(levels(("100.1", "1"), ("100.11", "1")), D(100), (10,), bid=False)
    assert base == [D(1)]


def test_microprice_without_size_is_the_mid() -> None:
    assert microprice(levels(("99", "0")), levels(("101", "0"))) == D(100)
    assert mid_and_spread([], levels(("1", "1"))) == (None, None)


def test_zero_or_missing_mid_gives_no_slippage() -> None:
    asks = levels(("101", "10"))
    assert slippage_bps(asks, D(0), D(100), buy=True) is None
    assert slippage_bps(asks, D(10), None, buy=True) is None


price_levels = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=10_000),  # ticks away from the touch
        st.integers(min_value=1, max_value=1_000),  # lots
    ),
    min_size=1,
    max_size=30,
    unique_by=lambda level: level[0],
)


@given(
    bid_ticks=price_levels, ask_ticks=price_levels, notional=st.integers(min_value=1, max_value=10_000_000)
)
def test_metrics_agree_with_brute_force(
    bid_ticks: list[tuple[int, int]], ask_ticks: list[tuple[int, int]], notional: int
) -> None:
    tick, lot, mid_ticks = D("0.1"), D("0.001"), 600_000
    bids = [(D(mid_ticks - 1 - t) * tick, D(q) * lot) for t, q in sorted(bid_ticks)]
    asks = [(D(mid_ticks + t) * tick, D(q) * lot) for t, q in sorted(ask_ticks)]
    m = book_metrics(bids, asks, imbalance_levels=3, slippage_notional=D(notional))
    assert m is not None
    assert m.mid is not None
    for band in m.bands:
        low = m.mid * (10_000 - band.bps) / 10_000
        high = m.mid * (10_000 + band.bps) / 10_000
        assert band.bid_base == sum((q for p, q in bids if p >= low), D(0))
        assert band.ask_base == sum((q for p, q in asks if p <= high), D(0))
        assert band.ask_notional == sum((p * q for p, q in asks if p <= high), D(0))
    total_ask = sum((p * q for p, q in asks), D(0))
    vwap = vwap_for_notional(asks, D(notional))
    assert (vwap is None) == (total_ask < notional)
    if vwap is not None:
        slack = D("1e-20") * asks[-1][0]  # one Decimal division of 28 digits
        assert asks[0][0] - slack <= vwap <= asks[-1][0] + slack
        assert m.buy_slippage_bps is not None
        assert m.buy_slippage_bps > 0
    assert m.imbalance is not None
    assert -1 <= m.imbalance <= 1
    assert m.microprice is not None
    assert bids[0][0] <= m.microprice <= asks[0][0]
