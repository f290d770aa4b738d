"""Binance USD-M parsing on real frames from the 2024-08-08 capture: exact values."""

from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import BestBidOffer, BookDelta, BookSnapshot, Funding, Liquidation, Side, Trade
from services.ingest.normalizer import FrameRejected
from services.instruments.catalog import load_snapshot
from services.venues.binance_usdm.adapter import BinanceUsdmNormalizer
from tests.ingest.fuzzkit import (
    assert_hostile_prices_rejected,
    binance_capture_frames,
    json_values,
    only_frame_rejected_escapes,
    rejection,
)

RECEIVED = 1_723_161_255_088_176_367


@pytest.fixture(scope="module")
def normalizer() -> BinanceUsdmNormalizer:
    return BinanceUsdmNormalizer(load_snapshot())


@pytest.fixture(scope="module")
def real_frames(binance_capture: Path) -> dict[str, bytes]:
    """The first frame of each kind in the capture, verbatim."""
    return binance_capture_frames(binance_capture)


def test_trade(normalizer: BinanceUsdmNormalizer, real_frames: dict[str, bytes]) -> None:
    # {"e":"trade","E":1723161256322,"T":1723161256322,"s":"BTCUSDT","t":5266583935,"p":"61800.30","q":"0.006","X":"MARKET","m":false}
    [trade] = normalizer.normalize(orjson.loads(real_frames["trade"]), RECEIVED)
    assert isinstance(trade, Trade)
    assert trade.symbol == "BTC-USDT-PERP"
    assert trade.native_symbol == "BTCUSDT"
    assert trade.trade_id == "5266583935"
    assert trade.side is Side.BUY  # m=false: the buyer was the taker
    assert trade.price == Decimal("61800.30")
    assert trade.quantity == Decimal("0.006")
    assert trade.notional == Decimal("370.80180")
    assert trade.exchange_ts == 1_723_161_256_322_000_000
    assert trade.receive_ts == RECEIVED


def test_book_ticker(normalizer: BinanceUsdmNormalizer, real_frames: dict[str, bytes]) -> None:
    [bbo] = normalizer.normalize(orjson.loads(real_frames["bookTicker"]), RECEIVED)
    assert isinstance(bbo, BestBidOffer)
    assert (bbo.bid_price, bbo.bid_quantity) == (Decimal("61800.20"), Decimal("2.507"))
    assert (bbo.ask_price, bbo.ask_quantity) == (Decimal("61800.30"), Decimal("2.510"))
    assert bbo.sequence == 5123107839020
    assert bbo.exchange_ts == 1_723_161_256_313_000_000


def test_depth_update_keeps_venue_sequence_ids(
    normalizer: BinanceUsdmNormalizer, real_frames: dict[str, bytes]
) -> None:
    [delta] = normalizer.normalize(orjson.loads(real_frames["depthUpdate"]), RECEIVED)
    assert isinstance(delta, BookDelta)
    assert (delta.sequence.first, delta.sequence.last, delta.sequence.prev) == (
        5123107832006,
        5123107837557,
        5123107831937,
    )
    assert delta.bids[0] == (Decimal("58710.20"), Decimal("0.014"))
    assert (Decimal("61510.90"), Decimal("0.000")) in delta.bids  # a deletion
    assert delta.asks[0] == (Decimal("61800.30"), Decimal("3.330"))
    assert delta.exchange_ts == 1_723_161_256_298_000_000  # T, the matching-engine time


def test_rest_snapshot(normalizer: BinanceUsdmNormalizer, real_frames: dict[str, bytes]) -> None:
    [snapshot] = normalizer.normalize_rest_snapshot(
        orjson.loads(real_frames["snapshot"]), "BTCUSDT", RECEIVED
    )
    assert isinstance(snapshot, BookSnapshot)
    assert snapshot.sequence.last == 5123107852948
    assert len(snapshot.bids) == len(snapshot.asks) == 1000
    assert snapshot.bids[0] == (Decimal("61800.20"), Decimal("2.909"))


def test_mark_price_is_funding() -> None:
    # Shape from the Binance USD-M docs (markPriceUpdate); values are illustrative.
    frame = {
        "e": "markPriceUpdate",
        "E": 1562305380000,
        "s": "BTCUSDT",
        "p": "11794.15000000",
        "i": "11784.62659091",
        "P": "11784.25641265",
        "r": "0.00038167",
        "T": 1562306400000,
    }
    [funding] = BinanceUsdmNormalizer(load_snapshot()).normalize(frame, RECEIVED)
    assert isinstance(funding, Funding)
    assert funding.rate == Decimal("0.00038167")
    assert funding.next_funding_ts == 1_562_306_400_000_000_000
    assert funding.interval_s == 8 * 3600
    assert funding.mark_price == Decimal("11794.15000000")


def test_force_order_is_liquidation() -> None:
    frame = {
        "e": "forceOrder",
        "E": 1568014460893,
        "o": {
            "s": "BTCUSDT",
            "S": "SELL",
            "o": "LIMIT",
            "f": "IOC",
            "q": "0.014",
            "p": "9910",
            "ap": "9910",
            "X": "FILLED",
            "l": "0.014",
            "z": "0.014",
            "T": 1568014460893,
        },
    }
    [liquidation] = BinanceUsdmNormalizer(load_snapshot()).normalize(frame, RECEIVED)
    assert isinstance(liquidation, Liquidation)
    assert liquidation.side is Side.SELL
    assert liquidation.notional == Decimal("138.740")


def test_prefixed_contract_is_scaled_to_the_true_base() -> None:
    frame = {"e": "trade", "T": 1, "s": "1000PEPEUSDT", "t": 7, "p": "0.0123000", "q": "1000", "m": True}
    [trade] = BinanceUsdmNormalizer(load_snapshot()).normalize(frame, RECEIVED)
    assert isinstance(trade, Trade)
    assert trade.symbol == "PEPE-USDT-PERP"
    assert trade.quantity == Decimal("1000000")  # 1000 lots of 1000 PEPE
    assert trade.price == Decimal("0.0000123")
    assert trade.notional == Decimal("12.3000000")


@pytest.mark.parametrize(
    ("frame", "error_type"),
    [
        ({"e": "trade", "s": "BTCUSDT"}, "malformed"),
        (
            # a dated future: not named like a perpetual, so nothing is derived
            {"e": "trade", "T": 1, "s": "NOPEUSDT_240927", "t": 1, "p": "1", "q": "1", "m": True},
            "unknown_instrument",
        ),
        ({"e": "trade", "T": 1, "s": "BTCUSDT", "t": 1, "p": "-1", "q": "1", "m": True}, "out_of_range"),
        ({"e": "somethingNew"}, "unknown_event"),
        ({"stream": "x", "data": [1, 2]}, "malformed"),
        (7, "malformed"),
        (["stream"], "malformed"),
    ],
)
def test_bad_frames_are_rejected_with_a_reason(frame: dict[str, object], error_type: str) -> None:
    assert (
        rejection(BinanceUsdmNormalizer(load_snapshot()).normalize, frame, RECEIVED).error_type == error_type
    )


def test_subscription_ack_is_not_an_event() -> None:
    assert BinanceUsdmNormalizer(load_snapshot()).normalize({"result": None, "id": 1}, RECEIVED) == []


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(["trade", "aggTrade", "bookTicker", "depthUpdate", "markPriceUpdate", "forceOrder"]),
    mutations=st.dictionaries(
        st.sampled_from(
            ["s", "p", "q", "b", "a", "B", "A", "u", "U", "pu", "T", "E", "m", "t", "o", "r", "i"]
        ),
        json_values,
        max_size=4,
    ),
)
def test_mutated_frames_never_raise_anything_but_frame_rejected(
    kind: str, mutations: dict[str, object]
) -> None:
    base = {
        "e": kind,
        "E": 1723161256322,
        "T": 1723161256322,
        "s": "BTCUSDT",
        "t": 1,
        "a": 1,
        "p": "61800.30",
        "q": "0.006",
        "m": False,
        "u": 5,
        "U": 4,
        "pu": 3,
        "b": [["1", "1"]],
        "A": "1",
        "B": "1",
        "r": "0.0001",
        "i": "1",
        "o": {"s": "BTCUSDT", "S": "SELL", "q": "1", "p": "1", "T": 1},
    }
    if kind == "bookTicker":
        base.update({"b": "61800.20", "a": "61800.30"})
    base.update(mutations)
    only_frame_rejected_escapes(BinanceUsdmNormalizer(load_snapshot()).normalize, base, RECEIVED)


def test_a_trade_with_a_hostile_price_is_rejected_with_a_reason(real_frames: dict[str, bytes]) -> None:
    """The fuzz family's assertion: a valid-looking mutation of a real trade, its price set to a
    number no market has (negative, zero, NaN, infinite, out of range, not a number), is rejected
    with a reason (``fuzzkit.PRICE_REJECTIONS``), never published."""
    normalizer = BinanceUsdmNormalizer(load_snapshot())
    pool = [orjson.loads(raw) for raw in real_frames.values()]
    assert_hostile_prices_rejected(lambda frame: normalizer.normalize(frame, RECEIVED), pool)


decimal_texts = st.one_of(
    st.from_regex(r"\A[0-9]{1,6}(\.[0-9]{1,6})?\Z"),  # the trusted path, mostly
    st.from_regex(r"\A[0-9]{1,22}(\.[0-9]{1,22})?\Z"),  # near and past its 40-character budget
    st.sampled_from(["0", "0.000", "-1", "1e5", "1E-3", "NaN", "1.2.3", ".", "", "1" * 41]),
)


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(["trade", "bookTicker"]), texts=st.lists(decimal_texts, min_size=4, max_size=4))
def test_trusted_events_equal_validated_ones(kind: str, texts: list[str]) -> None:
    """Trades and tops of book are built unvalidated when their texts are surely in the contract
    (``trusted.plain_decimals``): each must be the event the contract's validation makes of it."""
    frame: dict[str, object] = {"e": kind, "E": 1723161256322, "T": 1723161256322, "s": "BTCUSDT", "u": 5}
    if kind == "trade":
        frame.update({"t": 1, "p": texts[0], "q": texts[1], "m": False})
    else:
        frame.update(dict(zip(["b", "B", "a", "A"], texts, strict=True)))
    try:
        [event] = BinanceUsdmNormalizer(load_snapshot()).normalize(frame, RECEIVED)
    except FrameRejected:
        return
    validated = type(event).model_validate({name: getattr(event, name) for name in event.model_fields_set})
    assert validated.model_dump_json() == event.model_dump_json()
    assert validated.model_fields_set == event.model_fields_set
