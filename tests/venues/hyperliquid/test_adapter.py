"""Hyperliquid parsing on real frames: hftbacktest/hyperliquid (2025-01-26) and ccxt-ws/hyperliquid.json."""

import gzip
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import BestBidOffer, BookSnapshot, Funding, OpenInterest, Side, Trade
from services.ingest.venue import Channel
from services.instruments.catalog import InstrumentCatalog, load_snapshot
from services.venues.hyperliquid.adapter import HyperliquidAdapter, HyperliquidNormalizer, split_coin
from tests.ingest.fuzzkit import (
    assert_hostile_prices_rejected,
    ccxt_ws_frames,
    json_values,
    only_frame_rejected_escapes,
    rejection,
)

RECEIVED = 1_737_918_843_893_903_000
_FUZZ_NORMALIZER = HyperliquidNormalizer(load_snapshot())


@pytest.fixture(scope="module")
def normalizer() -> HyperliquidNormalizer:
    return HyperliquidNormalizer(load_snapshot())


@pytest.fixture(scope="module")
def capture(shared_data: Path) -> dict[str, tuple[int, dict[str, Any]]]:
    """The first frame of each channel, with its recorded receive time."""
    path = shared_data / "hftbacktest" / "hyperliquid" / "btcusd_20250126.gz"
    if not path.exists():
        pytest.skip(f"Hyperliquid capture not found at {path}")
    found: dict[str, tuple[int, dict[str, Any]]] = {}
    with gzip.open(path, "rb") as lines:
        for line in lines:
            received, raw = line.split(b" ", 1)
            frame = orjson.loads(raw)
            found.setdefault(frame["channel"], (int(received), frame))
    return found


@pytest.fixture(scope="module")
def ccxt_frames(shared_data: Path) -> dict[str, list[dict[str, Any]]]:
    return ccxt_ws_frames(shared_data, "hyperliquid")


def test_l2_book_is_a_full_snapshot(
    normalizer: HyperliquidNormalizer, capture: dict[str, tuple[int, dict[str, Any]]]
) -> None:
    received, frame = capture["l2Book"]
    [book] = normalizer.normalize(frame, received)
    assert isinstance(book, BookSnapshot)
    assert (book.symbol, book.native_symbol) == ("BTC-USDC-PERP", "BTC")
    assert book.sequence.last == 1737918843542  # no venue sequence: the book's time, ms
    assert book.exchange_ts == 1_737_918_843_542_000_000
    assert book.receive_ts == 1_737_918_843_893_903_000
    assert book.bids[:2] == [
        (Decimal("105055.0"), Decimal("3.03622")),
        (Decimal("105054.0"), Decimal("0.1428")),
    ]
    assert book.asks[0] == (Decimal("105056.0"), Decimal("6.34472"))
    assert len(book.bids) == len(book.asks) == 20


def test_trades(normalizer: HyperliquidNormalizer, capture: dict[str, tuple[int, dict[str, Any]]]) -> None:
    received, frame = capture["trades"]
    trades = normalizer.normalize(frame, received)
    assert len(trades) == 30
    first = trades[0]
    assert isinstance(first, Trade)
    assert first.trade_id == "121451470284048"
    assert first.side is Side.BUY  # "B": the taker bought
    assert (first.price, first.quantity) == (Decimal("105056.0"), Decimal("0.00219"))
    assert first.notional == Decimal("230.0726400")
    assert first.exchange_ts == 1_737_918_794_873_000_000


def test_ccxt_frames(normalizer: HyperliquidNormalizer, ccxt_frames: dict[str, list[dict[str, Any]]]) -> None:
    ack, first, _ = ccxt_frames["watchTrades"]
    assert normalizer.normalize(ack, RECEIVED) == []
    buy, sell, _ = normalizer.normalize(first, RECEIVED)
    assert (buy.side, sell.side) == (Side.BUY, Side.SELL)  # type: ignore[attr-defined]
    assert sell.trade_id == "153378402400855"  # type: ignore[attr-defined]
    ack, book_frame, _ = ccxt_frames["watchOrderBook"]
    [book] = normalizer.normalize(book_frame, RECEIVED)
    assert isinstance(book, BookSnapshot)
    assert book.bids[0] == (Decimal("64094.0"), Decimal("12.29409"))


def test_active_asset_context_is_funding_and_open_interest(
    normalizer: HyperliquidNormalizer, ccxt_frames: dict[str, list[dict[str, Any]]]
) -> None:
    _, context, _ = ccxt_frames["watchTicker"]
    received = 1_786_539_552_700_000_000  # 2026-08-12 12:59:12.7 UTC
    funding, open_interest = normalizer.normalize(context, received)
    assert isinstance(funding, Funding)
    assert funding.rate == Decimal("0.0000125")  # for one hour
    assert funding.interval_s == 3600
    assert funding.next_funding_ts == 1_786_539_600_000_000_000  # 13:00 UTC
    assert (funding.mark_price, funding.index_price) == (Decimal("64040.0"), Decimal("64063.1"))
    assert funding.exchange_ts == received  # the context carries no venue time
    assert isinstance(open_interest, OpenInterest)
    assert open_interest.open_interest == Decimal("38485.06546")
    assert open_interest.open_interest_notional == Decimal("38485.06546") * Decimal("64040.0")


def test_bbo(normalizer: HyperliquidNormalizer) -> None:
    # WsBbo shape of the subscriptions docs.
    frame: dict[str, Any] = {
        "channel": "bbo",
        "data": {
            "coin": "BTC",
            "time": 1786539643751,
            "bbo": [
                {"px": "64094.0", "sz": "12.29409", "n": 30},
                {"px": "64095.0", "sz": "2.37411", "n": 13},
            ],
        },
    }
    [bbo] = normalizer.normalize(frame, RECEIVED)
    assert isinstance(bbo, BestBidOffer)
    assert (bbo.bid_price, bbo.bid_quantity, bbo.ask_price, bbo.ask_quantity) == (
        Decimal("64094.0"),
        Decimal("12.29409"),
        Decimal("64095.0"),
        Decimal("2.37411"),
    )


@pytest.mark.parametrize(
    ("sides", "empty"),
    [
        ([None, {"px": "64095.0", "sz": "2.37411", "n": 13}], "bid"),
        ([{"px": "64094.0", "sz": "12.29409", "n": 30}, None], "ask"),
        ([{"px": "64094.0", "sz": "12.29409", "n": 30}], "ask"),  # issue 15: one side left out
        ([], "bid"),
    ],
)
def test_a_one_sided_bbo_is_rejected_with_a_clear_reason(
    normalizer: HyperliquidNormalizer, sides: list[Any], empty: str
) -> None:
    """Issue 15, class 3: it used to raise "not enough values to unpack"."""
    frame = {"channel": "bbo", "data": {"coin": "BTC", "time": 1, "bbo": sides}}
    rejected = rejection(normalizer.normalize, frame, RECEIVED)
    assert rejected.error_type == "one_sided_book"
    assert rejected.reason == f"BTC bbo has no {empty}: md.bbo.v1 needs both sides"


def test_thousand_prefixed_coin_is_converted_to_base_units(
    normalizer: HyperliquidNormalizer, capture: dict[str, tuple[int, dict[str, Any]]]
) -> None:
    """The first recorded trade, replayed as kPEPE (quoted per 1000 PEPE) with a kPEPE price."""
    received, frame = capture["trades"]
    trade_row = {**frame["data"][0], "coin": "kPEPE", "px": "0.018432", "sz": "1530"}
    [trade] = normalizer.normalize({"channel": "trades", "data": [trade_row]}, received)
    assert isinstance(trade, Trade)
    assert trade.symbol == "PEPE-USDC-PERP"
    assert trade.quantity == Decimal("1530000")  # 1530 kPEPE
    assert trade.price == Decimal("0.000018432")  # per PEPE
    assert trade.notional == Decimal("28.200960")  # unchanged: 1530 * 0.018432 USDC
    assert split_coin("kPEPE") == ("PEPE", Decimal(1000))
    assert split_coin("BTC") == ("BTC", Decimal(1))


@pytest.mark.parametrize(
    ("frame", "error_type"),
    [
        ([], "malformed"),
        ({"channel": "error", "data": "Invalid subscription"}, "venue_error"),
        ({"channel": "candle", "data": {}}, "unknown_event"),
        (
            {"channel": "l2Book", "data": {"coin": "@107", "time": 1, "levels": [[], []]}},
            "unknown_instrument",  # a spot pair: no perpetual is named like it
        ),
        ({"channel": "l2Book", "data": {"coin": "BTC", "time": 1, "levels": [[]]}}, "malformed"),
        ({"channel": "trades", "data": {"coin": "BTC"}}, "malformed"),
        (
            {
                "channel": "trades",
                "data": [{"coin": "BTC", "side": "X", "px": "1", "sz": "1", "time": 1, "tid": 1}],
            },
            "malformed",
        ),
        ({"channel": "activeAssetCtx", "data": {"coin": "BTC", "ctx": {"funding": "0.1"}}}, "malformed"),
    ],
)
def test_bad_frames_are_rejected_with_a_reason(
    normalizer: HyperliquidNormalizer, frame: Any, error_type: str
) -> None:
    assert rejection(normalizer.normalize, frame, RECEIVED).error_type == error_type


def test_instruments_from_meta() -> None:
    # POST /info {"type": "meta"} shape (info-endpoint/perpetuals docs).
    payload = {
        "universe": [
            {"name": "BTC", "szDecimals": 5, "maxLeverage": 40},
            {"name": "ETH", "szDecimals": 4, "maxLeverage": 25},
            {"name": "kPEPE", "szDecimals": 0, "maxLeverage": 10},
            {"name": "FTM", "szDecimals": 0, "maxLeverage": 3, "isDelisted": True},
        ]
    }
    btc, eth, pepe = HyperliquidAdapter(InstrumentCatalog([], "test")).parse_instruments(payload)
    assert (btc.symbol, btc.tick_size, btc.lot_size) == ("BTC-USDC-PERP", Decimal("0.1"), Decimal("0.00001"))
    assert eth.lot_size == Decimal("0.0001")
    assert (pepe.symbol, pepe.native_symbol, pepe.multiplier) == ("PEPE-USDC-PERP", "kPEPE", Decimal(1000))
    assert btc.funding_interval_s == 3600


def test_adapter_protocol_facts() -> None:
    adapter = HyperliquidAdapter(load_snapshot())
    messages = [orjson.loads(f) for f in adapter.subscribe_frames(frozenset(Channel), ["BTC"])]
    assert [m["subscription"]["type"] for m in messages] == ["activeAssetCtx", "bbo", "l2Book", "trades"]
    assert all(
        m == {"method": "subscribe", "subscription": {**m["subscription"], "coin": "BTC"}} for m in messages
    )
    assert orjson.loads(adapter.ping_frame() or "") == {"method": "ping"}
    assert adapter.is_control_frame({"channel": "pong"})
    assert adapter.is_control_frame({"channel": "subscriptionResponse", "data": {}})
    assert Channel.LIQUIDATIONS not in adapter.capabilities
    request = adapter.instruments_request()
    assert (request.method, request.path, request.params) == ("POST", "/info", {"type": "meta"})
    assert adapter.book_snapshot_request("BTC") is None
    assert adapter.connect_request() is None
    assert adapter.ws_url_from(None) == "wss://api.hyperliquid.xyz/ws"


_LEVEL = {"px": "105055.0", "sz": "3.03622", "n": 5}
_BASES: dict[str, Any] = {
    "trades": [{"coin": "BTC", "side": "B", "px": "105056.0", "sz": "0.00219", "tid": 1, "time": 1}],
    "l2Book": {"coin": "BTC", "time": 1737918843542, "levels": [[_LEVEL], [_LEVEL]]},
    "bbo": {"coin": "BTC", "time": 1737918843542, "bbo": [_LEVEL, _LEVEL]},
    "activeAssetCtx": {
        "coin": "BTC",
        "ctx": {
            "funding": "0.0000125",
            "openInterest": "38485.06546",
            "oraclePx": "64063.1",
            "markPx": "64040.0",
        },
    },
}


@settings(max_examples=300, deadline=None)
@given(
    channel=st.sampled_from(sorted(_BASES)),
    mutations=st.dictionaries(
        st.sampled_from(
            [
                "coin",
                "side",
                "px",
                "sz",
                "tid",
                "time",
                "levels",
                "bbo",
                "ctx",
                "funding",
                "markPx",
                "openInterest",
            ]
        ),
        json_values,
        max_size=4,
    ),
)
def test_mutated_frames_never_raise_anything_but_frame_rejected(
    channel: str, mutations: dict[str, Any]
) -> None:
    base = _BASES[channel]
    if isinstance(base, list):
        data: Any = [{**base[0], **mutations}]
    elif channel == "activeAssetCtx":
        data = {**base, "ctx": {**base["ctx"], **mutations}}
    else:
        data = {**base, **mutations}
    only_frame_rejected_escapes(_FUZZ_NORMALIZER.normalize, {"channel": channel, "data": data}, RECEIVED)


def test_a_trade_with_a_hostile_price_is_rejected_with_a_reason() -> None:
    """The fuzz family's assertion: a valid-looking mutation of a real trade, its price set to a
    number no market has (negative, zero, NaN, infinite, out of range, not a number), is rejected
    with a reason (``fuzzkit.PRICE_REJECTIONS``), never published."""
    normalizer = HyperliquidNormalizer(load_snapshot())
    pool = [{"channel": channel, "data": data} for channel, data in _BASES.items()]
    assert_hostile_prices_rejected(lambda frame: normalizer.normalize(frame, RECEIVED), pool)
