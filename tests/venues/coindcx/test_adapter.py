"""CoinDCX futures parsing on the event payloads published in the CoinDCX docs (Futures Sockets),
framed as the Engine.IO v4 text frames the socket carries. No recorded CoinDCX capture exists."""

import json
from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import BookSnapshot, Funding, Side, Trade
from services.ingest.normalizer import FrameRejected
from services.ingest.venue import Channel
from services.instruments.catalog import InstrumentCatalog, load_snapshot
from services.venues.coindcx.adapter import CoindcxAdapter, CoindcxNormalizer, decode_frame, pair_from_market
from tests.ingest.fuzzkit import (
    assert_hostile_prices_rejected,
    json_values,
    only_frame_rejected_escapes,
    rejection,
)

RECEIVED = 1_705_516_416_300_000_000
_FUZZ_NORMALIZER = CoindcxNormalizer(load_snapshot())

TRADE: dict[str, Any] = {
    "T": 1705516361108,
    "RT": 1705516416271.6133,
    "p": "0.3473",
    "q": "40",
    "m": 1,
    "s": "B-ID_USDT",
    "pr": "f",
}
BOOK: dict[str, Any] = {
    "ts": 1705913767265,
    "vs": 53727235,
    "asks": {"2410": "112.442", "2409.77": "55.997", "2409.78": "5.912"},
    "bids": {"2409.76": "12.417", "2409.75": "1.516", "2409.74": "15.876"},
    "pr": "futures",
}
PRICES: dict[str, Any] = {
    "vs": 29358821,
    "ts": 1707384027242,
    "pr": "futures",
    "pST": 1707384027230,
    "prices": {
        "B-UNI_USDT": {"bmST": 1707384027000, "cmRT": 1707384027149},
        "B-LDO_USDT": {"mp": 2.87559482, "bmST": 1707384027000, "cmRT": 1707384027149},
    },
}


def socket_text(event: str, data: dict[str, Any], **envelope: Any) -> str:
    """How the server frames an event: ``42[name, {"event", "data": "<JSON text>"}]``."""
    payload = {"event": event, "data": orjson.dumps(data).decode(), **envelope}
    return "42" + orjson.dumps([event, payload]).decode()


@pytest.fixture(scope="module")
def normalizer() -> CoindcxNormalizer:
    return CoindcxNormalizer(load_snapshot())


def test_engine_io_frames_are_decoded_or_recognised_as_control() -> None:
    for control in (
        '0{"sid":"x","pingInterval":25000,"pingTimeout":20000}',
        "40",
        '40{"sid":"y"}',
        "2",
        "3",
        "41",
    ):
        assert decode_frame(control) is None
    assert decode_frame('42["new-trade",{"data":"{}"}]') == ["new-trade", {"data": "{}"}]
    with pytest.raises(FrameRejected):
        decode_frame("42{not json")
    with pytest.raises(FrameRejected):
        decode_frame('42{"a": 1}')


def test_a_socket_io_event_without_its_engine_io_prefix_is_read_and_nothing_is_dropped_silently(
    normalizer: CoindcxNormalizer,
) -> None:
    """Issue 15, class 4: a capture line ``["new-trade", {...}]`` (no ``42``) produced nothing at all."""
    bare = socket_text("new-trade", TRADE)[len("42") :]
    adapter = CoindcxAdapter(load_snapshot())
    assert not adapter.is_control_frame(bare)
    [trade] = normalizer.normalize(decode_frame(bare), 1)
    assert isinstance(trade, Trade)
    for text, error_type in [
        ('{"event": "new-trade"}', "malformed"),
        ("hello", "malformed"),
        ('44{"message": "Not authorized"}', "venue_error"),
    ]:
        assert not adapter.is_control_frame(text)
        assert rejection(decode_frame, text).error_type == error_type


def test_trade_converts_and_reads_maker_flag(normalizer: CoindcxNormalizer) -> None:
    frame = decode_frame(socket_text("new-trade", TRADE))
    [trade] = normalizer.normalize(frame, RECEIVED)
    assert isinstance(trade, Trade)
    assert (trade.symbol, trade.native_symbol) == ("ID-USDT-PERP", "B-ID_USDT")
    assert trade.side is Side.SELL  # m=1: the buyer was the maker
    assert (trade.price, trade.quantity) == (Decimal("0.3473"), Decimal("40"))  # base coins
    assert trade.notional == Decimal("13.8920")
    assert trade.exchange_ts == 1_705_516_361_108_000_000
    assert trade.trade_id == "1705516361108-0.3473-40-1"
    # The raw text frame and a payload whose data is already an object give the same event.
    assert normalizer.normalize(socket_text("new-trade", TRADE), RECEIVED) == [trade]
    assert normalizer.normalize(["new-trade", {"event": "new-trade", "data": TRADE}], RECEIVED) == [trade]
    [taker_buy] = normalizer.normalize(["new-trade", {"data": {**TRADE, "m": 0}}], RECEIVED)
    assert taker_buy.side is Side.BUY  # type: ignore[attr-defined]


def test_derived_trade_ids_are_collision_free_within_a_frame_and_stable_across_replays() -> None:
    """Issue 15, class 5: CoinDCX sends no trade id. A ``new-trade`` event carries one fill, so
    ids cannot collide within a frame; the id depends on the frame alone (time, price, size,
    maker flag), so a replay, in a fresh process or not, names every fill the same."""
    text = socket_text("new-trade", TRADE)
    first = CoindcxNormalizer(load_snapshot()).normalize(text, RECEIVED)
    again = CoindcxNormalizer(load_snapshot()).normalize(text, RECEIVED + 5)
    assert len(first) == 1
    assert [t.trade_id for t in first] == [t.trade_id for t in again]  # type: ignore[attr-defined]
    other_side = CoindcxNormalizer(load_snapshot()).normalize(socket_text("new-trade", {**TRADE, "m": 0}), 1)
    assert other_side[0].trade_id != first[0].trade_id  # type: ignore[attr-defined]


def test_depth_snapshot_is_sorted_and_named_by_channel_or_market(normalizer: CoindcxNormalizer) -> None:
    by_channel = decode_frame(socket_text("depth-snapshot", BOOK, channel="B-ETH_USDT@orderbook@50-futures"))
    [book] = normalizer.normalize(by_channel, RECEIVED)
    assert isinstance(book, BookSnapshot)
    assert book.symbol == "ETH-USDT-PERP"
    assert book.sequence.last == 53727235
    assert book.exchange_ts == 1_705_913_767_265_000_000
    # The maps are unordered: asks ascend from the best, bids descend from the best.
    assert [p for p, _ in book.asks] == [Decimal("2409.77"), Decimal("2409.78"), Decimal("2410")]
    assert book.bids[0] == (Decimal("2409.76"), Decimal("12.417"))
    [by_market] = normalizer.normalize(["depth-snapshot", {"data": {**BOOK, "s": "ETHUSDT"}}], RECEIVED)
    assert by_market == book
    unnamed = ["depth-snapshot", {"data": BOOK}]  # nothing names the instrument
    assert rejection(normalizer.normalize, unnamed, RECEIVED).error_type == "malformed"


def test_current_prices_give_funding_only_when_a_rate_is_sent(normalizer: CoindcxNormalizer) -> None:
    assert (
        normalizer.normalize(decode_frame(socket_text("currentPrices@futures#update", PRICES)), RECEIVED)
        == []
    )
    with_rate = {**PRICES, "prices": {**PRICES["prices"], "B-BTC_USDT": {"mp": 97123.4, "fr": 0.0001}}}
    [funding] = normalizer.normalize(["currentPrices@futures#update", {"data": with_rate}], RECEIVED)
    assert isinstance(funding, Funding)
    assert (funding.symbol, funding.rate, funding.mark_price) == (
        "BTC-USDT-PERP",
        Decimal("0.0001"),
        Decimal("97123.4"),
    )
    assert funding.interval_s == 8 * 3600
    assert funding.next_funding_ts == 1_707_408_000_000_000_000  # 2024-02-08 16:00 UTC
    assert funding.exchange_ts == 1_707_384_027_242_000_000


def test_market_symbol_to_pair() -> None:
    assert pair_from_market("BTCUSDT") == "B-BTC_USDT"
    with pytest.raises(ValueError, match="USDT"):
        pair_from_market("USDT")


@pytest.mark.parametrize(
    ("frame", "error_type"),
    [
        ({"event": "new-trade"}, "malformed"),
        ([], "malformed"),
        ("42[1, 2]", "malformed"),
        (["candlestick", {"data": "{}"}], "unknown_event"),
        (["new-trade", {"data": "{not json"}], "malformed"),
        (
            ["new-trade", {"data": {**TRADE, "s": "B-NOPE_INR"}}],
            "unknown_instrument",
        ),  # not a B-BASE_USDT pair
        (["new-trade", {"data": {**TRADE, "p": "-1"}}], "malformed"),
        (["new-trade", {"data": {**TRADE, "q": None}}], "malformed"),
        (["depth-snapshot", {"data": {**BOOK, "s": "ETHUSDT", "asks": [["1", "1"]]}}], "malformed"),
        (["depth-snapshot", {"data": {**BOOK, "s": "ETHBTC"}}], "malformed"),
    ],
)
def test_bad_frames_are_rejected_with_a_reason(
    normalizer: CoindcxNormalizer, frame: Any, error_type: str
) -> None:
    assert rejection(normalizer.normalize, frame, RECEIVED).error_type == error_type


def test_instruments_from_instrument_details() -> None:
    # GET /exchange/v1/derivatives/futures/data/instrument?pair=B-BTC_USDT (fields trimmed).
    details = {
        "instrument": {
            "settle_currency_short_name": "USDT",
            "quote_currency_short_name": "USDT",
            "position_currency_short_name": "BTC",
            "underlying_currency_short_name": "BTC",
            "status": "active",
            "pair": "B-BTC_USDT",
            "kind": "perpetual",
            "unit_contract_value": 1.0,
            "price_increment": 0.1,
            "quantity_increment": 0.001,
            "is_inverse": False,
            "funding_frequency": 8,
        }
    }
    adapter = CoindcxAdapter(InstrumentCatalog([], "test"))
    [btc] = adapter.parse_instruments(details)
    assert (btc.symbol, btc.native_symbol, btc.tick_size, btc.lot_size, btc.contract_size) == (
        "BTC-USDT-PERP",
        "B-BTC_USDT",
        Decimal("0.1"),
        Decimal("0.001"),
        Decimal(1),
    )
    assert adapter.parse_instruments([details, details["instrument"]]) == [btc, btc]
    assert adapter.parse_instruments(["B-BTC_USDT", "B-ETH_USDT"]) == []  # names only: no sizes
    request = adapter.instrument_details_request("B-BTC_USDT")
    assert request.params == {"pair": "B-BTC_USDT", "margin_currency_short_name": "USDT"}


def test_adapter_speaks_engine_io() -> None:
    adapter = CoindcxAdapter(load_snapshot())
    frames = adapter.subscribe_frames(frozenset(Channel), ["B-BTC_USDT"])
    assert frames[0] == "40"
    assert [orjson.loads(f[2:]) for f in frames[1:]] == [
        ["join", {"channelName": "B-BTC_USDT@orderbook@50-futures"}],
        ["join", {"channelName": "B-BTC_USDT@trades-futures"}],
        ["join", {"channelName": "currentPrices@futures@rt"}],
    ]
    assert adapter.ws_url.endswith("/socket.io/?EIO=4&transport=websocket")
    assert adapter.ping_frame() == "3"
    assert adapter.control_reply("2") == "3"
    assert adapter.control_reply('42["x",{}]') is None
    assert adapter.is_control_frame("2")
    assert adapter.is_control_frame('0{"sid":"x"}')
    assert adapter.is_control_frame(40)  # "40" after a blind JSON decode
    assert not adapter.is_control_frame('42["new-trade",{}]')
    assert not adapter.is_control_frame(["new-trade", {}])
    assert adapter.capabilities == frozenset({Channel.TRADES, Channel.BOOK, Channel.FUNDING})
    assert adapter.book_snapshot_request("B-BTC_USDT") is None
    assert adapter.connect_request() is None
    assert adapter.ws_url_from({}) == adapter.ws_url


_BASES: dict[str, dict[str, Any]] = {
    "new-trade": TRADE,
    "depth-snapshot": {**BOOK, "s": "ETHUSDT"},
    "currentPrices@futures#update": {**PRICES, "prices": {"B-BTC_USDT": {"mp": 97123.4, "fr": 0.0001}}},
}


@settings(max_examples=300, deadline=None)
@given(
    event=st.sampled_from(sorted(_BASES)),
    as_text=st.booleans(),
    mutations=st.dictionaries(
        st.sampled_from(["T", "p", "q", "m", "s", "ts", "vs", "asks", "bids", "prices", "channel"]),
        json_values,
        max_size=4,
    ),
    envelope=st.dictionaries(st.sampled_from(["channel", "data"]), json_values, max_size=1),
)
def test_mutated_frames_never_raise_anything_but_frame_rejected(
    event: str, as_text: bool, mutations: dict[str, Any], envelope: dict[str, Any]
) -> None:
    data = {**_BASES[event], **mutations}
    # json, not orjson: hypothesis integers can exceed 64 bits.
    payload = {"event": event, "data": json.dumps(data) if as_text else data, **envelope}
    only_frame_rejected_escapes(_FUZZ_NORMALIZER.normalize, [event, payload], RECEIVED)


def test_a_trade_with_a_hostile_price_is_rejected_with_a_reason() -> None:
    """The fuzz family's assertion: a valid-looking mutation of a real trade, its price set to a
    number no market has (negative, zero, NaN, infinite, out of range, not a number), is rejected
    with a reason (``fuzzkit.PRICE_REJECTIONS``), never published."""
    normalizer = CoindcxNormalizer(load_snapshot())
    pool = [[event, {"event": event, "data": data}] for event, data in _BASES.items()]
    assert_hostile_prices_rejected(lambda frame: normalizer.normalize(frame, RECEIVED), pool)
