"""The gateway's in-memory book, its fan-out, and the API-key configuration."""

import orjson
import pytest

from services.matching.gateway.market import MarketData
from services.matching.gateway.settings import GatewaySettings, parse_api_keys


def _level(l2_seq: int, side: str, price: str, quantity: str, seq: int = 0) -> bytes:
    return orjson.dumps(
        {
            "kind": "l2",
            "seq": seq or l2_seq,
            "symbol": "BTC-USDT",
            "l2_seq": l2_seq,
            "side": side,
            "price": price,
            "quantity": quantity,
        }
    )


def test_depth_is_sorted_best_first_and_drops_emptied_levels() -> None:
    market = MarketData()
    for update in (
        _level(1, "bid", "99.5", "0.010"),
        _level(2, "bid", "100.0", "0.020"),
        _level(3, "ask", "101.0", "0.030"),
        _level(4, "ask", "100.5", "0.040"),
        _level(5, "bid", "9.9", "1.000"),
        _level(6, "ask", "101.0", "0.000"),
    ):
        market.apply_market_data(update)
    book = market.book("BTC-USDT")
    assert book is not None
    depth = book.depth(10)
    assert [(level.price, level.quantity) for level in depth.bids] == [
        ("100.0", "0.020"),
        ("99.5", "0.010"),
        ("9.9", "1.000"),
    ]
    assert [(level.price, level.quantity) for level in depth.asks] == [("100.5", "0.040")]
    assert depth.complete
    assert depth.l2_seq == 6
    assert [level.price for level in book.depth(1).bids] == ["100.0"]


def test_a_missing_l2_update_marks_the_depth_incomplete() -> None:
    market = MarketData()
    market.apply_market_data(_level(2, "bid", "100.0", "0.020"))  # the start was not seen
    book = market.book("BTC-USDT")
    assert book is not None
    assert not book.depth(5).complete


def test_bbo_is_the_latest_top_event() -> None:
    market = MarketData()
    top = {
        "kind": "bbo",
        "seq": 9,
        "symbol": "BTC-USDT",
        "l2_seq": 4,
        "bid_price": "100.0",
        "bid_quantity": "0.020",
        "ask_price": None,
        "ask_quantity": None,
    }
    market.apply_market_data(orjson.dumps(top))
    book = market.book("BTC-USDT")
    assert book is not None
    bbo = book.bbo()
    assert bbo is not None
    assert bbo.model_dump() == {key: value for key, value in top.items() if key != "kind"}


async def test_subscribers_get_their_stream_and_symbol_only() -> None:
    market = MarketData()
    everything, _ = market.subscribe("md", None)
    other_symbol, _ = market.subscribe("md", "ETH-USDT")
    trades, _ = market.subscribe("trades", "BTC-USDT")
    update = _level(1, "bid", "100.0", "0.020")
    market.apply_market_data(update)
    trade = orjson.dumps({"kind": "trade", "symbol": "BTC-USDT", "trade_id": 1})
    market.apply_trade(trade)
    assert await everything.next() == update.decode()
    assert await trades.next() == trade.decode()
    assert other_symbol._queue.empty()
    assert everything._queue.empty()
    market.unsubscribe(everything)
    assert market.subscriber_count == 2


async def test_a_new_md_subscriber_starts_from_the_current_depth() -> None:
    market = MarketData()
    market.apply_market_data(_level(1, "bid", "100.0", "0.020"))
    subscriber, snapshots = market.subscribe("md", "BTC-USDT")
    assert [(s.symbol, s.l2_seq, len(s.bids)) for s in snapshots] == [("BTC-USDT", 1, 1)]
    _, none = market.subscribe("md", "ETH-USDT")
    assert none == []
    market.apply_market_data(_level(2, "ask", "101.0", "0.010"))
    assert orjson.loads(str(await subscriber.next()))["l2_seq"] == 2


async def test_a_client_that_falls_behind_is_told_to_go() -> None:
    market = MarketData(ws_buffer=2)
    subscriber, _ = market.subscribe("trades", None)
    for trade_id in range(1, 5):
        market.apply_trade(orjson.dumps({"kind": "trade", "symbol": "X", "trade_id": trade_id}))
    assert subscriber.overflowed
    messages = [await subscriber.next() for _ in range(3)]
    assert messages[-1] is None


def test_api_keys_map_to_accounts() -> None:
    assert parse_api_keys(" k1:A , k2:B,") == {"k1": "A", "k2": "B"}
    assert parse_api_keys("") == {}
    assert GatewaySettings(api_keys="k1:A").accounts_by_key() == {"k1": "A"}


@pytest.mark.parametrize("text", ["k1", "k1:", ":A", "k1:A,k1:B", "k1:" + "A" * 65])
def test_malformed_api_keys_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"api key|account"):
        GatewaySettings(api_keys=text)
