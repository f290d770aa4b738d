"""Deribit parsing on real frames: ccxt-ws/deribit.json (2026) and cryptofeed DERIBIT (2021 option books)."""

import copy
import itertools
from collections import defaultdict
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
from services.instruments.catalog import Instrument, InstrumentCatalog, load_snapshot
from services.venues.deribit.adapter import DeribitAdapter, DeribitNormalizer
from tests.ingest.fuzzkit import (
    assert_hostile_prices_rejected,
    ccxt_ws_frames,
    draw_mutated,
    json_values,
    only_frame_rejected_escapes,
    rejection,
)

RECEIVED = 1_786_563_200_000_000_000


@pytest.fixture(scope="module")
def normalizer() -> DeribitNormalizer:
    return DeribitNormalizer(load_snapshot())


@pytest.fixture(scope="module")
def frames(shared_data: Path) -> dict[str, list[dict[str, Any]]]:
    return ccxt_ws_frames(shared_data, "deribit")


@pytest.fixture(scope="module")
def option_frames(shared_data: Path) -> list[dict[str, Any]]:
    """Every received frame of the 2021 capture (option books, trades and tickers)."""
    path = shared_data / "cryptofeed" / "DERIBIT.ws.1.0"
    if not path.exists():
        pytest.skip(f"Deribit capture not found at {path}")
    return [
        orjson.loads(line.split(": ", 1)[1])
        for line in path.read_text().splitlines()
        if line and not line.startswith("wss://")
    ]


def test_trade_amount_is_usd_on_an_inverse_perpetual(
    normalizer: DeribitNormalizer, frames: dict[str, list[dict[str, Any]]]
) -> None:
    ack, first, second = frames["watchTrades"]
    assert normalizer.normalize(ack, RECEIVED) == []
    # {"timestamp":1786563104514,"price":63344.5,"direction":"buy","trade_id":"440192723","amount":20,"contracts":2}
    [trade] = normalizer.normalize(first, RECEIVED)
    assert isinstance(trade, Trade)
    assert trade.symbol == "BTC-USD-PERP"
    assert trade.native_symbol == "BTC-PERPETUAL"
    assert trade.trade_id == "440192723"
    assert trade.side is Side.BUY
    assert trade.price == Decimal("63344.5")
    assert trade.quantity == Decimal(20) / Decimal("63344.5")  # 2 contracts of 10 USD, in BTC
    assert trade.notional == Decimal(20)  # USD
    assert trade.exchange_ts == 1_786_563_104_514_000_000
    [trade] = normalizer.normalize(second, RECEIVED)
    assert isinstance(trade, Trade)
    assert (trade.side, trade.notional) == (Side.SELL, Decimal(40))


def test_book_snapshot_and_change_chain(
    normalizer: DeribitNormalizer, frames: dict[str, list[dict[str, Any]]]
) -> None:
    _, snapshot_frame, change_frame = frames["watchOrderBook"]
    [snapshot] = normalizer.normalize(snapshot_frame, RECEIVED)
    [change] = normalizer.normalize(change_frame, RECEIVED)
    assert isinstance(snapshot, BookSnapshot)
    assert isinstance(change, BookDelta)
    assert snapshot.sequence.last == 169600103289
    assert snapshot.bids[0] == (Decimal("63324.5"), Decimal(372280) / Decimal("63324.5"))
    assert snapshot.asks[0] == (Decimal("63325"), Decimal(7730) / Decimal("63325"))
    assert (change.sequence.prev, change.sequence.last) == (169600103289, 169600103676)
    assert change.bids == [(Decimal("62533"), Decimal(0))]  # "delete"
    assert change.asks[0] == (Decimal("63350.5"), Decimal(8250) / Decimal("63350.5"))
    assert change.sequence.prev == snapshot.sequence.last  # no gap


def _option_catalog(frames: list[dict[str, Any]]) -> InstrumentCatalog:
    """Stand-in instruments for the 2021 option books: same book format, amounts in coin."""
    names = {f["params"]["data"]["instrument_name"] for f in frames if f.get("method") == "subscription"}
    return InstrumentCatalog(
        [
            Instrument(
                exchange=ExchangeId.DERIBIT,
                native_symbol=name,
                base=name.replace("-", ""),
                quote=name[:3],
                tick_size=Decimal("0.0005"),
                lot_size=Decimal("0.1"),
                contract_size=Decimal(1),
                inverse=False,
            )
            for name in names
        ],
        version="test",
    )


def test_recorded_option_book_chains_have_no_gap(option_frames: list[dict[str, Any]]) -> None:
    normalizer = DeribitNormalizer(_option_catalog(option_frames))
    books: dict[str, list[BookSnapshot | BookDelta]] = defaultdict(list)
    for frame in option_frames:
        if frame.get("method") == "subscription" and frame["params"]["channel"].startswith("book."):
            [event] = normalizer.normalize(frame, RECEIVED)
            assert isinstance(event, BookSnapshot | BookDelta)
            books[event.native_symbol].append(event)
    changes = gaps = 0
    for events in books.values():
        assert isinstance(events[0], BookSnapshot)
        for before, after in itertools.pairwise(events):
            assert isinstance(after, BookDelta)
            gaps += after.sequence.prev != before.sequence.last  # Deribit: prev_change_id = change_id
            changes += 1
    assert (len(books), changes, gaps) == (10, 36, 0)


def test_ticker_is_funding_and_open_interest(
    normalizer: DeribitNormalizer, frames: dict[str, list[dict[str, Any]]]
) -> None:
    funding, open_interest = normalizer.normalize(frames["watchTicker"][1], RECEIVED)
    assert isinstance(funding, Funding)
    assert funding.rate == Decimal("0.00010036")  # funding_8h
    assert funding.interval_s == 8 * 3600
    assert funding.next_funding_ts == funding.exchange_ts == 1_786_563_120_494_000_000  # continuous
    assert (funding.mark_price, funding.index_price) == (Decimal("63346.33"), Decimal("63329.18"))
    assert isinstance(open_interest, OpenInterest)
    assert open_interest.open_interest == Decimal(716004750) / Decimal("63346.33")  # USD -> BTC at mark
    assert open_interest.open_interest_notional == Decimal(716004750)


def test_liquidation_flag_becomes_liquidations(frames: dict[str, list[dict[str, Any]]]) -> None:
    frame = copy.deepcopy(frames["watchTrades"][1])
    frame["params"]["data"][0]["liquidation"] = "MT"
    trade, taker, maker = DeribitNormalizer(load_snapshot()).normalize(frame, RECEIVED)
    assert isinstance(trade, Trade)
    assert isinstance(taker, Liquidation)
    assert isinstance(maker, Liquidation)
    assert (taker.side, maker.side) == (Side.BUY, Side.SELL)  # the taker bought; the maker sold
    assert taker.notional == Decimal(20)


def test_quote_is_the_bbo() -> None:
    # Shape of the quote.{instrument} notification in the Deribit docs.
    frame = {
        "jsonrpc": "2.0",
        "method": "subscription",
        "params": {
            "channel": "quote.ETH_USDC-PERPETUAL",
            "data": {
                "timestamp": 1550658624149,
                "instrument_name": "ETH_USDC-PERPETUAL",
                "best_bid_price": 3900.5,
                "best_bid_amount": 2.5,
                "best_ask_price": 3901,
                "best_ask_amount": 0.01,
            },
        },
    }
    [bbo] = DeribitNormalizer(load_snapshot()).normalize(frame, RECEIVED)
    assert isinstance(bbo, BestBidOffer)
    assert (bbo.bid_price, bbo.bid_quantity, bbo.ask_price, bbo.ask_quantity) == (
        Decimal("3900.5"),
        Decimal("2.5"),  # linear: coin
        Decimal("3901"),
        Decimal("0.01"),
    )


def test_heartbeats_and_replies_are_control_frames() -> None:
    adapter = DeribitAdapter(load_snapshot())
    test_request = {"jsonrpc": "2.0", "method": "heartbeat", "params": {"type": "test_request"}}
    reply = {"jsonrpc": "2.0", "id": 0, "result": {"version": "1.2.26"}}
    for frame in (test_request, reply):
        assert adapter.is_control_frame(frame)
        assert adapter.normalizer.normalize(frame, RECEIVED) == []
    assert not adapter.is_control_frame({"jsonrpc": "2.0", "id": 3, "error": {"code": 11050}})


def test_parse_instruments_on_recorded_data(shared_data: Path) -> None:
    path = shared_data / "cryptofeed" / "DERIBIT.0"
    if not path.exists():
        pytest.skip(f"Deribit instruments not found at {path}")
    adapter = DeribitAdapter(load_snapshot())
    instruments = [
        instrument
        for line in path.read_text().splitlines()
        if " -> " in line
        for instrument in adapter.parse_instruments(orjson.loads(line.split(" -> ", 1)[1].split(": ", 1)[1]))
    ]
    assert len(instruments) == 19  # perpetuals only: options and dated futures are skipped
    by_name = {i.native_symbol: i for i in instruments}
    assert (by_name["BTC-PERPETUAL"].symbol, by_name["BTC-PERPETUAL"].inverse) == ("BTC-USD-PERP", True)
    assert (by_name["SOL-PERPETUAL"].inverse, by_name["SOL_USDC-PERPETUAL"].inverse) == (True, False)
    assert by_name["BTC_USDC-PERPETUAL"].symbol == "BTC-USDC-PERP"
    snapshot = load_snapshot()
    for name in ("BTC-PERPETUAL", "ETH-PERPETUAL", "BTC_USDC-PERPETUAL", "ETH_USDC-PERPETUAL"):
        assert snapshot.get(ExchangeId.DERIBIT, name) == by_name[name]


def test_adapter_protocol_facts() -> None:
    adapter = DeribitAdapter(load_snapshot())
    heartbeat, subscribe = (
        orjson.loads(f) for f in adapter.subscribe_frames(frozenset(Channel), ["BTC-PERPETUAL"])
    )
    assert heartbeat["method"] == "public/set_heartbeat"
    assert heartbeat["params"]["interval"] >= 10
    assert sorted(subscribe["params"]["channels"]) == [
        "book.BTC-PERPETUAL.100ms",
        "quote.BTC-PERPETUAL",
        "ticker.BTC-PERPETUAL.100ms",
        "trades.BTC-PERPETUAL.100ms",
    ]
    assert orjson.loads(adapter.ping_frame() or "")["method"] == "public/test"
    assert adapter.ping_interval_s is not None
    assert adapter.ping_interval_s < heartbeat["params"]["interval"]
    assert adapter.book_snapshot_request("BTC-PERPETUAL") is None
    assert adapter.connect_request() is None


def _sub(channel: str, data: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": "subscription", "params": {"channel": channel, "data": data}}


_TRADE = {
    "timestamp": 1,
    "price": 1,
    "direction": "buy",
    "trade_id": "1",
    "instrument_name": "BTC-PERPETUAL",
    "amount": 10,
}


@pytest.mark.parametrize(
    ("frame", "error_type"),
    [
        (_sub("trades.BTC-PERPETUAL.100ms", [{"instrument_name": "BTC-PERPETUAL"}]), "malformed"),
        (_sub("trades.X.100ms", [{**_TRADE, "instrument_name": "NOPE-PERPETUAL"}]), "unknown_instrument"),
        (_sub("trades.BTC-PERPETUAL.100ms", [{**_TRADE, "direction": "up"}]), "malformed"),
        (_sub("trades.BTC-PERPETUAL.100ms", [{**_TRADE, "liquidation": "X"}]), "malformed"),
        (_sub("trades.BTC-PERPETUAL.100ms", [{**_TRADE, "price": 0}]), "malformed"),
        (
            _sub(
                "book.BTC-PERPETUAL.100ms",
                {
                    "type": "odd",
                    "instrument_name": "BTC-PERPETUAL",
                    "timestamp": 1,
                    "bids": [],
                    "asks": [],
                    "change_id": 1,
                },
            ),
            "malformed",
        ),
        (_sub("chart.trades.BTC-PERPETUAL.1", {}), "unknown_event"),
        ({"jsonrpc": "2.0", "id": 3, "error": {"code": 11050, "message": "bad_request"}}, "venue_error"),
        ({"jsonrpc": "2.0", "method": "something"}, "unknown_event"),
    ],
)
def test_bad_frames_are_rejected_with_a_reason(frame: dict[str, Any], error_type: str) -> None:
    assert rejection(DeribitNormalizer(load_snapshot()).normalize, frame, RECEIVED).error_type == error_type


@settings(max_examples=250, deadline=None)
@given(data=st.data())
def test_mutated_real_frames_never_raise_anything_but_frame_rejected(
    frames: dict[str, list[dict[str, Any]]], data: st.DataObject
) -> None:
    normalizer = DeribitNormalizer(load_snapshot())
    frame = draw_mutated(
        data, [f for method in frames.values() for f in method], wrap=lambda body: {"params": body}
    )
    only_frame_rejected_escapes(normalizer.normalize, frame, RECEIVED)


@settings(max_examples=150, deadline=None)
@given(
    channel=st.sampled_from(
        [
            "trades.BTC-PERPETUAL.100ms",
            "book.BTC-PERPETUAL.100ms",
            "quote.BTC-PERPETUAL",
            "ticker.BTC-PERPETUAL.100ms",
        ]
    ),
    data=json_values,
)
def test_random_frames_never_raise_anything_but_frame_rejected(channel: str, data: Any) -> None:
    only_frame_rejected_escapes(DeribitNormalizer(load_snapshot()).normalize, _sub(channel, data), RECEIVED)


def test_a_trade_with_a_hostile_price_is_rejected_with_a_reason(
    frames: dict[str, list[dict[str, Any]]],
) -> None:
    """The fuzz family's assertion: a valid-looking mutation of a real trade, its price set to a
    number no market has (negative, zero, NaN, infinite, out of range, not a number), is rejected
    with a reason (``fuzzkit.PRICE_REJECTIONS``), never published."""
    normalizer = DeribitNormalizer(load_snapshot())
    pool = [f for method in frames.values() for f in method]
    assert_hostile_prices_rejected(lambda frame: normalizer.normalize(frame, RECEIVED), pool)
