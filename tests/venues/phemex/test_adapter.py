"""Phemex parsing: legacy contracts on the real 2021 cryptofeed capture (Ep-scaled prices, sizes in
contracts), USDT-M hedged frames from the Phemex docs (real Rp/Rq values), spot frames of ccxt-ws."""

from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import BookDelta, BookSnapshot, Funding, OpenInterest, Side, Trade
from services.ingest.venue import Channel
from services.instruments.catalog import InstrumentCatalog, load_snapshot
from services.venues.phemex.adapter import PhemexAdapter, PhemexNormalizer
from tests.ingest.fuzzkit import (
    assert_hostile_prices_rejected,
    json_values,
    only_frame_rejected_escapes,
    rejection,
)

RECEIVED = 1_625_342_241_988_539_000
_FUZZ_NORMALIZER = PhemexNormalizer(load_snapshot())


@pytest.fixture(scope="module")
def normalizer() -> PhemexNormalizer:
    return PhemexNormalizer(load_snapshot())


@pytest.fixture(scope="module")
def yfi_frames(shared_data: Path) -> dict[str, dict[str, Any]]:
    """The first YFIUSD book snapshot, book incremental and trade incremental of the capture."""
    path = shared_data / "cryptofeed" / "PHEMEX.ws.1.0"
    if not path.exists():
        pytest.skip(f"Phemex capture not found at {path}")
    found: dict[str, dict[str, Any]] = {}
    for line in path.read_text().splitlines():
        if line.startswith("wss://") or '"symbol":"YFIUSD"' not in line:
            continue
        frame = orjson.loads(line.split(": ", 1)[1])
        kind = ("book" if "book" in frame else "trades") + ":" + frame["type"]
        found.setdefault(kind, frame)
    return found


def test_legacy_book_snapshot_unscales_prices_and_converts_contracts(
    normalizer: PhemexNormalizer, yfi_frames: dict[str, dict[str, Any]]
) -> None:
    [book] = normalizer.normalize(yfi_frames["book:snapshot"], RECEIVED)
    assert isinstance(book, BookSnapshot)
    assert (book.symbol, book.native_symbol) == ("YFI-USD-PERP", "YFIUSD")
    assert book.sequence.last == 17652788219
    assert book.exchange_ts == 1_625_342_241_094_406_504  # already nanoseconds
    # [329915000, 1559]: priceEp / 10^4, 1559 contracts of 0.0001 YFI
    assert book.asks[0] == (Decimal("32991.5"), Decimal("0.1559"))
    assert book.bids[0] == (Decimal("32936"), Decimal("0.5488"))
    assert len(book.bids) == len(book.asks) == 30


def test_legacy_book_incremental(normalizer: PhemexNormalizer, yfi_frames: dict[str, dict[str, Any]]) -> None:
    [delta] = normalizer.normalize(yfi_frames["book:incremental"], RECEIVED)
    assert isinstance(delta, BookDelta)
    assert delta.sequence.last == 17652788961
    assert delta.asks == [(Decimal("32997"), Decimal("0.2151"))]
    assert delta.bids == []


def test_legacy_trade(normalizer: PhemexNormalizer, yfi_frames: dict[str, dict[str, Any]]) -> None:
    # {"sequence":17652789830,"symbol":"YFIUSD","trades":[[1625342246173227295,"Buy",330005000,10]]}
    [trade] = normalizer.normalize(yfi_frames["trades:incremental"], RECEIVED)
    assert isinstance(trade, Trade)
    assert trade.side is Side.BUY
    assert trade.price == Decimal("33000.5")
    assert trade.quantity == Decimal("0.0010")  # 10 contracts of 0.0001 YFI
    assert trade.notional == Decimal("33.00050")
    assert trade.exchange_ts == 1_625_342_246_173_227_295
    assert trade.trade_id == "1625342246173227295-Buy-330005000-10"  # the venue's own numbers


def test_trade_snapshot_ids_are_deterministic_and_distinct(
    normalizer: PhemexNormalizer, yfi_frames: dict[str, dict[str, Any]]
) -> None:
    trades = normalizer.normalize(yfi_frames["trades:snapshot"], RECEIVED)
    ids = [t.trade_id for t in trades]  # type: ignore[attr-defined]
    assert len(ids) == len(set(ids)) > 1
    assert ids == [t.trade_id for t in normalizer.normalize(yfi_frames["trades:snapshot"], RECEIVED)]  # type: ignore[attr-defined]


def test_identical_fills_in_one_frame_get_distinct_ids_stable_across_replays(
    normalizer: PhemexNormalizer,
) -> None:
    """Issue 15: Phemex sends no trade id, so two identical fills in one frame once shared one."""
    fill = [1666856076819029800, "Sell", "20700.3", "0.649"]
    frame = {"trades_p": [fill, fill, fill], "symbol": "BTCUSDT", "type": "incremental", "sequence": 1}
    ids = [t.trade_id for t in normalizer.normalize(frame, RECEIVED)]  # type: ignore[attr-defined]
    assert len(set(ids)) == 3
    assert ids == [t.trade_id for t in normalizer.normalize(frame, RECEIVED)]  # type: ignore[attr-defined]


def test_hedged_book_and_trades_use_real_values(normalizer: PhemexNormalizer) -> None:
    # Samples of the Hedged-Perpetual docs (orderbook_p, trades_p).
    book = {
        "depth": 30,
        "orderbook_p": {
            "asks": [["20702.9", "0.718"], ["20704.9", "0"]],
            "bids": [["20703.1", "0"], ["20700.5", "1.622"]],
        },
        "sequence": 77668172,
        "symbol": "BTCUSDT",
        "timestamp": 1666854171201355264,
        "type": "incremental",
    }
    [delta] = normalizer.normalize(book, RECEIVED)
    assert isinstance(delta, BookDelta)
    assert delta.symbol == "BTC-USDT-PERP"
    assert delta.asks == [(Decimal("20702.9"), Decimal("0.718")), (Decimal("20704.9"), Decimal("0"))]
    trades = {
        "sequence": 77702250,
        "symbol": "BTCUSDT",
        "trades_p": [[1666856076819029800, "Sell", "20700.3", "0.649"]],
        "type": "incremental",
    }
    [trade] = normalizer.normalize(trades, RECEIVED)
    assert isinstance(trade, Trade)
    assert (trade.side, trade.price, trade.quantity) == (Side.SELL, Decimal("20700.3"), Decimal("0.649"))
    assert trade.notional == Decimal("13434.49470")


def test_market_pack_is_funding_and_open_interest(normalizer: PhemexNormalizer) -> None:
    # perp_market24h_pack_p sample of the Hedged-Perpetual docs; ETHUSDT is not in our catalog.
    fields = [
        "symbol", "openRp", "highRp", "lowRp", "lastRp", "volumeRq", "turnoverRv", "openInterestRv",
        "indexRp", "markRp", "fundingRateRr", "predFundingRateRr",
    ]  # fmt: skip
    pack = {
        "data": [
            [
                "ETHUSDT",
                "1533.72",
                "1594.17",
                "1510.05",
                "1547.52",
                "545942.34",
                "848127644.5712",
                "0",
                "1548.31694379",
                "1548.44513153",
                "0.0001",
                "0.0001",
            ],
            [
                "BTCUSDT",
                "20614.5",
                "21628.4",
                "19258.6",
                "20626.3",
                "8819.819",
                "182892627.4297",
                "1323.596",
                "20641.8167574",
                "20643.52572781",
                "0.0001",
                "0.0001",
            ],
        ],
        "fields": fields,
        "method": "perp_market24h_pack_p.update",
        "timestamp": 1666862556850547000,
        "type": "snapshot",
    }
    funding, open_interest = normalizer.normalize(pack, RECEIVED)
    assert isinstance(funding, Funding)
    assert funding.native_symbol == "BTCUSDT"
    assert funding.rate == Decimal("0.0001")
    assert (funding.mark_price, funding.index_price) == (Decimal("20643.52572781"), Decimal("20641.8167574"))
    assert funding.next_funding_ts == 1_666_886_400_000_000_000  # next 8 h boundary: 16:00 UTC
    assert isinstance(open_interest, OpenInterest)
    assert open_interest.open_interest == Decimal("1323.596")  # BTC


def test_legacy_market24h_converts_inverse_contracts(normalizer: PhemexNormalizer) -> None:
    # market24h of the Contract docs: BTCUSD is inverse (1 USD per contract), rates scaled by 10^8.
    frame = {
        "market24h": {
            "close": 87425000,
            "fundingRate": 10000,
            "high": 92080000,
            "indexPrice": 87450676,
            "low": 87130000,
            "markPrice": 87453092,
            "open": 90710000,
            "openInterest": 7821141,
            "predFundingRate": 7609,
            "symbol": "BTCUSD",
            "timestamp": 1583646442444219017,
            "turnover": 1399362834123,
            "volume": 125287131,
        },
        "timestamp": 1576490244024818000,
    }
    funding, open_interest = normalizer.normalize(frame, RECEIVED)
    assert isinstance(funding, Funding)
    assert funding.rate == Decimal("0.0001")
    assert funding.mark_price == Decimal("8745.3092")
    assert funding.index_price == Decimal("8745.0676")
    assert isinstance(open_interest, OpenInterest)
    assert open_interest.open_interest_notional == Decimal("7821141")  # USD: 1 USD per contract
    assert open_interest.open_interest == Decimal("7821141") / Decimal("8745.3092")  # BTC


def test_acks_and_spot_frames(normalizer: PhemexNormalizer, shared_data: Path) -> None:
    assert normalizer.normalize({"error": None, "id": 1, "result": {"status": "success"}}, RECEIVED) == []
    assert normalizer.normalize({"error": None, "id": 0, "result": "pong"}, RECEIVED) == []
    path = shared_data / "ccxt-ws" / "phemex.json"
    if not path.exists():
        pytest.skip(f"Phemex ccxt frames not found at {path}")
    spot = orjson.loads(path.read_bytes())["methods"]["watchOrderBook"][0]["messages"][1]
    # sBTCUSDT is spot, not a perpetual.
    assert rejection(normalizer.normalize, spot, RECEIVED).error_type == "unknown_instrument"


@pytest.mark.parametrize(
    ("frame", "error_type"),
    [
        ("pong", "malformed"),
        ({"error": {"code": 6001, "message": "invalid argument"}, "id": None, "result": None}, "venue_error"),
        ({"kline": [], "symbol": "YFIUSD", "type": "snapshot"}, "unknown_event"),
        ({"book": {"asks": [], "bids": []}, "sequence": 1, "symbol": "NOPEUSD", "timestamp": 1, "type": "snapshot"}, "unknown_instrument"),
        ({"book": {"asks": [], "bids": []}, "sequence": 1, "symbol": "YFIUSD", "timestamp": 1, "type": "partial"}, "malformed"),
        ({"book": {"asks": [["1.5", 1]], "bids": []}, "sequence": 1, "symbol": "YFIUSD", "timestamp": 1, "type": "snapshot"}, "malformed"),
        ({"sequence": 1, "symbol": "YFIUSD", "trades": [[1, "Up", 1, 1]], "type": "incremental"}, "malformed"),
        ({"sequence": 1, "symbol": "YFIUSD", "trades": [[1, "Buy", 1]], "type": "incremental"}, "malformed"),
        ({"method": "perp_market24h_pack_p.update", "fields": ["symbol"], "data": [["BTCUSDT", "x"]], "timestamp": 1}, "malformed"),
    ],
)  # fmt: skip
def test_bad_frames_are_rejected_with_a_reason(
    normalizer: PhemexNormalizer, frame: Any, error_type: str
) -> None:
    assert rejection(normalizer.normalize, frame, RECEIVED).error_type == error_type


def test_instruments_from_the_recorded_product_list(shared_data: Path) -> None:
    path = shared_data / "cryptofeed" / "PHEMEX.0"
    if not path.exists():
        pytest.skip(f"Phemex instruments not found at {path}")
    payload = orjson.loads(path.read_text().splitlines()[0].split(": ", 1)[1])
    instruments = {
        i.native_symbol: i for i in PhemexAdapter(InstrumentCatalog([], "test")).parse_instruments(payload)
    }
    assert len(instruments) == 37  # every listed Perpetual; spot products are left out
    btc = instruments["BTCUSD"]
    assert (btc.symbol, btc.inverse, btc.contract_size, btc.tick_size) == (
        "BTC-USD-PERP",
        True,
        Decimal(1),
        Decimal("0.5"),
    )
    eth = instruments["ETHUSD"]
    assert (eth.symbol, eth.inverse, eth.contract_size) == ("ETH-USD-PERP", False, Decimal("0.005"))
    assert instruments["ENJUSD"].contract_size == Decimal(10)


def test_instruments_from_perp_products_v2() -> None:
    payload = {
        "data": {
            "products": [],
            "perpProductsV2": [
                {"symbol": "BTCUSDT", "type": "PerpetualV2", "contractUnderlyingAssets": "BTC", "settleCurrency": "USDT",
                 "quoteCurrency": "USDT", "tickSize": "0.1", "priceScale": 0, "baseCurrency": "BTC", "status": "Listed",
                 "fundingInterval": 28800, "qtyStepSize": "0.001"},
                {"symbol": "u1000PEPEUSDT", "baseCurrency": "1000PEPE", "quoteCurrency": "USDT", "tickSize": "0.0000001",
                 "status": "Listed", "fundingInterval": 14400, "qtyStepSize": "1"},
            ],
        }
    }  # fmt: skip
    btc, pepe = PhemexAdapter(InstrumentCatalog([], "test")).parse_instruments(payload)
    assert (btc.symbol, btc.lot_size, btc.tick_size, btc.inverse) == (
        "BTC-USDT-PERP",
        Decimal("0.001"),
        Decimal("0.1"),
        False,
    )
    assert (pepe.symbol, pepe.multiplier, pepe.funding_interval_s) == ("PEPE-USDT-PERP", Decimal(1000), 14400)


def test_adapter_protocol_facts() -> None:
    adapter = PhemexAdapter(load_snapshot())
    messages = [orjson.loads(f) for f in adapter.subscribe_frames(frozenset(Channel), ["BTCUSDT", "BTCUSD"])]
    assert [(m["method"], m["params"]) for m in messages] == [
        ("orderbook_p.subscribe", ["BTCUSDT"]),
        ("trade_p.subscribe", ["BTCUSDT"]),
        ("orderbook.subscribe", ["BTCUSD"]),
        ("trade.subscribe", ["BTCUSD"]),
        ("perp_market24h_pack_p.subscribe", []),
        ("market24h.subscribe", []),
    ]
    assert [m["id"] for m in messages] == [1, 2, 3, 4, 5, 6]
    assert orjson.loads(adapter.ping_frame() or "") == {"id": 0, "method": "server.ping", "params": []}
    assert adapter.is_control_frame({"error": None, "id": 0, "result": "pong"})
    assert not adapter.is_control_frame({"error": {"code": 1}, "id": 0, "result": None})
    assert adapter.max_subscriptions_per_connection == 20
    assert adapter.capabilities.isdisjoint({Channel.BBO, Channel.LIQUIDATIONS})
    assert adapter.book_snapshot_request("BTCUSDT") is None
    assert adapter.connect_request() is None
    assert adapter.ws_url_from(None) == "wss://ws.phemex.com"


_BASES: dict[str, dict[str, Any]] = {
    "book": {"book": {"asks": [[329915000, 1559]], "bids": [[329360000, 5488]]}, "symbol": "YFIUSD"},
    "orderbook_p": {"orderbook_p": {"asks": [["20702.9", "0.718"]], "bids": []}, "symbol": "BTCUSDT"},
    "trades": {"trades": [[1625342246173227295, "Buy", 330005000, 10]], "symbol": "YFIUSD"},
    "trades_p": {"trades_p": [[1666856076819029800, "Sell", "20700.3", "0.649"]], "symbol": "BTCUSDT"},
    "market24h": {
        "market24h": {
            "fundingRate": 10000,
            "indexPrice": 87450676,
            "markPrice": 87453092,
            "openInterest": 7821141,
            "symbol": "BTCUSD",
            "timestamp": 1,
        }
    },
    "pack": {
        "method": "perp_market24h_pack_p.update",
        "fields": ["symbol", "openInterestRv", "indexRp", "markRp", "fundingRateRr"],
        "data": [["BTCUSDT", "1323.596", "20641.8", "20643.5", "0.0001"]],
    },
}


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(sorted(_BASES)),
    kind_type=st.sampled_from(["snapshot", "incremental", "other"]),
    mutations=st.dictionaries(
        st.sampled_from(
            [
                "book",
                "orderbook_p",
                "trades",
                "trades_p",
                "market24h",
                "fields",
                "data",
                "symbol",
                "sequence",
                "timestamp",
                "type",
                "result",
                "error",
            ]
        ),
        json_values,
        max_size=3,
    ),
)
def test_mutated_frames_never_raise_anything_but_frame_rejected(
    kind: str, kind_type: str, mutations: dict[str, Any]
) -> None:
    frame = {**_BASES[kind], "sequence": 1, "timestamp": 1666862556850547000, "type": kind_type, **mutations}
    only_frame_rejected_escapes(_FUZZ_NORMALIZER.normalize, frame, RECEIVED)


def test_a_trade_with_a_hostile_price_is_rejected_with_a_reason() -> None:
    """The fuzz family's assertion: a valid-looking mutation of a real trade, its price set to a
    number no market has (negative, zero, NaN, infinite, out of range, not a number), is rejected
    with a reason (``fuzzkit.PRICE_REJECTIONS``), never published."""
    normalizer = PhemexNormalizer(load_snapshot())
    pool = [
        {**base, "sequence": 1, "timestamp": 1666862556850547000, "type": "incremental"}
        for base in _BASES.values()
    ]
    # Phemex scales prices to integers (priceEp = price x 10^4 for YFIUSD): the path is given.
    assert_hostile_prices_rejected(
        lambda frame: normalizer.normalize(frame, RECEIVED), pool, path=("trades", 0, 2)
    )
