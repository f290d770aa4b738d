"""The real Binance USD-M capture (a calm 5.7 minutes of BTCUSDT) through book-builder and liquidity."""

from decimal import Decimal
from pathlib import Path

import pytest

from schemas.book import BookDepth
from schemas.market_data import Trade
from tests.liquidity.realdata import binance_inputs
from tests.liquidity.support import anomalies, metrics, run_processor


@pytest.fixture(scope="module")
def inputs(binance_capture: Path) -> tuple[BookDepth | Trade, ...]:
    return binance_inputs(binance_capture)


def test_no_crunch_on_a_calm_hour_of_real_binance(inputs: tuple[BookDepth | Trade, ...]) -> None:
    out = run_processor(inputs)
    assert anomalies(out) == []
    samples = metrics(out)
    books = [e for e in inputs if isinstance(e, BookDepth)]
    seconds = (books[-1].exchange_ts // 10**9) - (books[0].exchange_ts // 10**9) + 1
    assert len(samples) == seconds  # one sample per second of exchange time with a book in it
    warm = [m for m in samples if m.spread_z is not None and m.depth_z is not None]
    assert len(warm) == len(samples) - 60  # the warm-up gate
    assert not any(m.breach for m in samples)
    assert max(m.spread_z or 0 for m in warm) < 3
    assert min(m.depth_z or 0 for m in warm) > -3


def test_real_metrics_are_consistent(inputs: tuple[BookDepth | Trade, ...]) -> None:
    samples = metrics(run_processor(inputs))
    by_seq = {e.book_seq: e for e in inputs if isinstance(e, BookDepth)}
    tick = Decimal("0.1")
    one_tick = sum(
        1
        for m in samples
        if m.best_ask is not None and m.best_bid is not None and m.best_ask - m.best_bid == tick
    )
    assert one_tick / len(samples) > 0.95  # BTCUSDT is pinned at one tick
    for m in samples:
        book = by_seq[m.book_seq]
        assert (m.best_bid, m.best_ask) == (book.bids[0][0], book.asks[0][0])
        assert m.mid == (book.bids[0][0] + book.asks[0][0]) / 2
        assert m.microprice is not None
        assert book.bids[0][0] <= m.microprice <= book.asks[0][0]
        assert (m.bid_levels, m.ask_levels) == (len(book.bids), len(book.asks))
        # 50 levels reach about 2 bps: every band holds the whole visible book.
        assert m.bid_reach_bps < 10
        assert m.depth[0].bid_base == sum(q for _, q in book.bids)
        assert m.buy_slippage_bps is not None
        assert m.buy_slippage_bps >= 0
        assert 0 < m.book_updates_per_s <= 10.0 + 1e-9  # the builder publishes at most every 100 ms
    with_trades = [m for m in samples if m.trade_count]
    assert len(with_trades) > 0.9 * len(samples)


def test_real_trade_flow_matches_the_trades(inputs: tuple[BookDepth | Trade, ...]) -> None:
    samples = metrics(run_processor(inputs))
    trades = [e for e in inputs if isinstance(e, Trade)]
    window = 10 * 10**9
    for m in samples[::25]:
        inside = [t for t in trades if m.exchange_ts - window < t.exchange_ts <= m.exchange_ts]
        assert m.trade_count == len(inside)
        assert m.taker_buy_base == sum((t.quantity for t in inside if t.side.value == "buy"), Decimal(0))
        assert m.taker_sell_notional == sum(
            (t.notional for t in inside if t.side.value == "sell"), Decimal(0)
        )
