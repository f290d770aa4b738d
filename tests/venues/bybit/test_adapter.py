"""Bybit v5 linear parsing on real frames from ../shared/data/ccxt-ws/bybit.json: exact values."""

import copy
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import BestBidOffer, BookDelta, BookSnapshot, Funding, Liquidation, OpenInterest, Side, Trade
from services.ingest.normalizer import FrameRejected
from services.ingest.venue import Channel
from services.instruments.catalog import load_snapshot
from services.venues.bybit.adapter import BybitAdapter, BybitNormalizer, split_multiplier
from tests.ingest.fuzzkit import (
    assert_hostile_prices_rejected,
    ccxt_ws_frames,
    draw_mutated,
    json_values,
    only_frame_rejected_escapes,
    rejection,
)

RECEIVED = 1_786_540_400_000_000_000


@pytest.fixture(scope="module")
def normalizer() -> BybitNormalizer:
    return BybitNormalizer(load_snapshot())


@pytest.fixture(scope="module")
def frames(shared_data: Path) -> dict[str, list[dict[str, Any]]]:
    """Raw frames of the linear test cases, by ccxt method."""
    return ccxt_ws_frames(shared_data, "bybit", keep=lambda case: case["url"].endswith("/linear"))


def test_trade(normalizer: BybitNormalizer, frames: dict[str, list[dict[str, Any]]]) -> None:
    ack, first, _ = frames["watchTrades"]
    assert normalizer.normalize(ack, RECEIVED) == []
    # {"T":1786540363843,"s":"BTCUSDT","S":"Buy","v":"0.015","p":"63976.10","i":"e799c7b7-...","seq":...}
    [trade] = normalizer.normalize(first, RECEIVED)
    assert isinstance(trade, Trade)
    assert trade.symbol == "BTC-USDT-PERP"
    assert trade.native_symbol == "BTCUSDT"
    assert trade.trade_id == "e799c7b7-1ccc-53d9-b84a-fb7a460397bc"
    assert trade.side is Side.BUY  # S is the taker side
    assert trade.price == Decimal("63976.10")
    assert trade.quantity == Decimal("0.015")
    assert trade.notional == Decimal("959.64150")
    assert trade.exchange_ts == 1_786_540_363_843_000_000
    assert trade.receive_ts == RECEIVED


def test_linear_quantities_are_base_units_on_a_real_frame(
    normalizer: BybitNormalizer, frames: dict[str, list[dict[str, Any]]]
) -> None:
    # Linear v is base coin: 0.002 BTC at 63976.10 USDT is 127.9522 USDT, as ccxt computed too.
    [trade] = normalizer.normalize(frames["watchTrades"][2], RECEIVED)
    assert isinstance(trade, Trade)
    assert (trade.quantity, trade.notional) == (Decimal("0.002"), Decimal("127.9522"))


def test_book_snapshot_then_delta_carry_u(
    normalizer: BybitNormalizer, frames: dict[str, list[dict[str, Any]]]
) -> None:
    snapshot_frame, delta_frame = frames["watchOrderBook"]
    [snapshot] = normalizer.normalize(snapshot_frame, RECEIVED)
    [delta] = normalizer.normalize(delta_frame, RECEIVED)
    assert isinstance(snapshot, BookSnapshot)
    assert isinstance(delta, BookDelta)
    assert snapshot.sequence.last == 53935309
    assert len(snapshot.bids) == len(snapshot.asks) == 50
    assert snapshot.bids[0] == (Decimal("63982.70"), Decimal("6.408"))
    assert snapshot.asks[0] == (Decimal("63982.80"), Decimal("5.015"))
    assert snapshot.exchange_ts == 1_786_540_345_127_000_000  # cts, the matching-engine time
    assert delta.sequence.last == snapshot.sequence.last + 1  # u grows by one per message
    assert delta.bids == [(Decimal("63982.50"), Decimal("0.003")), (Decimal("63980.60"), Decimal("0.004"))]
    assert delta.asks == [(Decimal("63990.50"), Decimal("0.008"))]
    assert delta.exchange_ts == 1_786_540_345_147_000_000


def test_level_one_book_is_the_bbo(
    normalizer: BybitNormalizer, frames: dict[str, list[dict[str, Any]]]
) -> None:
    frame = copy.deepcopy(frames["watchOrderBook"][0])
    frame["topic"] = "orderbook.1.BTCUSDT"
    frame["data"]["b"], frame["data"]["a"] = frame["data"]["b"][:1], frame["data"]["a"][:1]
    [bbo] = normalizer.normalize(frame, RECEIVED)
    assert isinstance(bbo, BestBidOffer)
    assert (bbo.bid_price, bbo.bid_quantity) == (Decimal("63982.70"), Decimal("6.408"))
    assert (bbo.ask_price, bbo.ask_quantity) == (Decimal("63982.80"), Decimal("5.015"))
    assert bbo.sequence == 760578520138  # seq: comparable across depth topics, unlike u


def test_ticker_snapshot_is_funding_and_open_interest(
    normalizer: BybitNormalizer, frames: dict[str, list[dict[str, Any]]]
) -> None:
    snapshot_frame, delta_frame = frames["watchTicker"]
    funding, open_interest = normalizer.normalize(snapshot_frame, RECEIVED)
    assert isinstance(funding, Funding)
    assert funding.rate == Decimal("0.0000544")
    assert funding.interval_s == 8 * 3600
    assert funding.next_funding_ts == 1_786_550_400_000_000_000
    assert funding.mark_price == Decimal("63958.60")
    assert funding.index_price == Decimal("63986.67")
    assert funding.exchange_ts == 1_786_540_397_684_000_000
    assert isinstance(open_interest, OpenInterest)
    assert open_interest.open_interest == Decimal("57798.137")
    assert open_interest.open_interest_notional == Decimal("3696687925.13")
    # The delta only carries indexPrice: nothing complete to publish without state.
    assert normalizer.normalize(delta_frame, RECEIVED) == []


def test_all_liquidation_side_is_the_closing_order() -> None:
    # Shape from the docs (allLiquidation); S = side of the liquidated position.
    frame = {
        "topic": "allLiquidation.BTCUSDT",
        "type": "snapshot",
        "ts": 1739502303204,
        "data": [{"T": 1739502302929, "s": "BTCUSDT", "S": "Buy", "v": "0.5", "p": "96000.5"}],
    }
    [liquidation] = BybitNormalizer(load_snapshot()).normalize(frame, RECEIVED)
    assert isinstance(liquidation, Liquidation)
    assert liquidation.side is Side.SELL  # a long was liquidated: closed by a sell
    assert liquidation.quantity == Decimal("0.5")
    assert liquidation.notional == Decimal("48000.25")


_OLDER_LIQUIDATION: dict[str, Any] = {
    "topic": "liquidation.BTCUSDT",
    "type": "snapshot",
    "ts": 1739502303204,
    "data": {
        "updatedTime": 1739502302929,
        "symbol": "BTCUSDT",
        "side": "Buy",
        "size": "0.5",
        "price": "96000.5",
    },
}
"""``liquidation.{symbol}``, shape from the docs (bybit-exchange.github.io/docs/v5/websocket/public/liquidation)."""


def test_the_older_liquidation_topic_reads_like_all_liquidation() -> None:
    """Issue 15: ``liquidation.{symbol}`` (before ``allLiquidation``) still appears in older captures.
    Shape from the docs (bybit-exchange.github.io/docs/v5/websocket/public/liquidation): one object,
    ``side`` the liquidated position's side."""
    frame = _OLDER_LIQUIDATION
    [older] = BybitNormalizer(load_snapshot()).normalize(frame, RECEIVED)
    assert isinstance(older, Liquidation)
    assert older.side is Side.SELL
    assert (older.quantity, older.notional, older.exchange_ts) == (
        Decimal("0.5"),
        Decimal("48000.25"),
        1_739_502_302_929_000_000,
    )
    list_data = {**frame, "data": [frame["data"]]}
    assert (
        rejection(BybitNormalizer(load_snapshot()).normalize, list_data, RECEIVED).error_type == "malformed"
    )


def test_prefixed_contract_is_scaled_to_the_true_base() -> None:
    frame = {
        "topic": "publicTrade.1000PEPEUSDT",
        "ts": 1,
        "data": [{"T": 1, "s": "1000PEPEUSDT", "S": "Sell", "v": "1000", "p": "0.0123000", "i": "x"}],
    }
    [trade] = BybitNormalizer(load_snapshot()).normalize(frame, RECEIVED)
    assert isinstance(trade, Trade)
    assert trade.symbol == "PEPE-USDT-PERP"
    assert trade.quantity == Decimal("1000000")
    assert trade.price == Decimal("0.0000123")
    assert trade.notional == Decimal("12.3000000")


def test_parse_instruments_on_the_documented_response() -> None:
    # Shape of GET /v5/market/instruments-info?category=linear (docs example, trimmed).
    payload = {
        "retCode": 0,
        "result": {
            "category": "linear",
            "list": [
                {
                    "symbol": "BTCUSDT",
                    "contractType": "LinearPerpetual",
                    "status": "Trading",
                    "baseCoin": "BTC",
                    "quoteCoin": "USDT",
                    "fundingInterval": 480,
                    "priceFilter": {"minPrice": "0.10", "maxPrice": "199999.80", "tickSize": "0.10"},
                    "lotSizeFilter": {"maxOrderQty": "100.000", "minOrderQty": "0.001", "qtyStep": "0.001"},
                },
                {
                    "symbol": "1000PEPEUSDT",
                    "contractType": "LinearPerpetual",
                    "status": "Trading",
                    "baseCoin": "1000PEPE",
                    "quoteCoin": "USDT",
                    "fundingInterval": 240,
                    "priceFilter": {"tickSize": "0.0000001"},
                    "lotSizeFilter": {"qtyStep": "100"},
                },
                {"symbol": "BTC-27MAR26", "contractType": "LinearFutures", "status": "Trading"},
            ],
        },
    }
    btc, pepe = BybitAdapter(load_snapshot()).parse_instruments(payload)
    assert (btc.symbol, btc.tick_size, btc.lot_size, btc.funding_interval_s) == (
        "BTC-USDT-PERP",
        Decimal("0.1"),
        Decimal("0.001"),
        28800,
    )
    assert (pepe.symbol, pepe.multiplier, pepe.funding_interval_s) == ("PEPE-USDT-PERP", Decimal(1000), 14400)
    assert split_multiplier("SHIB1000") == ("SHIB", Decimal(1000))


def test_adapter_protocol_facts() -> None:
    adapter = BybitAdapter(load_snapshot())
    frames = adapter.subscribe_frames(frozenset(Channel), ["BTCUSDT", "ETHUSDT"])
    topics = [topic for frame in frames for topic in orjson.loads(frame)["args"]]
    assert "orderbook.50.BTCUSDT" in topics
    assert "orderbook.1.ETHUSDT" in topics
    assert topics.count("tickers.BTCUSDT") == 1  # funding and open interest share the topic
    assert all(len(orjson.loads(frame)["args"]) <= 10 for frame in frames)
    assert adapter.ping_frame() == '{"op":"ping"}'
    assert adapter.is_control_frame({"success": True, "ret_msg": "pong", "op": "ping"})
    assert not adapter.is_control_frame({"success": False, "ret_msg": "error", "op": "subscribe"})
    assert adapter.book_snapshot_request("BTCUSDT") is None
    assert adapter.connect_request() is None
    assert adapter.ws_url_from(None) == adapter.ws_url


@pytest.mark.parametrize(
    ("frame", "error_type"),
    [
        ({"topic": "publicTrade.BTCUSDT", "data": [{"s": "BTCUSDT"}]}, "malformed"),
        (
            {
                "topic": "publicTrade.NOPE",
                "data": [{"T": 1, "s": "NOPE", "S": "Buy", "v": "1", "p": "1", "i": "1"}],
            },
            "unknown_instrument",
        ),
        (
            {
                "topic": "publicTrade.BTCUSDT",
                "data": [{"T": 1, "s": "BTCUSDT", "S": "Up", "v": "1", "p": "1", "i": "1"}],
            },
            "malformed",
        ),
        (
            {
                "topic": "publicTrade.BTCUSDT",
                "data": [{"T": 1, "s": "BTCUSDT", "S": "Buy", "v": "1", "p": "-1", "i": "1"}],
            },
            "malformed",
        ),
        (
            {
                "topic": "orderbook.50.BTCUSDT",
                "type": "weird",
                "ts": 1,
                "data": {"s": "BTCUSDT", "b": [], "a": [], "u": 1},
            },
            "malformed",
        ),
        ({"topic": "kline.1.BTCUSDT", "data": []}, "unknown_event"),
        ({"data": []}, "malformed"),
        ({"success": False, "ret_msg": "error:handler not found", "op": "subscribe"}, "venue_error"),
    ],
)
def test_bad_frames_are_rejected_with_a_reason(frame: dict[str, Any], error_type: str) -> None:
    assert rejection(BybitNormalizer(load_snapshot()).normalize, frame, RECEIVED).error_type == error_type


@settings(max_examples=250, deadline=None)
@given(data=st.data())
def test_mutated_real_frames_never_raise_anything_but_frame_rejected(
    frames: dict[str, list[dict[str, Any]]], data: st.DataObject
) -> None:
    normalizer = BybitNormalizer(load_snapshot())
    pool = [f for method in frames.values() for f in method] + [_OLDER_LIQUIDATION]
    frame = draw_mutated(data, pool, wrap=lambda body: {"data": body})
    only_frame_rejected_escapes(normalizer.normalize, frame, RECEIVED)


_TOPICS = ["publicTrade.BTCUSDT", "orderbook.50.BTCUSDT", "orderbook.1.BTCUSDT", "tickers.BTCUSDT"]


@settings(max_examples=150, deadline=None)
@given(
    topic=st.sampled_from([*_TOPICS, "allLiquidation.BTCUSDT", "liquidation.BTCUSDT"]) | json_values,
    body=st.dictionaries(
        st.sampled_from(["type", "ts", "data", "op", "cts", "success"]), json_values, max_size=5
    ),
)
def test_random_frames_never_raise_anything_but_frame_rejected(topic: Any, body: dict[str, Any]) -> None:
    only_frame_rejected_escapes(
        BybitNormalizer(load_snapshot()).normalize, {"topic": topic, **body}, RECEIVED
    )


def test_a_trade_with_a_hostile_price_is_rejected_with_a_reason(
    frames: dict[str, list[dict[str, Any]]],
) -> None:
    """The fuzz family's assertion: a valid-looking mutation of a real trade, its price set to a
    number no market has (negative, zero, NaN, infinite, out of range, not a number), is rejected
    with a reason (``fuzzkit.PRICE_REJECTIONS``), never published."""
    normalizer = BybitNormalizer(load_snapshot())
    pool = [f for method in frames.values() for f in method]
    assert_hostile_prices_rejected(lambda frame: normalizer.normalize(frame, RECEIVED), pool)


decimal_texts = st.one_of(
    st.from_regex(r"\A[0-9]{1,6}(\.[0-9]{1,6})?\Z"),  # the trusted path, mostly
    st.from_regex(r"\A[0-9]{1,16}(\.[0-9]{1,16})?\Z"),  # near and past its 28-character budget
    st.sampled_from(["0", "0.000", "-1", "1e5", "1E-3", "NaN", "1.2.3", ".", "", " 1", "1" * 29]),
)


@settings(max_examples=300, deadline=None)
@given(
    topic=st.sampled_from(["publicTrade", "orderbook.50", "orderbook.1"]),
    kind=st.sampled_from(["snapshot", "delta"]),
    symbol=st.sampled_from(["BTCUSDT", "1000PEPEUSDT"]),  # exactly unit, and a multiplier of 1000
    texts=st.lists(decimal_texts, min_size=4, max_size=4),
)
def test_trusted_events_equal_validated_ones(topic: str, kind: str, symbol: str, texts: list[str]) -> None:
    """Trades, books and tops of book are built unvalidated when their texts are surely in the
    contract (``services.ingest.trusted``): each must be the event the contract's validation
    makes of it, with the same JSON and the same fields set."""
    if topic == "publicTrade":
        row = {"T": 1672304486865, "s": symbol, "S": "Buy", "v": texts[0], "p": texts[1], "i": "t-1"}
        frame: dict[str, Any] = {"topic": f"{topic}.{symbol}", "type": "snapshot", "ts": 1, "data": [row]}
    else:
        levels = {"b": [[texts[0], texts[1]]], "a": [[texts[2], texts[3]]], "u": 7, "seq": 9, "s": symbol}
        frame = {"topic": f"{topic}.{symbol}", "type": kind, "ts": 1, "cts": 2, "data": levels}
    try:
        events = BybitNormalizer(load_snapshot()).normalize(frame, RECEIVED)
    except FrameRejected:
        return
    for event in events:
        validated = type(event).model_validate(
            {name: getattr(event, name) for name in event.model_fields_set}
        )
        assert validated.model_dump_json() == event.model_dump_json()
        assert validated.model_fields_set == event.model_fields_set
