"""Bitget v2 USDT-M parsing on real frames: ccxt-ws/bitget.json (2026) and cryptofeed BITGET (2022, v1)."""

import copy
import zlib
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import BestBidOffer, BookDelta, BookSnapshot, Funding, OpenInterest, Side, Trade
from services.book_builder.core.checksum import interleaved_crc32
from services.ingest.venue import Channel
from services.instruments.catalog import InstrumentCatalog, load_snapshot
from services.venues.bitget.adapter import BitgetAdapter, BitgetNormalizer
from tests.ingest.fuzzkit import (
    assert_hostile_prices_rejected,
    ccxt_ws_frames,
    json_values,
    only_frame_rejected_escapes,
    rejection,
)

RECEIVED = 1_786_540_600_000_000_000
_FUZZ_NORMALIZER = BitgetNormalizer(load_snapshot())


@pytest.fixture(scope="module")
def normalizer() -> BitgetNormalizer:
    return BitgetNormalizer(load_snapshot())


@pytest.fixture(scope="module")
def frames(shared_data: Path) -> dict[str, list[dict[str, Any]]]:
    """Raw USDT-FUTURES frames of the ccxt test cases, by ccxt method."""
    return ccxt_ws_frames(
        shared_data, "bitget", keep=lambda case: "USDT-FUTURES" in str(case["sentMessages"])
    )


@pytest.fixture(scope="module")
def v1_book_frames(shared_data: Path) -> list[dict[str, Any]]:
    """Every ``books`` snapshot and update of the 2022 capture (v1 API: no seq, same levels)."""
    path = shared_data / "cryptofeed" / "BITGET.ws.2.0"
    if not path.exists():
        pytest.skip(f"Bitget capture not found at {path}")
    found = []
    for line in path.read_text().splitlines():
        if line.startswith("wss://") or '"channel":"books"' not in line:
            continue
        frame = orjson.loads(line.split(": ", 1)[1])
        if "data" in frame:
            found.append(frame)
    return found


def test_trades(normalizer: BitgetNormalizer, frames: dict[str, list[dict[str, Any]]]) -> None:
    ack, snapshot, update = frames["watchTrades"]
    assert normalizer.normalize(ack, RECEIVED) == []
    assert [t.trade_id for t in normalizer.normalize(snapshot, RECEIVED) if isinstance(t, Trade)] == [
        "1471423022176681986",
        "1471423022176681984",
        "1471423021987938304",
    ]
    # {"ts":"1786540508059","price":"63961","size":"0.7596","side":"buy","tradeId":"1471423027117572096"}
    [trade] = normalizer.normalize(update, RECEIVED)
    assert isinstance(trade, Trade)
    assert (trade.symbol, trade.native_symbol) == ("BTC-USDT-PERP", "BTCUSDT")
    assert trade.trade_id == "1471423027117572096"
    assert trade.side is Side.BUY
    assert trade.price == Decimal("63961")
    assert trade.quantity == Decimal("0.7596")  # USDT-M sizes are already base coins
    assert trade.notional == Decimal("48584.7756")
    assert trade.exchange_ts == 1_786_540_508_059_000_000
    assert trade.receive_ts == RECEIVED


def test_ticker_is_funding_and_open_interest(
    normalizer: BitgetNormalizer, frames: dict[str, list[dict[str, Any]]]
) -> None:
    _, first, _ = frames["watchTicker"]
    funding, open_interest = normalizer.normalize(first, RECEIVED)
    assert isinstance(funding, Funding)
    assert funding.rate == Decimal("0.00001")
    assert funding.next_funding_ts == 1_786_550_400_000_000_000
    assert funding.interval_s == 8 * 3600
    assert (funding.mark_price, funding.index_price) == (Decimal("63997.5"), Decimal("64023.4365"))
    assert funding.exchange_ts == 1_786_540_544_274_000_000
    assert isinstance(open_interest, OpenInterest)
    assert open_interest.open_interest == Decimal("37698.1952000001167")  # holdingAmount, BTC
    assert open_interest.open_interest_notional == Decimal("37698.1952000001167") * Decimal("63997.5")


def test_top_five_book_is_a_snapshot_with_seq(
    normalizer: BitgetNormalizer, frames: dict[str, list[dict[str, Any]]]
) -> None:
    _, first, second = frames["watchOrderBook"]
    [book] = normalizer.normalize(first, RECEIVED)
    assert isinstance(book, BookSnapshot)
    assert book.sequence.last == 820531524124
    assert book.sequence.prev is None  # pseq 0: nothing before a snapshot
    assert book.bids[0] == (Decimal("63918.4"), Decimal("8.8614"))
    assert book.asks[-1] == (Decimal("63920.1"), Decimal("0.0001"))
    assert len(book.bids) == len(book.asks) == 5
    [later] = normalizer.normalize(second, RECEIVED)
    assert isinstance(later, BookSnapshot)
    assert later.sequence.last == 820531530480


def test_books_update_is_a_delta_with_seq_and_pseq(normalizer: BitgetNormalizer) -> None:
    # v2 "books" update shape (Order-Book-Channel docs), levels from the 2026 capture.
    frame = {
        "action": "update",
        "arg": {"instType": "USDT-FUTURES", "channel": "books", "instId": "BTCUSDT"},
        "data": [
            {
                "asks": [["63918.5", "0"]],
                "bids": [["63918.4", "8.8616"]],
                "checksum": -1200119424,
                "seq": 820531530480,
                "pseq": 820531524124,
                "ts": "1786541259275",
            }
        ],
        "ts": 1786541259276,
    }
    [delta] = normalizer.normalize(frame, RECEIVED)
    assert isinstance(delta, BookDelta)
    assert (delta.sequence.last, delta.sequence.prev) == (820531530480, 820531524124)
    assert delta.asks == [(Decimal("63918.5"), Decimal("0"))]
    assert delta.checksum == -1200119424


def test_books1_is_the_best_bid_offer(normalizer: BitgetNormalizer) -> None:
    frame = {
        "action": "snapshot",
        "arg": {"instType": "USDT-FUTURES", "channel": "books1", "instId": "BTCUSDT"},
        "data": [
            {
                "asks": [["63918.5", "3.1562"]],
                "bids": [["63918.4", "8.8614"]],
                "seq": 820531524124,
                "pseq": 0,
                "ts": "1786541258897",
            }
        ],
    }
    [bbo] = normalizer.normalize(frame, RECEIVED)
    assert isinstance(bbo, BestBidOffer)
    assert (bbo.bid_price, bbo.bid_quantity) == (Decimal("63918.4"), Decimal("8.8614"))
    assert (bbo.ask_price, bbo.ask_quantity) == (Decimal("63918.5"), Decimal("3.1562"))
    assert bbo.sequence == 820531524124


def test_checksums_of_the_v1_capture_match_on_the_rebuilt_book(
    normalizer: BitgetNormalizer, v1_book_frames: list[dict[str, Any]]
) -> None:
    """Normalized levels keep the venue's spelling, so a builder can verify every checksum."""
    books: dict[str, dict[str, dict[Decimal, Decimal]]] = {}
    matched = 0
    for seq, raw in enumerate(v1_book_frames, start=1):
        frame = copy.deepcopy(raw)
        frame["arg"]["instType"] = "USDT-FUTURES"
        frame["data"][0]["seq"] = seq  # v1 had no seq; v2 sends one
        [event] = normalizer.normalize(frame, RECEIVED)
        assert isinstance(event, BookSnapshot | BookDelta)
        book = books.setdefault(event.native_symbol, {"bids": {}, "asks": {}})
        if isinstance(event, BookSnapshot):
            book["bids"].clear()
            book["asks"].clear()
        for side, levels in (("bids", event.bids), ("asks", event.asks)):
            for price, quantity in levels:
                if quantity == 0:
                    book[side].pop(price, None)
                else:
                    book[side][price] = quantity
        bids = sorted(book["bids"].items(), reverse=True)
        asks = sorted(book["asks"].items())
        assert interleaved_crc32(bids, asks) == event.checksum
        matched += 1
    assert matched == 194


def test_checksum_follows_the_documented_example() -> None:
    # From the Order-Book-Channel docs: fewer bids than asks, the asks simply continue.
    expected_text = "3366.1:7:3366.8:9:3368:8:3372:8"
    crc = zlib.crc32(expected_text.encode())
    assert interleaved_crc32([["3366.1", "7"]], [["3366.8", "9"], ["3368", "8"], ["3372", "8"]]) == (
        crc - (1 << 32) if crc >= 1 << 31 else crc
    )


@pytest.mark.parametrize(
    ("frame", "error_type"),
    [
        ("not json object", "malformed"),
        (
            {"event": "error", "code": 30001, "msg": "instType:USDT-FUTURES,channel:x doesn't exist"},
            "venue_error",
        ),
        ({"action": "snapshot", "data": []}, "malformed"),
        (
            {"action": "snapshot", "arg": {"channel": "candle1m", "instId": "BTCUSDT"}, "data": []},
            "unknown_event",
        ),
        (
            {"action": "update", "arg": {"channel": "trade", "instId": "NOPEUSD"}, "data": []},
            "unknown_instrument",  # coin-M (inverse): not derivable from its name
        ),
        ({"action": "update", "arg": {"channel": "trade", "instId": "BTCUSDT"}, "data": {}}, "malformed"),
        (
            {
                "action": "update",
                "arg": {"channel": "trade", "instId": "BTCUSDT"},
                "data": [{"ts": "1", "price": "-1", "size": "1", "side": "buy", "tradeId": "1"}],
            },
            "malformed",
        ),
        (
            {
                "action": "update",
                "arg": {"channel": "trade", "instId": "BTCUSDT"},
                "data": [{"ts": "1", "price": "1", "size": "1", "side": "up", "tradeId": "1"}],
            },
            "malformed",
        ),
        (
            {
                "action": "partial",
                "arg": {"channel": "books", "instId": "BTCUSDT"},
                "data": [{"ts": "1", "seq": 1, "bids": [], "asks": []}],
            },
            "malformed",
        ),
    ],
)
def test_bad_frames_are_rejected_with_a_reason(
    normalizer: BitgetNormalizer, frame: Any, error_type: str
) -> None:
    assert rejection(normalizer.normalize, frame, RECEIVED).error_type == error_type


def test_instruments_from_the_recorded_v1_contract_list(shared_data: Path) -> None:
    path = shared_data / "cryptofeed" / "BITGET.0"
    if not path.exists():
        pytest.skip(f"Bitget instruments not found at {path}")
    line = next(x for x in path.read_text().splitlines() if "productType=umcbl" in x)
    payload = orjson.loads(line.split(": ", 1)[1])
    adapter = BitgetAdapter(InstrumentCatalog([], "test"))
    instruments = {i.native_symbol: i for i in adapter.parse_instruments(payload)}
    assert len(instruments) == 51
    btc = instruments["BTCUSDT"]  # BTCUSDT_UMCBL: pricePlace 1, priceEndStep 5, volumePlace 3
    assert (btc.symbol, btc.tick_size, btc.lot_size, btc.contract_size) == (
        "BTC-USDT-PERP",
        Decimal("0.5"),
        Decimal("0.001"),
        Decimal(1),
    )
    assert instruments["UNIUSDT"].tick_size == Decimal("0.001")


def test_instruments_from_the_v2_contract_list() -> None:
    # Shape of GET /api/v2/mix/market/contracts (Get-All-Symbols-Contracts docs).
    payload = {
        "code": "00000",
        "data": [
            {
                "symbol": "BTCUSDT",
                "baseCoin": "BTC",
                "quoteCoin": "USDT",
                "pricePlace": "1",
                "priceEndStep": "1",
                "volumePlace": "4",
                "sizeMultiplier": "0.0001",
                "symbolType": "perpetual",
                "symbolStatus": "normal",
                "fundInterval": "8",
            },
            {"symbol": "BTCUSDT0927", "symbolType": "delivery"},
        ],
    }
    [btc] = BitgetAdapter(InstrumentCatalog([], "test")).parse_instruments(payload)
    assert (btc.tick_size, btc.lot_size, btc.funding_interval_s) == (Decimal("0.1"), Decimal("0.0001"), 28800)


def test_adapter_protocol_facts() -> None:
    adapter = BitgetAdapter(load_snapshot())
    [frame] = adapter.subscribe_frames(frozenset(Channel), ["BTCUSDT"])
    message = orjson.loads(frame)
    assert message["op"] == "subscribe"
    assert {a["channel"] for a in message["args"]} == {"trade", "books", "books1", "ticker"}
    assert {a["instType"] for a in message["args"]} == {"USDT-FUTURES"}
    assert Channel.LIQUIDATIONS not in adapter.capabilities
    many = adapter.subscribe_frames(frozenset({Channel.TRADES}), [f"S{i}USDT" for i in range(120)])
    assert len(many) == 3  # 50 args per subscribe message
    assert adapter.ping_frame() == "ping"
    assert adapter.is_control_frame("pong")
    assert adapter.is_control_frame({"event": "subscribe", "arg": {}})
    assert not adapter.is_control_frame({"event": "error", "code": 1})
    assert adapter.book_snapshot_request("BTCUSDT") is None
    assert adapter.connect_request() is None
    assert adapter.ws_url_from(None) == "wss://ws.bitget.com/v2/ws/public"


_BASE_ROWS: dict[str, dict[str, Any]] = {
    "trade": {"ts": "1786540508059", "price": "63961", "size": "0.7596", "side": "buy", "tradeId": "1"},
    "books": {
        "asks": [["63918.5", "3.1562"]],
        "bids": [["63918.4", "8.8614"]],
        "checksum": 0,
        "seq": 2,
        "pseq": 1,
        "ts": "1786541258897",
    },
    "ticker": {
        "fundingRate": "0.00001",
        "nextFundingTime": "1786550400000",
        "markPrice": "63997.5",
        "indexPrice": "64023.4365",
        "holdingAmount": "37698.19",
        "lastPr": "63997.5",
        "ts": "1786540544274",
    },
}
_BASE_ROWS["books1"] = _BASE_ROWS["books"]


@settings(max_examples=300, deadline=None)
@given(
    channel=st.sampled_from(sorted(_BASE_ROWS)),
    action=st.sampled_from(["snapshot", "update", "other"]),
    row_mutations=st.dictionaries(
        st.sampled_from(sorted({k for row in _BASE_ROWS.values() for k in row})), json_values, max_size=4
    ),
    frame_mutations=st.dictionaries(
        st.sampled_from(["arg", "data", "action", "event"]), json_values, max_size=2
    ),
)
def test_mutated_frames_never_raise_anything_but_frame_rejected(
    channel: str, action: str, row_mutations: dict[str, Any], frame_mutations: dict[str, Any]
) -> None:
    row = {**_BASE_ROWS[channel], **row_mutations}
    frame = {
        "action": action,
        "arg": {"instType": "USDT-FUTURES", "channel": channel, "instId": "BTCUSDT"},
        "data": [row],
        **frame_mutations,
    }
    only_frame_rejected_escapes(_FUZZ_NORMALIZER.normalize, frame, RECEIVED)


# --- the newer public WebSocket (UTA, wss://ws.bitget.com/v3/ws/public) ----------------------
# No recorded UTA frames exist in ../shared/data: the shapes are the docs' push examples
# (bitget.com/api-doc/uta/websocket/public/New-Trades-Channel and .../Order-Book-Channel).

_UTA_TRADE = {
    "data": [
        {
            "p": "100000",
            "S": "buy",
            "T": "1736348770627",
            "v": "0.00118",
            "i": "1260903622036942849",
            "L": "1234568787787878787",
            "isRPI": "no",
        }
    ],
    "arg": {"instType": "usdt-futures", "symbol": "BTCUSDT", "topic": "publicTrade"},
    "action": "snapshot",
    "ts": 1736371104297,
}
_UTA_BOOK = {
    "data": [
        {
            "a": [["99756.7", "23.9774"], ["99757.0", "1.50"]],
            "b": [["99756.6", "0.0128"], ["99755.1", "3.2"]],
            "pseq": 0,
            "seq": 1304314508780744705,
            "maxDepth": "50",
            "ts": "1746698732562",
        }
    ],
    "arg": {"instType": "usdt-futures", "symbol": "BTCUSDT", "topic": "books"},
    "action": "snapshot",
    "ts": 1746698732563,
}


def test_uta_public_trades(normalizer: BitgetNormalizer) -> None:
    """Issue 15: rejected as "unsupported channel None" before."""
    [trade] = normalizer.normalize(_UTA_TRADE, RECEIVED)
    assert isinstance(trade, Trade)
    assert (trade.symbol, trade.trade_id, trade.side) == ("BTC-USDT-PERP", "1260903622036942849", Side.BUY)
    assert (trade.price, trade.quantity) == (Decimal("100000"), Decimal("0.00118"))
    assert trade.exchange_ts == 1_736_348_770_627_000_000


def test_uta_books_snapshot_then_update_chain_on_seq_and_pseq(normalizer: BitgetNormalizer) -> None:
    [snapshot] = normalizer.normalize(_UTA_BOOK, RECEIVED)
    assert isinstance(snapshot, BookSnapshot)
    assert snapshot.sequence.last == 1304314508780744705
    assert snapshot.bids[0] == (Decimal("99756.6"), Decimal("0.0128"))
    assert snapshot.asks[1] == (Decimal("99757.0"), Decimal("1.50"))
    # A checksum, where the push carries one, is the v2 algorithm over the same levels.
    row = _UTA_BOOK["data"][0]  # type: ignore[index]
    checksum = interleaved_crc32(row["b"], row["a"])
    update = {
        **_UTA_BOOK,
        "action": "update",
        "data": [
            {
                "a": [],
                "b": [["99756.6", "0"]],
                "pseq": row["seq"],
                "seq": row["seq"] + 1,
                "ts": "1746698732612",
                "checksum": checksum,
            }
        ],
    }
    [delta] = normalizer.normalize(update, RECEIVED)
    assert isinstance(delta, BookDelta)
    assert (delta.sequence.prev, delta.sequence.last) == (row["seq"], row["seq"] + 1)
    assert delta.checksum == checksum
    assert interleaved_crc32(snapshot.bids, snapshot.asks) == checksum


def test_uta_books1_is_the_best_bid_offer(normalizer: BitgetNormalizer) -> None:
    top = {**_UTA_BOOK, "arg": {**_UTA_BOOK["arg"], "topic": "books1"}}  # type: ignore[dict-item]
    [bbo] = normalizer.normalize(top, RECEIVED)
    assert isinstance(bbo, BestBidOffer)
    assert (bbo.bid_price, bbo.ask_price) == (Decimal("99756.6"), Decimal("99756.7"))


@pytest.mark.parametrize(
    ("arg", "error_type"),
    [
        ({"instType": "coin-futures", "symbol": "BTCUSD", "topic": "publicTrade"}, "unknown_event"),
        ({"instType": "spot", "symbol": "BTCUSDT", "topic": "publicTrade"}, "unknown_event"),
        ({"instType": "usdt-futures", "symbol": "BTCUSDT", "topic": "kline"}, "unknown_event"),
        ({"instType": "usdt-futures", "topic": "publicTrade"}, "malformed"),
    ],
)
def test_uta_frames_outside_what_is_read_are_rejected_with_a_reason(
    normalizer: BitgetNormalizer, arg: dict[str, Any], error_type: str
) -> None:
    assert rejection(normalizer.normalize, {**_UTA_TRADE, "arg": arg}, RECEIVED).error_type == error_type


@settings(max_examples=150, deadline=None)
@given(
    base=st.sampled_from([_UTA_TRADE, _UTA_BOOK]),
    topic=st.sampled_from(["publicTrade", "books", "books1", "books5", "books50"]),
    row_mutations=st.dictionaries(
        st.sampled_from(["a", "b", "i", "p", "v", "S", "T", "seq", "pseq", "ts"]), json_values, max_size=4
    ),
    action=st.sampled_from(["snapshot", "update", "other"]),
)
def test_mutated_uta_frames_never_raise_anything_but_frame_rejected(
    base: dict[str, Any], topic: str, row_mutations: dict[str, Any], action: str
) -> None:
    frame = {
        **base,
        "action": action,
        "arg": {**base["arg"], "topic": topic},
        "data": [{**base["data"][0], **row_mutations}],
    }
    only_frame_rejected_escapes(_FUZZ_NORMALIZER.normalize, frame, RECEIVED)


def test_a_trade_with_a_hostile_price_is_rejected_with_a_reason(
    frames: dict[str, list[dict[str, Any]]],
) -> None:
    """The fuzz family's assertion: a valid-looking mutation of a real trade, its price set to a
    number no market has (negative, zero, NaN, infinite, out of range, not a number), is rejected
    with a reason (``fuzzkit.PRICE_REJECTIONS``), never published."""
    normalizer = BitgetNormalizer(load_snapshot())
    pool = [f for method in frames.values() for f in method]
    assert_hostile_prices_rejected(lambda frame: normalizer.normalize(frame, RECEIVED), pool)
