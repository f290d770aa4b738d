"""OKX swap parsing on real frames: ccxt-ws/okx.json (current format) and cryptofeed OKX.ws.1.0."""

from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import BestBidOffer, BookDelta, BookSnapshot, Funding, Liquidation, OpenInterest, Side, Trade
from services.ingest.venue import Channel
from services.instruments.catalog import load_snapshot
from services.venues.okx.adapter import OkxAdapter, OkxNormalizer
from tests.ingest.fuzzkit import (
    assert_hostile_prices_rejected,
    ccxt_ws_frames,
    draw_mutated,
    json_values,
    only_frame_rejected_escapes,
    rejection,
)

RECEIVED = 1_786_540_500_000_000_000


@pytest.fixture(scope="module")
def normalizer() -> OkxNormalizer:
    return OkxNormalizer(load_snapshot())


@pytest.fixture(scope="module")
def frames(shared_data: Path) -> dict[str, list[dict[str, Any]]]:
    """Raw frames of the swap test cases, by ccxt method."""
    return ccxt_ws_frames(shared_data, "okx", keep=lambda case: "SWAP" in str(case["sentMessages"]))


@pytest.fixture(scope="module")
def inverse_frames(shared_data: Path) -> list[dict[str, Any]]:
    """UNI-USD-SWAP (inverse, ctVal 10 USD) frames of the 2022 cryptofeed capture."""
    path = shared_data / "cryptofeed" / "OKX.ws.1.0"
    if not path.exists():
        pytest.skip(f"OKX capture not found at {path}")
    found = []
    for line in path.read_text().splitlines():
        if line.startswith("wss://") or '"UNI-USD-SWAP"' not in line:
            continue
        frame = orjson.loads(line.split(": ", 1)[1])
        if "data" in frame:
            found.append(frame)
    return found


def test_trades(normalizer: OkxNormalizer, frames: dict[str, list[dict[str, Any]]]) -> None:
    ack, first, second = frames["watchTrades"]
    assert normalizer.normalize(ack, RECEIVED) == []
    # {"instId":"BTC-USDT-SWAP","tradeId":"2832749635","px":"63913.5","sz":"1","side":"buy","ts":"1786540435948"}
    [trade] = normalizer.normalize(first, RECEIVED)
    assert isinstance(trade, Trade)
    assert trade.symbol == "BTC-USDT-PERP"
    assert trade.native_symbol == "BTC-USDT-SWAP"
    assert trade.trade_id == "2832749635"
    assert trade.side is Side.BUY
    assert trade.price == Decimal("63913.5")
    assert trade.quantity == Decimal("0.01")  # 1 contract of 0.01 BTC
    assert trade.notional == Decimal("639.135")  # ccxt's cost agrees
    assert trade.exchange_ts == 1_786_540_435_948_000_000
    [trade] = normalizer.normalize(second, RECEIVED)
    assert isinstance(trade, Trade)
    assert (trade.side, trade.quantity, trade.notional) == (
        Side.SELL,
        Decimal("0.3495"),
        Decimal("22337.73330"),
    )


def test_linear_and_inverse_contracts_convert_to_base_on_real_frames(
    normalizer: OkxNormalizer, inverse_frames: list[dict[str, Any]]
) -> None:
    trade_frame = next(f for f in inverse_frames if f["arg"]["channel"] == "trades")
    # {"instId":"UNI-USD-SWAP","tradeId":"12883020","px":"5.123","sz":"100","side":"sell","ts":"1652459215150"}
    [trade] = normalizer.normalize(trade_frame, RECEIVED)
    assert isinstance(trade, Trade)
    assert trade.symbol == "UNI-USD-PERP"
    assert trade.quantity == Decimal(1000) / Decimal("5.123")  # 100 contracts x 10 USD / price
    assert trade.notional == Decimal(1000)  # USD, exact
    assert trade.side is Side.SELL


def test_books5_top_is_a_bbo(normalizer: OkxNormalizer, frames: dict[str, list[dict[str, Any]]]) -> None:
    [bbo] = normalizer.normalize(frames["watchOrderBook"][1], RECEIVED)
    assert isinstance(bbo, BestBidOffer)
    assert (bbo.bid_price, bbo.bid_quantity) == (Decimal("63921.4"), Decimal("4.2193"))
    assert (bbo.ask_price, bbo.ask_quantity) == (Decimal("63921.5"), Decimal("7.9041"))
    assert bbo.sequence == 333794734980
    assert bbo.exchange_ts == 1_786_541_241_006_000_000


def test_ticker_channel_is_not_subscribed_and_not_guessed(
    normalizer: OkxNormalizer, frames: dict[str, list[dict[str, Any]]]
) -> None:
    assert rejection(normalizer.normalize, frames["watchTicker"][1], RECEIVED).error_type == "unknown_event"


def _books(action: str, prev: int, seq: int, asks: list[list[str]], bids: list[list[str]]) -> dict[str, Any]:
    # Shape of the "books" channel in the OKX v5 docs (the docs example carries prevSeqId/seqId).
    return {
        "arg": {"channel": "books", "instId": "BTC-USDT-SWAP"},
        "action": action,
        "data": [
            {
                "asks": asks,
                "bids": bids,
                "ts": "1786541241006",
                "checksum": 0,
                "prevSeqId": prev,
                "seqId": seq,
            }
        ],
    }


def test_books_snapshot_and_update_carry_seq_ids_and_checksum_zero(normalizer: OkxNormalizer) -> None:
    [snapshot] = normalizer.normalize(
        _books(
            "snapshot", -1, 123456, [["63921.5", "790.41", "0", "42"]], [["63921.4", "421.93", "0", "28"]]
        ),
        RECEIVED,
    )
    [update] = normalizer.normalize(
        _books("update", 123456, 123457, [["63921.5", "0", "0", "0"]], []),
        RECEIVED,
    )
    assert isinstance(snapshot, BookSnapshot)
    assert isinstance(update, BookDelta)
    assert (snapshot.sequence.prev, snapshot.sequence.last) == (None, 123456)
    assert (update.sequence.prev, update.sequence.last) == (123456, 123457)
    assert snapshot.checksum == update.checksum == 0  # kept as sent; CRC is checked only when non-zero
    assert snapshot.asks == [(Decimal("63921.5"), Decimal("7.9041"))]
    assert update.asks == [(Decimal("63921.5"), Decimal("0"))]


def test_old_books_frames_without_seq_ids_are_rejected(inverse_frames: list[dict[str, Any]]) -> None:
    book = next(f for f in inverse_frames if f["arg"]["channel"] == "books")
    assert rejection(OkxNormalizer(load_snapshot()).normalize, book, RECEIVED).error_type == "malformed"


def test_funding_rate_interval_comes_from_the_two_settlement_times() -> None:
    frame = {
        "arg": {"channel": "funding-rate", "instId": "BTC-USDT-SWAP"},
        "data": [
            {
                "instType": "SWAP",
                "instId": "BTC-USDT-SWAP",
                "fundingRate": "0.0001515",
                "fundingTime": "1700726400000",
                "nextFundingRate": "",
                "nextFundingTime": "1700755200000",
                "method": "current_period",
                "ts": "1700724675402",
            }
        ],
    }
    [funding] = OkxNormalizer(load_snapshot()).normalize(frame, RECEIVED)
    assert isinstance(funding, Funding)
    assert funding.rate == Decimal("0.0001515")
    assert funding.next_funding_ts == 1_700_726_400_000_000_000
    assert funding.interval_s == 8 * 3600
    assert funding.exchange_ts == 1_700_724_675_402_000_000


def test_open_interest_in_coin_and_inverse_notional() -> None:
    linear = {
        "arg": {"channel": "open-interest", "instId": "BTC-USDT-SWAP"},
        "data": [
            {
                "instId": "BTC-USDT-SWAP",
                "instType": "SWAP",
                "oi": "2216113.01",
                "oiCcy": "22161.1301",
                "oiUsd": "1",
                "ts": "1",
            }
        ],
    }
    inverse = {
        "arg": {"channel": "open-interest", "instId": "BTC-USD-SWAP"},
        "data": [{"instId": "BTC-USD-SWAP", "instType": "SWAP", "oi": "5000", "oiCcy": "7.8", "ts": "1"}],
    }
    [oi] = OkxNormalizer(load_snapshot()).normalize(linear, RECEIVED)
    assert isinstance(oi, OpenInterest)
    assert (oi.open_interest, oi.open_interest_notional) == (Decimal("22161.1301"), None)
    [oi] = OkxNormalizer(load_snapshot()).normalize(inverse, RECEIVED)
    assert isinstance(oi, OpenInterest)
    assert (oi.open_interest, oi.open_interest_notional) == (Decimal("7.8"), Decimal(500000))


def test_liquidation_orders_skip_instruments_we_do_not_know() -> None:
    frame = {
        "arg": {"channel": "liquidation-orders", "instType": "SWAP"},
        "data": [
            {
                "instId": "BTC-USDT-SWAP",
                "instType": "SWAP",
                "details": [
                    {
                        "side": "sell",
                        "posSide": "long",
                        "bkPx": "60000",
                        "sz": "3",
                        "bkLoss": "0",
                        "ccy": "",
                        "ts": "1723892524781",
                    }
                ],
            },
            {
                "instId": "ZZZ-USDT-SWAP",
                "instType": "SWAP",
                "details": [{"side": "buy", "bkPx": "1", "sz": "1", "ts": "1"}],
            },
        ],
    }
    [liquidation] = OkxNormalizer(load_snapshot()).normalize(frame, RECEIVED)
    assert isinstance(liquidation, Liquidation)
    assert liquidation.side is Side.SELL  # the order that closed a long
    assert (liquidation.quantity, liquidation.notional) == (Decimal("0.03"), Decimal("1800"))


def test_parse_instruments_on_the_documented_response() -> None:
    payload = {
        "code": "0",
        "data": [
            {
                "instType": "SWAP",
                "instId": "BTC-USDT-SWAP",
                "ctVal": "0.01",
                "ctMult": "1",
                "ctType": "linear",
                "tickSz": "0.1",
                "lotSz": "0.01",
                "state": "live",
            },
            {
                "instType": "SWAP",
                "instId": "BTC-USD-SWAP",
                "ctVal": "100",
                "ctMult": "1",
                "ctType": "inverse",
                "tickSz": "0.1",
                "lotSz": "1",
                "state": "live",
            },
            {
                "instType": "SWAP",
                "instId": "OLD-USDT-SWAP",
                "ctVal": "1",
                "ctMult": "1",
                "ctType": "linear",
                "tickSz": "1",
                "lotSz": "1",
                "state": "suspend",
            },
        ],
    }
    linear, inverse = OkxAdapter(load_snapshot()).parse_instruments(payload)
    assert (linear.symbol, linear.contract_size, linear.inverse) == ("BTC-USDT-PERP", Decimal("0.01"), False)
    assert (inverse.symbol, inverse.contract_size, inverse.inverse) == ("BTC-USD-PERP", Decimal(100), True)
    snapshot = load_snapshot()
    for instrument in (linear, inverse):
        assert snapshot.get(instrument.exchange, instrument.native_symbol) == instrument


def test_adapter_protocol_facts() -> None:
    adapter = OkxAdapter(load_snapshot())
    [frame] = adapter.subscribe_frames(frozenset(Channel), ["BTC-USDT-SWAP"])
    args = orjson.loads(frame)["args"]
    assert {"channel": "books", "instId": "BTC-USDT-SWAP"} in args
    assert {"channel": "liquidation-orders", "instType": "SWAP"} in args
    assert adapter.ping_frame() == "ping"
    assert adapter.ping_interval_s is not None
    assert adapter.ping_interval_s < 30
    assert adapter.is_control_frame("pong")
    assert adapter.is_control_frame({"event": "subscribe", "arg": {}})
    assert not adapter.is_control_frame({"event": "error", "code": "60012", "msg": "Invalid request"})
    assert adapter.book_snapshot_request("BTC-USDT-SWAP") is None
    assert adapter.connect_request() is None


@pytest.mark.parametrize(
    ("frame", "error_type"),
    [
        ({"arg": {"channel": "trades"}, "data": [{"instId": "BTC-USDT-SWAP"}]}, "malformed"),
        (
            {
                "arg": {"channel": "trades"},
                "data": [
                    {
                        "instId": "NOPE-USDT-SWAP",
                        "tradeId": "1",
                        "px": "1",
                        "sz": "1",
                        "side": "buy",
                        "ts": "1",
                    }
                ],
            },
            "unknown_instrument",
        ),
        (
            {
                "arg": {"channel": "trades"},
                "data": [
                    {"instId": "BTC-USDT-SWAP", "tradeId": "1", "px": "1", "sz": "1", "side": "up", "ts": "1"}
                ],
            },
            "malformed",
        ),
        (
            {
                "arg": {"channel": "trades"},
                "data": [
                    {
                        "instId": "BTC-USDT-SWAP",
                        "tradeId": "1",
                        "px": "0",
                        "sz": "1",
                        "side": "buy",
                        "ts": "1",
                    }
                ],
            },
            "malformed",
        ),
        ({"arg": {"channel": "candle1m"}, "data": []}, "unknown_event"),
        ({"event": "error", "code": "60012", "msg": "Invalid request"}, "venue_error"),
        ({"arg": "books", "data": []}, "unknown_event"),
    ],
)
def test_bad_frames_are_rejected_with_a_reason(frame: dict[str, Any], error_type: str) -> None:
    assert rejection(OkxNormalizer(load_snapshot()).normalize, frame, RECEIVED).error_type == error_type


_DOC_FRAMES = [
    _books("snapshot", -1, 5, [["1", "1", "0", "1"]], [["0.5", "1", "0", "1"]]),
    {
        "arg": {"channel": "funding-rate"},
        "data": [
            {
                "instId": "BTC-USD-SWAP",
                "fundingRate": "0.0001",
                "fundingTime": "2",
                "nextFundingTime": "3",
                "ts": "1",
            }
        ],
    },
    {
        "arg": {"channel": "open-interest"},
        "data": [{"instId": "BTC-USD-SWAP", "oi": "1", "oiCcy": "1", "ts": "1"}],
    },
    {
        "arg": {"channel": "liquidation-orders"},
        "data": [{"instId": "BTC-USD-SWAP", "details": [{"side": "buy", "bkPx": "1", "sz": "1", "ts": "1"}]}],
    },
]


@settings(max_examples=250, deadline=None)
@given(data=st.data())
def test_mutated_real_frames_never_raise_anything_but_frame_rejected(
    frames: dict[str, list[dict[str, Any]]], inverse_frames: list[dict[str, Any]], data: st.DataObject
) -> None:
    normalizer = OkxNormalizer(load_snapshot())
    pool = [f for method in frames.values() for f in method] + inverse_frames[:20] + _DOC_FRAMES
    frame = draw_mutated(data, pool, wrap=lambda body: {"data": body})
    only_frame_rejected_escapes(normalizer.normalize, frame, RECEIVED)


@settings(max_examples=150, deadline=None)
@given(
    channel=st.sampled_from(
        ["trades", "books", "bbo-tbt", "books5", "funding-rate", "open-interest", "liquidation-orders"]
    ),
    body=st.dictionaries(st.sampled_from(["action", "data", "event"]), json_values, max_size=3),
)
def test_random_frames_never_raise_anything_but_frame_rejected(channel: str, body: dict[str, Any]) -> None:
    only_frame_rejected_escapes(
        OkxNormalizer(load_snapshot()).normalize,
        {"arg": {"channel": channel, "instId": "BTC-USDT-SWAP"}, **body},
        RECEIVED,
    )


def test_a_trade_with_a_hostile_price_is_rejected_with_a_reason(
    frames: dict[str, list[dict[str, Any]]],
) -> None:
    """The fuzz family's assertion: a valid-looking mutation of a real trade, its price set to a
    number no market has (negative, zero, NaN, infinite, out of range, not a number), is rejected
    with a reason (``fuzzkit.PRICE_REJECTIONS``), never published."""
    normalizer = OkxNormalizer(load_snapshot())
    pool = [f for method in frames.values() for f in method]
    assert_hostile_prices_rejected(lambda frame: normalizer.normalize(frame, RECEIVED), pool)
