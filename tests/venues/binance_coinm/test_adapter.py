"""Binance COIN-M parsing on the real BTCUSD_PERP capture (hftbacktest/cm, 2024-08-08): inverse units."""

from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import BestBidOffer, BookDelta, BookSnapshot, Funding, Liquidation, OpenInterest, Side, Trade
from services.ingest.venue import Channel
from services.instruments.catalog import InstrumentCatalog, load_snapshot
from services.venues.binance_coinm.adapter import BinanceCoinmAdapter, BinanceCoinmNormalizer
from tests.ingest.fuzzkit import (
    assert_hostile_prices_rejected,
    binance_capture_frames,
    json_values,
    only_frame_rejected_escapes,
    rejection,
)

RECEIVED = 1_723_161_256_419_684_465
_FUZZ_NORMALIZER = BinanceCoinmNormalizer(load_snapshot())
MARK_PRICE_FRAME = {
    # markPriceUpdate of the COIN-M "Mark Price Stream" docs, for the perpetual.
    "e": "markPriceUpdate",
    "E": 1596095725000,
    "s": "BTCUSD_PERP",
    "p": "10934.62615417",
    "P": "10962.17178236",
    "i": "10933.62615417",
    "r": "0.00010000",
    "T": 1596096000000,
}


@pytest.fixture
def normalizer() -> BinanceCoinmNormalizer:
    return BinanceCoinmNormalizer(load_snapshot())


@pytest.fixture(scope="module")
def real_frames(shared_data: Path) -> dict[str, bytes]:
    """The first frame of each kind in the COIN-M capture, verbatim."""
    return binance_capture_frames(shared_data / "hftbacktest" / "cm" / "btcusd_perp_20240808.gz")


def test_trade_is_converted_from_contracts(
    normalizer: BinanceCoinmNormalizer, real_frames: dict[str, bytes]
) -> None:
    # {"e":"trade","E":1723161257687,"T":1723161257679,"s":"BTCUSD_PERP","t":849714402,"p":"61804.8","q":"4","m":false}
    [trade] = normalizer.normalize(orjson.loads(real_frames["trade"]), RECEIVED)
    assert isinstance(trade, Trade)
    assert (trade.exchange, trade.symbol, trade.native_symbol) == (
        "binance_coinm",
        "BTC-USD-PERP",
        "BTCUSD_PERP",
    )
    assert trade.trade_id == "849714402"
    assert trade.side is Side.BUY
    assert trade.price == Decimal("61804.8")
    assert trade.quantity == Decimal(4) * 100 / Decimal("61804.8")  # 4 contracts of 100 USD, in BTC
    assert trade.quantity.quantize(Decimal("0.00000001")) == Decimal("0.00647199")
    assert trade.notional == Decimal(400)  # USD
    assert trade.exchange_ts == 1_723_161_257_679_000_000


def test_book_ticker_levels_are_in_base_units(
    normalizer: BinanceCoinmNormalizer, real_frames: dict[str, bytes]
) -> None:
    [bbo] = normalizer.normalize(orjson.loads(real_frames["bookTicker"]), RECEIVED)
    assert isinstance(bbo, BestBidOffer)
    assert bbo.bid_price == Decimal("61804.7")
    assert bbo.bid_quantity == Decimal(35) * 100 / Decimal("61804.7")
    assert bbo.ask_quantity == Decimal(1645) * 100 / Decimal("61804.8")
    assert bbo.sequence == 1007198632021


def test_depth_update_keeps_sequence_ids_and_converts_levels(
    normalizer: BinanceCoinmNormalizer, real_frames: dict[str, bytes]
) -> None:
    [delta] = normalizer.normalize(orjson.loads(real_frames["depthUpdate"]), RECEIVED)
    assert isinstance(delta, BookDelta)
    assert (delta.sequence.first, delta.sequence.last, delta.sequence.prev) == (
        1007198631260,
        1007198631565,
        1007198631198,
    )
    assert delta.bids[0] == (Decimal("61773.6"), Decimal(1001) * 100 / Decimal("61773.6"))
    assert (Decimal("61778.7"), Decimal(0)) in delta.bids  # a deletion stays a deletion


def test_rest_snapshot(normalizer: BinanceCoinmNormalizer, real_frames: dict[str, bytes]) -> None:
    [snapshot] = normalizer.normalize_rest_snapshot(
        orjson.loads(real_frames["snapshot"]), "BTCUSD_PERP", RECEIVED
    )
    assert isinstance(snapshot, BookSnapshot)
    assert snapshot.sequence.last == 1007198635033
    assert len(snapshot.bids) == 1000
    assert snapshot.bids[0] == (Decimal("61804.7"), Decimal(35) * 100 / Decimal("61804.7"))


def test_mark_price_then_open_interest(normalizer: BinanceCoinmNormalizer) -> None:
    [funding] = normalizer.normalize(MARK_PRICE_FRAME, RECEIVED)
    assert isinstance(funding, Funding)
    assert funding.rate == Decimal("0.00010000")
    assert funding.mark_price == Decimal("10934.62615417")
    assert funding.index_price == Decimal("10933.62615417")
    assert funding.next_funding_ts == 1_596_096_000_000_000_000
    # GET /dapi/v1/openInterest example of the docs: contracts of 100 USD.
    payload = {
        "symbol": "BTCUSD_PERP",
        "pair": "BTCUSD",
        "openInterest": "517655",
        "contractType": "PERPETUAL",
        "time": 1591261042378,
    }
    [open_interest] = normalizer.normalize_open_interest(payload, RECEIVED)
    assert isinstance(open_interest, OpenInterest)
    assert open_interest.open_interest_notional == Decimal(51765500)  # USD
    assert open_interest.open_interest == Decimal(51765500) / Decimal("10934.62615417")  # BTC at the mark
    [at_given_price] = normalizer.normalize_open_interest(payload, RECEIVED, mark_price=Decimal(50000))
    assert at_given_price.open_interest == Decimal("1035.31")  # type: ignore[attr-defined]


def test_open_interest_needs_a_price() -> None:
    fresh = BinanceCoinmNormalizer(load_snapshot())
    payload = {"symbol": "BTCUSD_PERP", "openInterest": "517655", "time": 1591261042378}
    assert rejection(fresh.normalize_open_interest, payload, RECEIVED).error_type == "missing_price"


def test_liquidation_is_converted(normalizer: BinanceCoinmNormalizer) -> None:
    # forceOrder of the COIN-M "Liquidation Order Streams" docs.
    frame = {
        "e": "forceOrder",
        "E": 1591154240950,
        "o": {"s": "BTCUSD_PERP", "ps": "BTCUSD", "S": "SELL", "o": "LIMIT", "f": "IOC", "q": "1", "p": "9425.5",
              "ap": "9496.5", "X": "FILLED", "l": "1", "z": "1", "T": 1591154240949},
    }  # fmt: skip
    [liquidation] = normalizer.normalize(frame, RECEIVED)
    assert isinstance(liquidation, Liquidation)
    assert liquidation.side is Side.SELL
    assert liquidation.price == Decimal("9496.5")
    assert liquidation.quantity == Decimal(100) / Decimal("9496.5")
    assert liquidation.notional == Decimal(100)


@pytest.mark.parametrize(
    ("frame", "error_type"),
    [
        ({"e": "trade", "T": 1, "s": "BTCUSD_PERP", "t": 1, "p": "0", "q": "1", "m": True}, "out_of_range"),
        ({"e": "trade", "T": 1, "s": "BTCUSD_PERP", "t": 1, "p": "-5", "q": "1", "m": True}, "out_of_range"),
        ({"e": "trade", "T": 1, "s": "BTCUSDT", "t": 1, "p": "1", "q": "1", "m": True}, "unknown_instrument"),
        ({"e": "bookTicker", "s": "BTCUSD_PERP", "u": 1, "b": "0", "B": "1", "a": "1", "A": "1", "T": 1}, "out_of_range"),
        ({"e": "depthUpdate", "T": 1, "s": "BTCUSD_PERP", "U": 1, "u": 2, "pu": 0, "b": [["1"]], "a": []}, "malformed"),
        ({"e": "trade", "T": 1, "s": "BTCUSD_PERP", "t": 1, "p": "1E+999999", "q": "9E+999999", "m": True}, "out_of_range"),
        ({"e": "somethingNew"}, "unknown_event"),
    ],
)  # fmt: skip
def test_bad_frames_are_rejected_with_a_reason(
    normalizer: BinanceCoinmNormalizer, frame: dict[str, Any], error_type: str
) -> None:
    assert rejection(normalizer.normalize, frame, RECEIVED).error_type == error_type


def test_instruments_from_exchange_info() -> None:
    # GET /dapi/v1/exchangeInfo example of the COIN-M docs (fields trimmed).
    payload = {
        "symbols": [
            {
                "symbol": "BTCUSD_PERP",
                "pair": "BTCUSD",
                "contractType": "PERPETUAL",
                "contractStatus": "TRADING",
                "contractSize": 100,
                "baseAsset": "BTC",
                "quoteAsset": "USD",
                "marginAsset": "BTC",
                "filters": [
                    {
                        "filterType": "PRICE_FILTER",
                        "minPrice": "1000",
                        "maxPrice": "4520958",
                        "tickSize": "0.1",
                    },
                    {"filterType": "LOT_SIZE", "stepSize": "1", "maxQty": "1000000", "minQty": "1"},
                ],
            },
            {"symbol": "BTCUSD_240927", "contractType": "CURRENT_QUARTER", "contractStatus": "TRADING"},
        ]
    }
    [btc] = BinanceCoinmAdapter(InstrumentCatalog([], "test")).parse_instruments(payload)
    assert (btc.symbol, btc.inverse, btc.contract_size, btc.tick_size, btc.lot_size) == (
        "BTC-USD-PERP",
        True,
        Decimal(100),
        Decimal("0.1"),
        Decimal(1),
    )


def test_adapter_protocol_facts() -> None:
    adapter = BinanceCoinmAdapter(load_snapshot())
    [frame] = adapter.subscribe_frames(frozenset({Channel.TRADES, Channel.BOOK}), ["BTCUSD_PERP"])
    assert orjson.loads(frame)["params"] == ["btcusd_perp@depth@100ms", "btcusd_perp@aggTrade"]
    assert adapter.ws_url == "wss://dstream.binance.com/stream"
    snapshot = adapter.book_snapshot_request("BTCUSD_PERP")
    assert snapshot is not None
    assert (snapshot.path, snapshot.weight) == ("/dapi/v1/depth", 20)
    assert adapter.open_interest_request("BTCUSD_PERP").path == "/dapi/v1/openInterest"
    assert adapter.instruments_request().path == "/dapi/v1/exchangeInfo"
    assert adapter.connect_request() is None
    assert adapter.ws_url_from(None) == adapter.ws_url
    assert isinstance(adapter.normalizer, BinanceCoinmNormalizer)


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(["trade", "aggTrade", "bookTicker", "depthUpdate", "markPriceUpdate", "forceOrder"]),
    mutations=st.dictionaries(
        st.sampled_from(
            ["s", "p", "q", "b", "a", "B", "A", "u", "U", "pu", "T", "E", "m", "t", "o", "r", "i"]
        ),
        json_values | st.sampled_from(["0", "-1", "1E+999999", "NaN", "Infinity", "0.0"]),
        max_size=4,
    ),
)
def test_mutated_frames_never_raise_anything_but_frame_rejected(kind: str, mutations: dict[str, Any]) -> None:
    base = {
        "e": kind,
        "E": 1723161257687,
        "T": 1723161257679,
        "s": "BTCUSD_PERP",
        "t": 1,
        "a": 1,
        "p": "61804.8",
        "q": "4",
        "m": False,
        "u": 5,
        "U": 4,
        "pu": 3,
        "b": [["61804.7", "35"]],
        "A": "1645",
        "B": "35",
        "r": "0.0001",
        "i": "61800",
        "o": {"s": "BTCUSD_PERP", "S": "SELL", "q": "1", "p": "9425.5", "T": 1},
    }
    if kind == "bookTicker":
        base.update({"b": "61804.7", "a": "61804.8"})
    base.update(mutations)
    only_frame_rejected_escapes(_FUZZ_NORMALIZER.normalize, base, RECEIVED)


def test_a_trade_with_a_hostile_price_is_rejected_with_a_reason(real_frames: dict[str, bytes]) -> None:
    """The fuzz family's assertion: a valid-looking mutation of a real trade, its price set to a
    number no market has (negative, zero, NaN, infinite, out of range, not a number), is rejected
    with a reason (``fuzzkit.PRICE_REJECTIONS``), never published."""
    normalizer = BinanceCoinmNormalizer(load_snapshot())
    pool = [orjson.loads(raw) for raw in real_frames.values()]
    assert_hostile_prices_rejected(lambda frame: normalizer.normalize(frame, RECEIVED), pool)
