"""BitMEX parsing on real frames of the 2021 cryptofeed capture (../shared/data/cryptofeed/BITMEX.*).

BitMEX is not in ccxt-ws; its table formats (orderBookL2, trade, quote) are unchanged since.
"""

import copy
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import (
    BestBidOffer,
    BookDelta,
    BookSnapshot,
    ExchangeId,
    Funding,
    Liquidation,
    OpenInterest,
    Side,
    Trade,
)
from services.ingest.venue import Channel
from services.instruments.catalog import load_snapshot
from services.venues.bitmex.adapter import BitmexAdapter, BitmexNormalizer
from tests.ingest.fuzzkit import (
    assert_hostile_prices_rejected,
    draw_mutated,
    json_values,
    only_frame_rejected_escapes,
    rejection,
)

RECEIVED = 1_626_993_400_000_000_000


@pytest.fixture(scope="module")
def xbtusd(shared_data: Path) -> list[dict[str, Any]]:
    """The XBTUSD frames of the capture, in order (book, quote and trade tables)."""
    path = shared_data / "cryptofeed" / "BITMEX.ws.1.0"
    if not path.exists():
        pytest.skip(f"BitMEX capture not found at {path}")
    frames = []
    for line in path.read_text().splitlines():
        if line.startswith("wss://"):
            continue
        frame = orjson.loads(line.split(": ", 1)[1])
        rows = frame.get("data") or []
        if (
            any(row.get("symbol") == "XBTUSD" for row in rows)
            or frame.get("filter", {}).get("symbol") == "XBTUSD"
        ):
            frames.append(frame)
    return frames


def _first(frames: list[dict[str, Any]], table: str, action: str) -> dict[str, Any]:
    return next(f for f in frames if f.get("table") == table and f.get("action") == action)


def test_inverse_trade_converts_usd_contracts_to_btc(xbtusd: list[dict[str, Any]]) -> None:
    frame = _first(xbtusd, "trade", "insert")
    # rows: size 100 and 900 USD at 32180.5; BitMEX's own homeNotional 0.00310747 and 0.02796723 BTC
    first, second = BitmexNormalizer(load_snapshot()).normalize(frame, RECEIVED)
    assert isinstance(first, Trade)
    assert isinstance(second, Trade)
    assert first.symbol == "BTC-USD-PERP"
    assert first.native_symbol == "XBTUSD"
    assert first.trade_id == "6e70bebe-235e-08a6-d11b-e1042bf1f2ed"
    assert first.side is Side.BUY
    assert first.price == Decimal("32180.5")
    assert first.quantity == Decimal(100) / Decimal("32180.5")
    assert abs(first.quantity - Decimal("0.00310747")) < Decimal("0.00000001")  # homeNotional, satoshis
    # BitMEX truncates each 100-contract lot to the satoshi: 9 lots may be off by < 9 satoshis.
    assert abs(second.quantity - Decimal("0.02796723")) < Decimal("0.00000009")
    assert (first.notional, second.notional) == (Decimal(100), Decimal(900))  # foreignNotional, USD
    assert first.exchange_ts == 1_626_993_371_685_000_000


def test_trade_partial_is_not_republished(xbtusd: list[dict[str, Any]]) -> None:
    assert BitmexNormalizer(load_snapshot()).normalize(_first(xbtusd, "trade", "partial"), RECEIVED) == []


def test_book_replays_the_whole_capture_through_the_id_price_map(xbtusd: list[dict[str, Any]]) -> None:
    normalizer = BitmexNormalizer(load_snapshot())
    bids: dict[Decimal, Decimal] = {}
    asks: dict[Decimal, Decimal] = {}
    deltas = quotes = agreeing = 0
    for frame in xbtusd:
        if frame["table"] not in ("orderBookL2", "quote"):
            continue
        for event in normalizer.normalize(frame, RECEIVED):  # any unknown level id would raise here
            if isinstance(event, BookSnapshot):
                assert event.sequence.last == 0  # BitMEX sends no sequence
                assert event.bids[0][0] > event.bids[-1][0]
                assert event.asks[0][0] < event.asks[-1][0]
                bids, asks = dict(event.bids), dict(event.asks)
            elif isinstance(event, BookDelta):
                deltas += 1
                for side, levels in ((bids, event.bids), (asks, event.asks)):
                    for price, quantity in levels:
                        if quantity == 0:
                            del side[price]  # a delete always names a live level
                        else:
                            side[price] = quantity
                assert max(bids) < min(asks)
            elif isinstance(event, BestBidOffer) and bids:
                quotes += 1
                agreeing += (max(bids), min(asks)) == (event.bid_price, event.ask_price)
    # The quote table is throttled, so it sometimes trails the book by a few updates.
    assert (deltas, quotes, agreeing) == (1299, 285, 272)


def test_update_without_price_uses_the_level_from_the_partial(xbtusd: list[dict[str, Any]]) -> None:
    normalizer = BitmexNormalizer(load_snapshot())
    partial = _first(xbtusd, "orderBookL2", "partial")
    [snapshot] = normalizer.normalize(partial, RECEIVED)
    assert isinstance(snapshot, BookSnapshot)
    level = partial["data"][0]
    update = {
        "table": "orderBookL2",
        "action": "update",
        "data": [{"symbol": "XBTUSD", "id": level["id"], "side": level["side"], "size": 500}],
    }
    [delta] = normalizer.normalize(update, RECEIVED)
    assert isinstance(delta, BookDelta)
    price = Decimal(str(level["price"]))
    [(delta_price, delta_quantity)] = delta.asks or delta.bids
    assert (delta_price, delta_quantity) == (price, Decimal(500) / price)


def test_unknown_level_ids_are_rejected_and_leave_the_map_untouched(xbtusd: list[dict[str, Any]]) -> None:
    normalizer = BitmexNormalizer(load_snapshot())
    partial = _first(xbtusd, "orderBookL2", "partial")
    normalizer.normalize(partial, RECEIVED)
    known = partial["data"][0]
    mixed = {
        "table": "orderBookL2",
        "action": "delete",
        "data": [
            {"symbol": "XBTUSD", "id": known["id"], "side": known["side"]},
            {"symbol": "XBTUSD", "id": 1, "side": "Buy"},
        ],
    }
    assert rejection(normalizer.normalize, mixed, RECEIVED).error_type == "unknown_level"
    # The known level was not deleted by the rejected frame: it can still be updated.
    update = {
        "table": "orderBookL2",
        "action": "update",
        "data": [{"symbol": "XBTUSD", "id": known["id"], "side": known["side"], "size": 1}],
    }
    assert len(normalizer.normalize(update, RECEIVED)) == 1
    fresh = BitmexNormalizer(load_snapshot())
    assert rejection(fresh.normalize, update, RECEIVED).error_type == "no_snapshot"


def test_quote_is_the_bbo(xbtusd: list[dict[str, Any]]) -> None:
    # {"timestamp":"...","symbol":"XBTUSD","bidSize":...,"bidPrice":...,"askPrice":...,"askSize":...}
    frame = _first(xbtusd, "quote", "partial")
    row = frame["data"][0]
    [bbo] = BitmexNormalizer(load_snapshot()).normalize(frame, RECEIVED)
    assert isinstance(bbo, BestBidOffer)
    bid = Decimal(str(row["bidPrice"]))
    assert (bbo.bid_price, bbo.bid_quantity) == (bid, Decimal(row["bidSize"]) / bid)


def test_quantos_are_not_in_the_snapshot(shared_data: Path) -> None:
    path = shared_data / "cryptofeed" / "BITMEX.ws.1.0"
    if not path.exists():
        pytest.skip(f"BitMEX capture not found at {path}")
    line = next(
        line
        for line in path.read_text().splitlines()
        if '"table":"trade","action":"insert"' in line and "UNIUSDT" in line
    )
    frame = orjson.loads(line.split(": ", 1)[1])
    assert (
        rejection(BitmexNormalizer(load_snapshot()).normalize, frame, RECEIVED).error_type
        == "unknown_instrument"
    )


def test_linear_contracts_convert_with_the_position_multiplier() -> None:
    frame = {
        "table": "trade",
        "action": "insert",
        "data": [
            {
                "timestamp": "2026-01-01T00:00:00.000Z",
                "symbol": "XBTUSDT",
                "side": "Sell",
                "size": 1000,
                "price": 95000.5,
                "trdMatchID": "x",
            }
        ],
    }
    [trade] = BitmexNormalizer(load_snapshot()).normalize(frame, RECEIVED)
    assert isinstance(trade, Trade)
    assert (trade.symbol, trade.quantity, trade.notional) == (
        "BTC-USDT-PERP",
        Decimal("0.001"),
        Decimal("95.0005"),
    )


def test_instrument_rows_are_funding_and_open_interest() -> None:
    frame = {
        "table": "instrument",
        "action": "update",
        "data": [
            {
                "symbol": "XBTUSD",
                "fundingRate": 0.0001,
                "fundingTimestamp": "2026-01-01T04:00:00.000Z",
                "fundingInterval": "2000-01-01T08:00:00.000Z",
                "markPrice": 50000,
                "openInterest": 500000000,
                "timestamp": "2026-01-01T01:00:00.000Z",
            },
            {"symbol": "XBTUSD", "lastPrice": 50001, "timestamp": "2026-01-01T01:00:01.000Z"},
        ],
    }
    funding, open_interest = BitmexNormalizer(load_snapshot()).normalize(frame, RECEIVED)
    assert isinstance(funding, Funding)
    assert (funding.rate, funding.interval_s, funding.mark_price) == (
        Decimal("0.0001"),
        28800,
        Decimal(50000),
    )
    assert funding.next_funding_ts == 1_767_240_000_000_000_000
    assert isinstance(open_interest, OpenInterest)
    assert (open_interest.open_interest, open_interest.open_interest_notional) == (
        Decimal(10000),
        Decimal(500000000),
    )


def test_liquidation_insert_is_a_liquidation() -> None:
    frame = {
        "table": "liquidation",
        "action": "insert",
        "data": [
            {
                "orderID": "e0a568ee-7830-4428-92c3-73e82b9576ce",
                "symbol": "XBTUSD",
                "side": "Sell",
                "price": 40000,
                "leavesQty": 2000,
            }
        ],
    }
    [liquidation] = BitmexNormalizer(load_snapshot()).normalize(frame, RECEIVED)
    assert isinstance(liquidation, Liquidation)
    assert (liquidation.side, liquidation.quantity, liquidation.notional) == (
        Side.SELL,
        Decimal("0.05"),
        Decimal(2000),
    )
    update = {**frame, "action": "update"}
    assert BitmexNormalizer(load_snapshot()).normalize(update, RECEIVED) == []


def test_parse_instruments_on_recorded_data(shared_data: Path) -> None:
    path = shared_data / "cryptofeed" / "BITMEX.0"
    if not path.exists():
        pytest.skip(f"BitMEX instruments not found at {path}")
    line = next(line for line in path.read_text().splitlines() if " -> " in line)
    instruments = BitmexAdapter(load_snapshot()).parse_instruments(
        orjson.loads(line.split(" -> ", 1)[1].split(": ", 1)[1])
    )
    # Of 34 active instruments: futures and quantos are skipped, the inverse perpetuals remain.
    assert [i.symbol for i in instruments] == ["BTC-USD-PERP", "BTC-EUR-PERP"]
    xbtusd = instruments[0]
    assert (xbtusd.contract_size, xbtusd.inverse, xbtusd.lot_size, xbtusd.funding_interval_s) == (
        Decimal(1),
        True,
        Decimal(100),
        28800,
    )
    assert load_snapshot().get(ExchangeId.BITMEX, "XBTUSD") == xbtusd


def test_adapter_protocol_facts() -> None:
    adapter = BitmexAdapter(load_snapshot())
    [frame] = adapter.subscribe_frames(frozenset(Channel), ["XBTUSD"])
    assert sorted(orjson.loads(frame)["args"]) == [
        "instrument:XBTUSD",
        "liquidation:XBTUSD",
        "orderBookL2:XBTUSD",
        "quote:XBTUSD",
        "trade:XBTUSD",
    ]
    assert adapter.ping_frame() == "ping"
    assert adapter.is_control_frame("pong")
    assert adapter.is_control_frame({"info": "Welcome to the BitMEX Realtime API.", "version": "x"})
    assert adapter.is_control_frame({"success": True, "subscribe": "trade:XBTUSD"})
    assert not adapter.is_control_frame({"status": 400, "error": "Unknown table: trades"})
    assert adapter.book_snapshot_request("XBTUSD") is None
    assert adapter.connect_request() is None


@pytest.mark.parametrize(
    ("frame", "error_type"),
    [
        ({"table": "trade", "action": "insert", "data": [{"symbol": "XBTUSD"}]}, "malformed"),
        (
            {
                "table": "trade",
                "action": "insert",
                "data": [
                    {
                        "symbol": "NOPE",
                        "timestamp": "2026-01-01T00:00:00Z",
                        "side": "Buy",
                        "size": 1,
                        "price": 1,
                        "trdMatchID": "x",
                    }
                ],
            },
            "unknown_instrument",
        ),
        (
            {
                "table": "trade",
                "action": "insert",
                "data": [
                    {
                        "symbol": "XBTUSD",
                        "timestamp": "2026-01-01T00:00:00",
                        "side": "Buy",
                        "size": 1,
                        "price": 1,
                        "trdMatchID": "x",
                    }
                ],
            },
            "malformed",
        ),
        (
            {
                "table": "trade",
                "action": "insert",
                "data": [
                    {
                        "symbol": "XBTUSD",
                        "timestamp": "2026-01-01T00:00:00Z",
                        "side": "Buy",
                        "size": 1,
                        "price": 0,
                        "trdMatchID": "x",
                    }
                ],
            },
            "malformed",
        ),
        ({"table": "orderBookL2", "action": "merge", "data": []}, "malformed"),
        ({"table": "funding", "action": "insert", "data": []}, "unknown_event"),
        ({"status": 400, "error": "Unknown table: trades"}, "venue_error"),
        ({"hello": "world"}, "unknown_event"),
    ],
)
def test_bad_frames_are_rejected_with_a_reason(frame: dict[str, Any], error_type: str) -> None:
    assert rejection(BitmexNormalizer(load_snapshot()).normalize, frame, RECEIVED).error_type == error_type


@pytest.fixture(scope="module")
def fuzz_pool(xbtusd: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Small real frames (the 2,000-level partial is left out to keep each example cheap)."""
    small = [f for f in xbtusd if len(f.get("data") or []) <= 5]
    return small[:60]


@pytest.fixture(scope="module")
def primed(xbtusd: list[dict[str, Any]]) -> BitmexNormalizer:
    """A normalizer that has seen the XBTUSD partial, so that updates meet known level ids."""
    normalizer = BitmexNormalizer(load_snapshot())
    normalizer.normalize(_first(xbtusd, "orderBookL2", "partial"), RECEIVED)
    return normalizer


@settings(max_examples=250, deadline=None)
@given(data=st.data())
def test_mutated_real_frames_never_raise_anything_but_frame_rejected(
    primed: BitmexNormalizer, fuzz_pool: list[dict[str, Any]], data: st.DataObject
) -> None:
    normalizer = copy.deepcopy(primed)
    frame = draw_mutated(data, fuzz_pool, wrap=lambda body: {"table": "trade", "data": body})
    only_frame_rejected_escapes(normalizer.normalize, frame, RECEIVED)


@settings(max_examples=150, deadline=None)
@given(
    table=st.sampled_from(["orderBookL2", "trade", "quote", "instrument", "liquidation"]),
    action=st.sampled_from(["partial", "insert", "update", "delete"]),
    rows=json_values,
)
def test_random_frames_never_raise_anything_but_frame_rejected(table: str, action: str, rows: Any) -> None:
    only_frame_rejected_escapes(
        BitmexNormalizer(load_snapshot()).normalize,
        {"table": table, "action": action, "data": rows},
        RECEIVED,
    )


def test_a_trade_with_a_hostile_price_is_rejected_with_a_reason(xbtusd: list[dict[str, Any]]) -> None:
    """The fuzz family's assertion: a valid-looking mutation of a real trade, its price set to a
    number no market has (negative, zero, NaN, infinite, out of range, not a number), is rejected
    with a reason (``fuzzkit.PRICE_REJECTIONS``), never published."""
    normalizer = BitmexNormalizer(load_snapshot())
    pool = [_first(xbtusd, "trade", "insert")]
    assert_hostile_prices_rejected(lambda frame: normalizer.normalize(frame, RECEIVED), pool)
