"""MEXC futures parsing on the frames published in MEXC's docs (no recorded MEXC capture exists).

Frames: https://www.mexc.com/api-docs/futures/websocket-api and .../market-endpoints, verbatim.
"""

from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import BookDelta, BookSnapshot, Funding, OpenInterest, Side, Trade
from services.ingest.parsing import next_funding_boundary
from services.ingest.venue import Channel
from services.instruments.catalog import InstrumentCatalog, load_snapshot
from services.venues.mexc.adapter import MexcAdapter, MexcNormalizer
from tests.ingest.fuzzkit import (
    assert_hostile_prices_rejected,
    json_values,
    only_frame_rejected_escapes,
    rejection,
)

RECEIVED = 1_755_487_578_300_000_000
_FUZZ_NORMALIZER = MexcNormalizer(load_snapshot())

DEAL_FRAME: dict[str, Any] = {
    "symbol": "BTC_USDT",
    "data": [
        {"p": 115309.8, "v": 55, "T": 2, "O": 3, "M": 1, "t": 1755487578276},
        {"p": 115309.8, "v": 11, "T": 1, "O": 3, "M": 1, "t": 1755487578275},
    ],
    "channel": "push.deal",
    "ts": 1755487578276,
}
DEPTH_FRAME: dict[str, Any] = {
    "channel": "push.depth",
    "data": {"asks": [[6859.5, 3251, 1]], "bids": [], "version": 96801927},
    "symbol": "BTC_USDT",
    "ts": 1587442022003,
}
TICKER_FRAME: dict[str, Any] = {
    "channel": "push.ticker",
    "data": {
        "ask1": 6866.5,
        "bid1": 6865,
        "contractId": 1,
        "fairPrice": 6867.4,
        "fundingRate": 0.0008,
        "high24Price": 7223.5,
        "indexPrice": 6861.6,
        "lastPrice": 6865.5,
        "lower24Price": 6756,
        "maxBidPrice": 7073.42,
        "minAskPrice": 6661.37,
        "riseFallRate": -0.0424,
        "riseFallValue": -304.5,
        "symbol": "BTC_USDT",
        "timestamp": 1587442022003,
        "holdVol": 2284742,
        "volume24": 164586129,
    },
    "symbol": "BTC_USDT",
    "ts": 1587442022003,
}
FUNDING_FRAME: dict[str, Any] = {
    "channel": "push.funding.rate",
    "data": {"rate": 0.001, "symbol": "BTC_USDT"},
    "symbol": "BTC_USDT",
    "ts": 1587442022003,
}
REST_DEPTH: dict[str, Any] = {
    "success": True,
    "code": 0,
    "data": {
        "asks": [[108779.2, 3240, 1], [108779.3, 3884, 1]],
        "bids": [[108779.1, 3240, 1], [108779, 3884, 1]],
        "version": 28111438870,
        "timestamp": 1761879567135,
    },
}


@pytest.fixture(scope="module")
def normalizer() -> MexcNormalizer:
    return MexcNormalizer(load_snapshot())


def test_deals_convert_contracts_to_base_units(normalizer: MexcNormalizer) -> None:
    sell, buy = normalizer.normalize(DEAL_FRAME, RECEIVED)
    assert isinstance(sell, Trade)
    assert (sell.symbol, sell.native_symbol) == ("BTC-USDT-PERP", "BTC_USDT")
    assert sell.side is Side.SELL  # T=2
    assert sell.price == Decimal("115309.8")
    assert sell.quantity == Decimal("0.0055")  # 55 contracts of 0.0001 BTC
    assert sell.notional == Decimal("634.20390")
    assert sell.exchange_ts == 1_755_487_578_276_000_000
    assert sell.trade_id == "1755487578276-2-115309.8-55"
    assert isinstance(buy, Trade)
    assert buy.side is Side.BUY  # T=1
    assert buy.quantity == Decimal("0.0011")


def test_identical_deals_in_one_push_get_distinct_ids(normalizer: MexcNormalizer) -> None:
    deal = {"p": 1.5, "v": 2, "T": 1, "t": 1}
    frame = {"channel": "push.deal", "symbol": "BTC_USDT", "data": [deal, deal], "ts": 1}
    first, second = normalizer.normalize(frame, RECEIVED)
    assert (first.trade_id, second.trade_id) == ("1-1-1.5-2", "1-1-1.5-2#2")  # type: ignore[attr-defined]
    with_id = {"channel": "push.deal", "symbol": "BTC_USDT", "data": {**deal, "i": "14537542858"}, "ts": 1}
    [trade] = normalizer.normalize(with_id, RECEIVED)
    assert isinstance(trade, Trade)
    assert trade.trade_id == "14537542858"


def test_depth_push_is_a_delta_keyed_by_version(normalizer: MexcNormalizer) -> None:
    [delta] = normalizer.normalize(DEPTH_FRAME, RECEIVED)
    assert isinstance(delta, BookDelta)
    assert (delta.sequence.first, delta.sequence.last, delta.sequence.prev) == (96801927, 96801927, None)
    assert delta.asks == [(Decimal("6859.5"), Decimal("0.3251"))]  # 3251 contracts
    assert delta.bids == []
    assert delta.exchange_ts == 1_587_442_022_003_000_000


def test_rest_snapshot(normalizer: MexcNormalizer) -> None:
    [snapshot] = normalizer.normalize_rest_snapshot(REST_DEPTH, "BTC_USDT", RECEIVED)
    assert isinstance(snapshot, BookSnapshot)
    assert snapshot.sequence.last == 28111438870
    assert snapshot.bids == [(Decimal("108779.1"), Decimal("0.3240")), (Decimal("108779"), Decimal("0.3884"))]
    assert snapshot.exchange_ts == 1_761_879_567_135_000_000
    assert (
        rejection(
            normalizer.normalize_rest_snapshot, {"success": False, "code": 1001}, "BTC_USDT", RECEIVED
        ).error_type
        == "venue_error"
    )


def test_ticker_is_open_interest(normalizer: MexcNormalizer) -> None:
    [open_interest] = normalizer.normalize(TICKER_FRAME, RECEIVED)
    assert isinstance(open_interest, OpenInterest)
    assert open_interest.open_interest == Decimal("228.4742")  # holdVol 2284742 contracts
    assert open_interest.open_interest_notional == Decimal("228.4742") * Decimal("6867.4")


def test_funding_rate(normalizer: MexcNormalizer) -> None:
    [funding] = normalizer.normalize(FUNDING_FRAME, RECEIVED)
    assert isinstance(funding, Funding)
    assert funding.rate == Decimal("0.001")
    assert funding.interval_s == 8 * 3600
    # The doc example has no nextSettleTime: the next 8 h boundary after 2020-04-21 04:07:02 UTC.
    assert funding.next_funding_ts == 1_587_456_000_000_000_000
    with_time = {**FUNDING_FRAME, "data": {**FUNDING_FRAME["data"], "nextSettleTime": 1587456000000}}
    [funding] = normalizer.normalize(with_time, RECEIVED)
    assert funding.next_funding_ts == 1_587_456_000_000_000_000  # type: ignore[attr-defined]


def test_next_funding_boundary() -> None:
    assert next_funding_boundary(0, 3600) == 3_600_000_000_000
    assert next_funding_boundary(3_600_000_000_000, 3600) == 7_200_000_000_000


def test_control_frames(normalizer: MexcNormalizer) -> None:
    assert normalizer.normalize({"channel": "pong", "data": 1587453241453}, RECEIVED) == []
    assert normalizer.normalize({"channel": "rs.sub.deal", "data": "success", "ts": 1}, RECEIVED) == []


@pytest.mark.parametrize(
    ("frame", "error_type"),
    [
        ([1, 2], "malformed"),
        ({"channel": "rs.error", "data": "Contract doesn't exist!"}, "venue_error"),
        ({"channel": "push.kline", "data": {}, "symbol": "BTC_USDT"}, "unknown_event"),
        ({**DEAL_FRAME, "symbol": "NOPE_USDT"}, "unknown_instrument"),
        ({**DEAL_FRAME, "data": [{"p": 1, "v": 1, "T": 3, "t": 1}]}, "malformed"),
        ({**DEAL_FRAME, "data": [{"p": "x", "v": 1, "T": 1, "t": 1}]}, "malformed"),
        ({**DEPTH_FRAME, "data": {"asks": [[-1, 1, 1]], "bids": [], "version": 1}}, "malformed"),
        ({**DEPTH_FRAME, "data": {"asks": [], "bids": []}}, "malformed"),
        ({**TICKER_FRAME, "data": {"holdVol": 1}}, "malformed"),
    ],
)
def test_bad_frames_are_rejected_with_a_reason(
    normalizer: MexcNormalizer, frame: Any, error_type: str
) -> None:
    assert rejection(normalizer.normalize, frame, RECEIVED).error_type == error_type


def test_instruments_from_the_contract_detail_example() -> None:
    # GET /api/v1/contract/detail example of the market-endpoints docs (fields trimmed).
    payload: dict[str, Any] = {
        "success": True,
        "code": 0,
        "data": {
            "symbol": "BTC_USDT",
            "baseCoin": "BTC",
            "quoteCoin": "USDT",
            "futureType": 1,
            "settleCoin": "USDT",
            "contractSize": 0.0001,
            "priceUnit": 0.1,
            "volUnit": 1,
            "state": 0,
        },
    }
    [btc] = MexcAdapter(InstrumentCatalog([], "test")).parse_instruments(payload)
    assert (btc.symbol, btc.contract_size, btc.tick_size, btc.lot_size, btc.inverse) == (
        "BTC-USDT-PERP",
        Decimal("0.0001"),
        Decimal("0.1"),
        Decimal("1"),
        False,
    )
    assert (
        MexcAdapter(InstrumentCatalog([], "test")).parse_instruments(
            {"data": [{**payload["data"], "state": 3}]}
        )
        == []
    )


def test_adapter_protocol_facts() -> None:
    adapter = MexcAdapter(load_snapshot())
    frames = [orjson.loads(f) for f in adapter.subscribe_frames(frozenset(Channel), ["BTC_USDT"])]
    assert {f["method"] for f in frames} == {"sub.deal", "sub.depth", "sub.funding.rate", "sub.ticker"}
    depth = next(f for f in frames if f["method"] == "sub.depth")
    assert depth["param"] == {"symbol": "BTC_USDT", "compress": False}
    assert adapter.capabilities.isdisjoint({Channel.BBO, Channel.LIQUIDATIONS})
    assert orjson.loads(adapter.ping_frame() or "") == {"method": "ping"}
    assert adapter.is_control_frame({"channel": "pong", "data": 1})
    assert adapter.is_control_frame({"channel": "rs.sub.depth", "data": "success"})
    assert not adapter.is_control_frame({"channel": "rs.error", "data": "x"})
    request = adapter.book_snapshot_request("BTC_USDT")
    assert request is not None
    assert request.path == "/api/v1/contract/depth/BTC_USDT"
    assert adapter.connect_request() is None
    assert adapter.ws_url_from({}) == "wss://contract.mexc.com/edge"


_BASES: dict[str, dict[str, Any]] = {
    "push.deal": {"p": 115309.8, "v": 55, "T": 2, "t": 1755487578276},
    "push.depth": {"asks": [[6859.5, 3251, 1]], "bids": [[6859, 1, 1]], "version": 96801927},
    "push.depth.full": {"asks": [[6859.5, 3251, 1]], "bids": [], "version": 96801927},
    "push.ticker": {"fairPrice": 6867.4, "holdVol": 2284742, "timestamp": 1587442022003},
    "push.funding.rate": {"rate": 0.001, "nextSettleTime": 1587456000000},
}


@settings(max_examples=300, deadline=None)
@given(
    channel=st.sampled_from(sorted(_BASES)),
    as_list=st.booleans(),
    data_mutations=st.dictionaries(
        st.sampled_from(sorted({k for data in _BASES.values() for k in data})), json_values, max_size=4
    ),
    frame_mutations=st.dictionaries(
        st.sampled_from(["symbol", "ts", "data", "channel"]), json_values, max_size=2
    ),
)
def test_mutated_frames_never_raise_anything_but_frame_rejected(
    channel: str, as_list: bool, data_mutations: dict[str, Any], frame_mutations: dict[str, Any]
) -> None:
    data: Any = {**_BASES[channel], **data_mutations}
    frame = {"channel": channel, "data": [data] if as_list else data, "symbol": "BTC_USDT", "ts": 1}
    frame.update(frame_mutations)
    only_frame_rejected_escapes(_FUZZ_NORMALIZER.normalize, frame, RECEIVED)


def test_a_trade_with_a_hostile_price_is_rejected_with_a_reason() -> None:
    """The fuzz family's assertion: a valid-looking mutation of a real trade, its price set to a
    number no market has (negative, zero, NaN, infinite, out of range, not a number), is rejected
    with a reason (``fuzzkit.PRICE_REJECTIONS``), never published."""
    normalizer = MexcNormalizer(load_snapshot())
    pool = [{"channel": c, "data": data, "symbol": "BTC_USDT", "ts": 1} for c, data in _BASES.items()]
    assert_hostile_prices_rejected(lambda frame: normalizer.normalize(frame, RECEIVED), pool)
