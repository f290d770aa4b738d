"""KuCoin Futures parsing on real frames from ../shared/data/ccxt-ws/kucoinfutures.json: exact values.

../shared/data has no KuCoin Futures ``level2`` capture (cryptofeed's KUCOIN files are spot), so
the book chain is checked on frames of the documented shape.
"""

from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import BestBidOffer, BookDelta, BookSnapshot, Funding, OpenInterest, Side, Trade
from services.ingest.normalizer import FrameRejected
from services.ingest.venue import Channel
from services.instruments.catalog import load_snapshot
from services.venues.kucoin_futures.adapter import KucoinFuturesAdapter, KucoinFuturesNormalizer
from tests.ingest.fuzzkit import (
    assert_hostile_prices_rejected,
    ccxt_ws_frames,
    draw_mutated,
    json_values,
    only_frame_rejected_escapes,
    rejection,
)

RECEIVED = 1_786_541_300_000_000_000


@pytest.fixture(scope="module")
def normalizer() -> KucoinFuturesNormalizer:
    return KucoinFuturesNormalizer(load_snapshot())


@pytest.fixture(scope="module")
def frames(shared_data: Path) -> dict[str, list[dict[str, Any]]]:
    return ccxt_ws_frames(shared_data, "kucoinfutures")


def test_match_is_a_trade(
    normalizer: KucoinFuturesNormalizer, frames: dict[str, list[dict[str, Any]]]
) -> None:
    welcome, ack, first, *_ = frames["watchTrades"]
    assert normalizer.normalize(welcome, RECEIVED) == normalizer.normalize(ack, RECEIVED) == []
    # {"symbol":"XBTUSDTM","sequence":1940498726489,"side":"sell","size":4,"price":"63990.6","tradeId":...,"ts":...ns}
    [trade] = normalizer.normalize(first, RECEIVED)
    assert isinstance(trade, Trade)
    assert trade.symbol == "BTC-USDT-PERP"
    assert trade.native_symbol == "XBTUSDTM"
    assert trade.trade_id == "1940498726489"
    assert trade.side is Side.SELL
    assert trade.price == Decimal("63990.6")
    assert trade.quantity == Decimal("0.004")  # 4 lots of 0.001 BTC
    assert trade.notional == Decimal("255.9624")  # ccxt's cost agrees
    assert trade.exchange_ts == 1_786_540_805_418_000_000  # already nanoseconds


def test_lots_convert_to_base_on_real_frames(
    normalizer: KucoinFuturesNormalizer, frames: dict[str, list[dict[str, Any]]]
) -> None:
    sizes = [
        event.quantity
        for f in frames["watchTrades"][2:]
        for event in normalizer.normalize(f, RECEIVED)
        if isinstance(event, Trade)
    ]
    assert sizes == [Decimal("0.004"), Decimal("0.053"), Decimal("0.100")]


def test_inverse_lots_are_usd() -> None:
    frame = {
        "topic": "/contractMarket/execution:XBTUSDM",
        "type": "message",
        "subject": "match",
        "data": {
            "symbol": "XBTUSDM",
            "sequence": 1,
            "side": "buy",
            "size": 500,
            "price": "62500",
            "tradeId": "t",
            "ts": 1,
        },
    }
    [trade] = KucoinFuturesNormalizer(load_snapshot()).normalize(frame, RECEIVED)
    assert isinstance(trade, Trade)
    assert trade.symbol == "BTC-USD-PERP"
    assert (trade.quantity, trade.notional) == (Decimal("0.008"), Decimal(500))


def test_ticker_is_the_bbo(
    normalizer: KucoinFuturesNormalizer, frames: dict[str, list[dict[str, Any]]]
) -> None:
    [bbo] = normalizer.normalize(frames["watchTicker"][2], RECEIVED)
    assert isinstance(bbo, BestBidOffer)
    assert (bbo.bid_price, bbo.bid_quantity) == (Decimal("64006.5"), Decimal("1.410"))
    assert (bbo.ask_price, bbo.ask_quantity) == (Decimal("64006.6"), Decimal("0.696"))
    assert bbo.sequence == 1940498762797
    assert bbo.exchange_ts == 1_786_540_854_233_000_000


def test_depth5_is_not_subscribed_and_not_guessed(
    normalizer: KucoinFuturesNormalizer, frames: dict[str, list[dict[str, Any]]]
) -> None:
    assert (
        rejection(normalizer.normalize, frames["watchOrderBook"][2], RECEIVED).error_type == "unknown_event"
    )


def _level2(sequence: int, change: str) -> dict[str, Any]:
    # Shape of /contractMarket/level2 in the KuCoin Futures docs.
    return {
        "topic": "/contractMarket/level2:XBTUSDTM",
        "type": "message",
        "subject": "level2",
        "data": {"sequence": sequence, "change": change, "timestamp": 1786541277620},
    }


def test_level2_snapshot_then_changes_chain(normalizer: KucoinFuturesNormalizer) -> None:
    snapshot_payload = {
        "code": "200000",
        "data": {
            "symbol": "XBTUSDTM",
            "sequence": 100,
            "asks": [[63922.2, 197], [63923.7, 6]],
            "bids": [[63922.1, 2240]],
            "ts": 1786541277620000000,
        },
    }
    [snapshot] = normalizer.normalize_rest_snapshot(snapshot_payload, "XBTUSDTM", RECEIVED)
    assert isinstance(snapshot, BookSnapshot)
    assert snapshot.sequence.last == 100
    assert snapshot.asks[0] == (Decimal("63922.2"), Decimal("0.197"))
    assert snapshot.exchange_ts == 1_786_541_277_620_000_000
    deltas = [
        event
        for frame in (
            _level2(99, "63920,buy,3"),
            _level2(101, "63922.1,buy,0"),
            _level2(102, "63923.7,sell,10"),
        )
        for event in normalizer.normalize(frame, RECEIVED)
        if isinstance(event, BookDelta)
    ]
    assert len(deltas) == 3
    assert deltas[1].bids == [(Decimal("63922.1"), Decimal(0))]
    assert deltas[2].asks == [(Decimal("63923.7"), Decimal("0.010"))]
    # KuCoin's rule: drop sequence <= snapshot's, then each sequence is the previous + 1.
    book_at, gaps = snapshot.sequence.last, 0
    for delta in deltas:
        assert isinstance(delta, BookDelta)
        if delta.sequence.last <= book_at:
            continue
        gaps += delta.sequence.first != book_at + 1
        book_at = delta.sequence.last
    assert (book_at, gaps) == (102, 0)


def test_contract_detail_is_open_interest_and_funding() -> None:
    payload = {
        "code": "200000",
        "data": {
            "symbol": "XBTUSDTM",
            "markPrice": 64000.0,
            "indexPrice": 63990.5,
            "openInterest": "8500000",
            "fundingFeeRate": 0.0001,
            "nextFundingRateTime": 3600000,
            "fundingRateGranularity": 28800000,
        },
    }
    open_interest, funding = KucoinFuturesNormalizer(load_snapshot()).normalize_open_interest(
        payload, RECEIVED
    )
    assert isinstance(open_interest, OpenInterest)
    assert open_interest.open_interest == Decimal("8500.000")
    assert open_interest.open_interest_notional == Decimal("8500.000") * Decimal("64000.0")
    assert isinstance(funding, Funding)
    assert (funding.rate, funding.interval_s) == (Decimal("0.0001"), 28800)
    assert funding.next_funding_ts == RECEIVED + 3_600_000_000_000


_DETAIL = {
    "code": "200000",
    "data": {
        "symbol": "XBTUSDTM",
        "markPrice": 64000.0,
        "indexPrice": 63990.5,
        "openInterest": "8500000",
        "fundingFeeRate": 0.0001,
        "nextFundingRateTime": 3600000,
        "fundingRateGranularity": 28800000,
    },
}


def _instrument_push(subject: str, data: dict[str, Any]) -> dict[str, Any]:
    """Shapes of the docs' "Contract Market Data" section, topic /contract/instrument:{symbol}
    (kucoin.com/docs/websocket/futures-trading/public-channels/contract-market-data)."""
    return {"type": "message", "topic": "/contract/instrument:XBTUSDTM", "subject": subject, "data": data}


_RATE = _instrument_push(
    "funding.rate", {"granularity": 60000, "fundingRate": -0.002966, "timestamp": 1786541300000}
)
_MARK = _instrument_push(
    "mark.index.price",
    {"granularity": 1000, "indexPrice": 4000.23, "markPrice": 4010.52, "timestamp": 1786541301000},
)


def test_instrument_pushes_are_funding_once_the_settlement_time_is_known() -> None:
    """Issue 15: funding.rate and mark.index.price were rejected as unsupported."""
    normalizer = KucoinFuturesNormalizer(load_snapshot())
    before = rejection(normalizer.normalize, _RATE, RECEIVED)
    assert before.error_type == "incomplete"
    assert "no settlement time known yet" in before.reason
    normalizer.normalize_open_interest(_DETAIL, RECEIVED)  # next settlement: RECEIVED + 1 h
    [rate] = normalizer.normalize(_RATE, RECEIVED)
    assert isinstance(rate, Funding)
    assert (rate.rate, rate.interval_s) == (Decimal("-0.002966"), 28800)
    assert rate.next_funding_ts == RECEIVED + 3_600_000_000_000
    assert rate.exchange_ts == 1_786_541_300_000_000_000
    [marked] = normalizer.normalize(_MARK, RECEIVED)
    assert isinstance(marked, Funding)
    assert (marked.rate, marked.mark_price, marked.index_price) == (
        Decimal("-0.002966"),
        Decimal("4010.52"),
        Decimal("4000.23"),
    )
    # Two hours later the settlement of the poll has passed: the next one is an interval on.
    later = _instrument_push("funding.rate", {**_RATE["data"], "timestamp": 1786541300000 + 7_200_000})
    [rolled] = normalizer.normalize(later, RECEIVED)
    assert isinstance(rolled, Funding)
    assert rolled.next_funding_ts == RECEIVED + (3_600 + 28_800) * 1_000_000_000


def test_a_mark_push_alone_waits_for_a_rate() -> None:
    normalizer = KucoinFuturesNormalizer(load_snapshot())
    assert rejection(normalizer.normalize, _MARK, RECEIVED).error_type == "incomplete"
    wrong_topic = {**_RATE, "topic": "/contractMarket/level2:XBTUSDTM"}
    assert rejection(normalizer.normalize, wrong_topic, RECEIVED).error_type == "unknown_event"


@settings(max_examples=150, deadline=None)
@given(subject=st.sampled_from(["funding.rate", "mark.index.price"]), data=json_values)
def test_random_instrument_pushes_never_raise_anything_but_frame_rejected(subject: str, data: Any) -> None:
    normalizer = KucoinFuturesNormalizer(load_snapshot())
    normalizer.normalize_open_interest(_DETAIL, RECEIVED)
    only_frame_rejected_escapes(normalizer.normalize, _instrument_push(subject, data), RECEIVED)


def test_token_handshake_gives_the_url_and_ping_interval() -> None:
    adapter = KucoinFuturesAdapter(load_snapshot())
    request = adapter.connect_request()
    assert request is not None
    assert (request.method, request.path) == ("POST", "/api/v1/bullet-public")
    bullet = {
        "code": "200000",
        "data": {
            "token": "2neAiuYvAU61ZDXANAGAsiL4",
            "instanceServers": [
                {
                    "endpoint": "wss://ws-api-futures.kucoin.com/",
                    "encrypt": True,
                    "protocol": "websocket",
                    "pingInterval": 18000,
                    "pingTimeout": 10000,
                }
            ],
        },
    }
    assert (
        adapter.ws_url_from(bullet)
        == "wss://ws-api-futures.kucoin.com/?token=2neAiuYvAU61ZDXANAGAsiL4&connectId=perpwatch"
    )
    assert adapter.ping_interval_s == 18.0
    with pytest.raises(FrameRejected):
        adapter.ws_url_from({"code": "400100"})


def test_parse_instruments_on_the_documented_response() -> None:
    payload = {
        "code": "200000",
        "data": [
            {
                "symbol": "XBTUSDTM",
                "type": "FFWCSX",
                "baseCurrency": "XBT",
                "quoteCurrency": "USDT",
                "multiplier": 0.001,
                "lotSize": 1,
                "tickSize": 0.1,
                "isInverse": False,
                "status": "Open",
                "fundingRateGranularity": 28800000,
            },
            {
                "symbol": "XBTUSDM",
                "type": "FFWCSX",
                "baseCurrency": "XBT",
                "quoteCurrency": "USD",
                "multiplier": -1,
                "lotSize": 1,
                "tickSize": 1.0,
                "isInverse": True,
                "status": "Open",
            },
            {
                "symbol": "XBTMZ26",
                "type": "FFICSX",
                "baseCurrency": "XBT",
                "quoteCurrency": "USD",
                "multiplier": -1,
                "lotSize": 1,
                "tickSize": 1,
                "isInverse": True,
                "status": "Open",
            },
        ],
    }
    linear, inverse = KucoinFuturesAdapter(load_snapshot()).parse_instruments(payload)
    snapshot = load_snapshot()
    assert (linear.symbol, linear.contract_size) == ("BTC-USDT-PERP", Decimal("0.001"))
    assert (inverse.symbol, inverse.contract_size, inverse.inverse) == ("BTC-USD-PERP", Decimal(1), True)
    assert snapshot.get(linear.exchange, "XBTUSDTM") == linear
    assert snapshot.get(inverse.exchange, "XBTUSDM") == inverse


def test_adapter_protocol_facts() -> None:
    adapter = KucoinFuturesAdapter(load_snapshot())
    frames = [orjson.loads(f) for f in adapter.subscribe_frames(frozenset(Channel), ["XBTUSDTM", "ETHUSDTM"])]
    # /contract/instrument is one symbol per topic in the docs' "Contract Market Data" section
    # (kucoin.com/docs/websocket/futures-trading/public-channels/contract-market-data).
    assert sorted(f["topic"] for f in frames) == [
        "/contract/instrument:ETHUSDTM",
        "/contract/instrument:XBTUSDTM",
        "/contractMarket/execution:XBTUSDTM,ETHUSDTM",
        "/contractMarket/level2:XBTUSDTM,ETHUSDTM",
        "/contractMarket/tickerV2:XBTUSDTM,ETHUSDTM",
    ]
    assert [f["id"] for f in frames] == [str(n) for n in range(1, 6)]
    funding_only = adapter.subscribe_frames(frozenset({Channel.FUNDING}), ["XBTUSDTM"])
    assert [orjson.loads(f)["topic"] for f in funding_only] == ["/contract/instrument:XBTUSDTM"]
    assert Channel.LIQUIDATIONS not in adapter.capabilities
    assert orjson.loads(adapter.ping_frame() or "")["type"] == "ping"
    assert adapter.is_control_frame({"id": "perpwatch-ping", "type": "pong", "timestamp": 1})
    assert not adapter.is_control_frame(
        {"id": "1", "type": "error", "code": 509, "data": "exceed max subscription"}
    )
    snapshot_request = adapter.book_snapshot_request("XBTUSDTM")
    assert snapshot_request is not None
    assert snapshot_request.path == "/api/v1/level2/snapshot"
    assert adapter.open_interest_request("XBTUSDTM").path == "/api/v1/contracts/XBTUSDTM"


_MATCH = {
    "symbol": "XBTUSDTM",
    "sequence": 1,
    "side": "buy",
    "size": 1,
    "price": "1",
    "tradeId": "1",
    "ts": 1,
}


@pytest.mark.parametrize(
    ("frame", "error_type"),
    [
        ({"type": "message", "subject": "match", "data": {"symbol": "XBTUSDTM"}}, "malformed"),
        (
            {"type": "message", "subject": "match", "data": {**_MATCH, "symbol": "NOPEUSDTM"}},
            "unknown_instrument",
        ),
        ({"type": "message", "subject": "match", "data": {**_MATCH, "side": "up"}}, "malformed"),
        ({"type": "message", "subject": "match", "data": {**_MATCH, "price": "-5"}}, "malformed"),
        (_level2(5, "1,middle,1"), "malformed"),
        (_level2(5, "1,buy"), "malformed"),
        ({"type": "message", "subject": "level2", "topic": "/other:XBTUSDTM", "data": {}}, "unknown_event"),
        ({"type": "message", "subject": "snapshot.24h", "data": {}}, "unknown_event"),
        ({"id": "1", "type": "error", "code": 404, "data": "topic /x does not exist"}, "venue_error"),
        ({"type": "notice"}, "unknown_event"),
    ],
)
def test_bad_frames_are_rejected_with_a_reason(frame: dict[str, Any], error_type: str) -> None:
    assert (
        rejection(KucoinFuturesNormalizer(load_snapshot()).normalize, frame, RECEIVED).error_type
        == error_type
    )


@settings(max_examples=250, deadline=None)
@given(data=st.data())
def test_mutated_real_frames_never_raise_anything_but_frame_rejected(
    frames: dict[str, list[dict[str, Any]]], data: st.DataObject
) -> None:
    normalizer = KucoinFuturesNormalizer(load_snapshot())
    # The /contract/instrument pushes too (issue 15), past the settlement time the poll gives.
    normalizer.normalize_open_interest(_DETAIL, RECEIVED)
    pool = [f for method in frames.values() for f in method] + [_level2(7, "63920,buy,3"), _RATE, _MARK]
    frame = draw_mutated(data, pool, wrap=lambda body: {"data": body})
    only_frame_rejected_escapes(normalizer.normalize, frame, RECEIVED)
    only_frame_rejected_escapes(normalizer.normalize_rest_snapshot, frame, "XBTUSDTM", RECEIVED)
    only_frame_rejected_escapes(normalizer.normalize_open_interest, frame, RECEIVED)


@settings(max_examples=150, deadline=None)
@given(subject=st.sampled_from(["match", "level2", "tickerV2", "ticker"]), data=json_values)
def test_random_frames_never_raise_anything_but_frame_rejected(subject: str, data: Any) -> None:
    frame = {"topic": "/contractMarket/level2:XBTUSDTM", "type": "message", "subject": subject, "data": data}
    only_frame_rejected_escapes(KucoinFuturesNormalizer(load_snapshot()).normalize, frame, RECEIVED)


def test_a_trade_with_a_hostile_price_is_rejected_with_a_reason(
    frames: dict[str, list[dict[str, Any]]],
) -> None:
    """The fuzz family's assertion: a valid-looking mutation of a real trade, its price set to a
    number no market has (negative, zero, NaN, infinite, out of range, not a number), is rejected
    with a reason (``fuzzkit.PRICE_REJECTIONS``), never published."""
    normalizer = KucoinFuturesNormalizer(load_snapshot())
    pool = [f for method in frames.values() for f in method]
    assert_hostile_prices_rejected(lambda frame: normalizer.normalize(frame, RECEIVED), pool)
