"""The ingestor's continuity watch (issue 15, class 5): a break is said once, until the next snapshot."""

from schemas.common import ExchangeId
from schemas.market_data import BookSequence
from services.book_builder.core.watch import continuity_watch_for
from services.venues import book_spec_for


def test_okx_prev_id_chain_breaks_once_then_heals_on_the_next_snapshot() -> None:
    watch = continuity_watch_for(book_spec_for(ExchangeId.OKX))
    assert watch is not None
    assert not watch.on_delta("BTC-USDT-SWAP", BookSequence(last=5, prev=4))  # before any snapshot
    watch.on_snapshot("BTC-USDT-SWAP", BookSequence(last=10, prev=-1))
    assert not watch.on_delta("BTC-USDT-SWAP", BookSequence(last=11, prev=10))
    assert not watch.on_delta("BTC-USDT-SWAP", BookSequence(last=11, prev=11))  # heartbeat
    assert watch.on_delta("BTC-USDT-SWAP", BookSequence(last=14, prev=13))  # 12..13 lost
    assert watch.broken("BTC-USDT-SWAP")
    assert not watch.on_delta("BTC-USDT-SWAP", BookSequence(last=15, prev=14))  # said once
    assert not watch.broken("ETH-USDT-SWAP")
    watch.on_snapshot("BTC-USDT-SWAP", BookSequence(last=20, prev=-1))
    assert not watch.broken("BTC-USDT-SWAP")
    assert not watch.on_delta("BTC-USDT-SWAP", BookSequence(last=21, prev=20))
    assert watch.breaks == 1


def test_bybit_contiguous_ids_and_a_new_session() -> None:
    watch = continuity_watch_for(book_spec_for(ExchangeId.BYBIT))
    assert watch is not None
    watch.on_snapshot("BTCUSDT", BookSequence(last=100))
    assert not watch.on_delta("BTCUSDT", BookSequence(first=101, last=101))
    assert not watch.on_delta("BTCUSDT", BookSequence(first=101, last=101))  # stale: not a break
    assert watch.on_delta("BTCUSDT", BookSequence(first=103, last=103))
    watch.reset()  # a reconnect: nothing is judged before the session's snapshot
    assert not watch.on_delta("BTCUSDT", BookSequence(first=200, last=200))


def test_rest_bootstrapped_venues_have_no_watch() -> None:
    """Their broken books are resynced from REST by the book builder."""
    assert continuity_watch_for(book_spec_for(ExchangeId.BINANCE_USDM)) is None
    assert continuity_watch_for(book_spec_for(ExchangeId.GATEIO)) is None
    assert continuity_watch_for(book_spec_for(ExchangeId.OKX)) is not None
