"""Gate.io USDT futures parsing on real frames: ccxt-ws/gate.json (2026) and cryptofeed GATEIO_FUTURES (2023)."""

import itertools
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import BestBidOffer, BookDelta, BookSnapshot, Funding, Liquidation, OpenInterest, Side, Trade
from services.ingest.normalizer import FrameRejected
from services.ingest.venue import Channel
from services.instruments.catalog import load_snapshot
from services.venues.gateio.adapter import GateioAdapter, GateioNormalizer
from tests.ingest.fuzzkit import (
    assert_hostile_prices_rejected,
    ccxt_ws_frames,
    draw_mutated,
    json_values,
    only_frame_rejected_escapes,
    rejection,
)

RECEIVED = 1_786_540_600_000_000_000


@pytest.fixture(scope="module")
def normalizer() -> GateioNormalizer:
    return GateioNormalizer(load_snapshot())


@pytest.fixture(scope="module")
def frames(shared_data: Path) -> dict[str, list[dict[str, Any]]]:
    """Raw frames of the USDT futures test cases, by ccxt method."""
    return ccxt_ws_frames(shared_data, "gate", keep=lambda case: case["url"].endswith("/usdt"))


@pytest.fixture(scope="module")
def recorded(
    shared_data: Path,
) -> tuple[list[tuple[float, dict[str, Any]]], dict[str, tuple[float, dict[str, Any]]]]:
    """(receive time, frame) of the 2023 capture, and each contract's REST snapshot with its time."""
    folder = shared_data / "cryptofeed"
    ws, http = folder / "GATEIO_FUTURES.ws.1.0", folder / "GATEIO_FUTURES.http.0.0"
    if not ws.exists() or not http.exists():
        pytest.skip(f"Gate.io captures not found in {folder}")
    received = [
        (float(stamp), orjson.loads(body))
        for stamp, body in (
            line.split(": ", 1)
            for line in ws.read_text().splitlines()
            if line and not line.startswith("wss://")
        )
    ]
    snapshots = {}
    for line in http.read_text().splitlines():
        if not line:
            continue
        url, rest = line.split(" -> ", 1)
        stamp, body = rest.split(": ", 1)
        snapshots[url.split("contract=")[1].split("&")[0]] = (float(stamp), orjson.loads(body))
    return received, snapshots


def test_trades_sign_is_the_taker_side(
    normalizer: GateioNormalizer, frames: dict[str, list[dict[str, Any]]]
) -> None:
    ack, first, _ = frames["watchTrades"]
    assert normalizer.normalize(ack, RECEIVED) == []
    # {"id":807645690,"size":2,"create_time_ms":1786540580715,"price":"63994.5","contract":"BTC_USDT"}
    [trade] = normalizer.normalize(first, RECEIVED)
    assert isinstance(trade, Trade)
    assert trade.symbol == "BTC-USDT-PERP"
    assert trade.trade_id == "807645690"
    assert trade.side is Side.BUY
    assert trade.price == Decimal("63994.5")
    assert trade.quantity == Decimal("0.0002")  # 2 contracts of 0.0001 BTC
    assert trade.notional == Decimal("12.79890")
    assert trade.exchange_ts == 1_786_540_580_715_000_000


def test_older_trades_with_create_time_in_seconds_only(
    normalizer: GateioNormalizer, frames: dict[str, list[dict[str, Any]]]
) -> None:
    """Issue 15: older pushes carry ``create_time`` (seconds) without ``create_time_ms``; both are
    documented (gate.io/docs/developers/futures/ws/en, "Trades notification")."""
    frame = frames["watchTrades"][1]
    older = {
        **frame,
        "result": [{k: v for k, v in row.items() if k != "create_time_ms"} for row in frame["result"]],
    }
    for row in older["result"]:
        row["create_time"] = 1786540580
    [trade] = normalizer.normalize(older, RECEIVED)
    assert isinstance(trade, Trade)
    assert trade.exchange_ts == 1_786_540_580_000_000_000
    assert trade.quantity == Decimal("0.0002")


def test_contracts_convert_to_base_on_a_real_frame(
    normalizer: GateioNormalizer, frames: dict[str, list[dict[str, Any]]]
) -> None:
    [trade] = normalizer.normalize(frames["watchTrades"][2], RECEIVED)  # size 4681
    assert isinstance(trade, Trade)
    assert trade.quantity == Decimal("0.4681")
    assert trade.notional == Decimal("0.4681") * Decimal("63994.5")


def test_order_book_update_chain_has_no_gap(
    normalizer: GateioNormalizer, frames: dict[str, list[dict[str, Any]]]
) -> None:
    ack, *updates = frames["watchOrderBook"]
    assert normalizer.normalize(ack, RECEIVED) == []
    deltas = [event for frame in updates for event in normalizer.normalize(frame, RECEIVED)]
    assert all(isinstance(d, BookDelta) for d in deltas)
    sequences = [d.sequence for d in deltas if isinstance(d, BookDelta)]
    assert len(deltas) == 21
    first = deltas[0]
    assert isinstance(first, BookDelta)
    assert (first.sequence.first, first.sequence.last) == (121506953481, 121506953514)
    assert first.asks[0] == (Decimal("64013.1"), Decimal("3.3783"))
    assert (Decimal("64018"), Decimal("0.0000")) in first.asks  # a deletion
    assert first.exchange_ts == 1_786_540_562_811_000_000
    gaps = sum(1 for a, b in itertools.pairwise(sequences) if b.first != a.last + 1)
    assert gaps == 0


def test_recorded_snapshots_and_updates_chain_without_gaps(
    normalizer: GateioNormalizer,
    recorded: tuple[list[tuple[float, dict[str, Any]]], dict[str, tuple[float, dict[str, Any]]]],
) -> None:
    received, snapshots = recorded
    updates: dict[str, list[BookDelta]] = defaultdict(list)
    for _, frame in received:
        if frame.get("channel") == "futures.order_book_update" and frame.get("event") == "update":
            [delta] = normalizer.normalize(frame, RECEIVED)
            assert isinstance(delta, BookDelta)
            updates[delta.native_symbol].append(delta)
    applied = gaps = 0
    for contract, (_, payload) in snapshots.items():
        [snapshot] = normalizer.normalize_rest_snapshot(payload, contract, RECEIVED)
        assert isinstance(snapshot, BookSnapshot)
        book_id = snapshot.sequence.last
        # Gate's rule: drop u <= id; the first applied has U <= id + 1 <= u; then U = previous u + 1.
        pending = [d for d in updates[contract] if d.sequence.last > book_id]
        for index, delta in enumerate(pending):
            assert delta.sequence.first is not None
            follows = (
                delta.sequence.first <= book_id + 1 if index == 0 else delta.sequence.first == book_id + 1
            )
            gaps += not follows
            book_id = delta.sequence.last
            applied += 1
    assert gaps == 0
    assert applied == 316  # updates at or after the ten snapshots in the 2023 capture


def test_rest_snapshot(
    normalizer: GateioNormalizer,
    recorded: tuple[list[tuple[float, dict[str, Any]]], dict[str, tuple[float, dict[str, Any]]]],
) -> None:
    _, snapshots = recorded
    [snapshot] = normalizer.normalize_rest_snapshot(snapshots["RDNT_USDT"][1], "RDNT_USDT", RECEIVED)
    assert isinstance(snapshot, BookSnapshot)
    assert snapshot.sequence.last == 203083287
    assert snapshot.asks[0] == (Decimal("0.2974"), Decimal(803))  # RDNT: 1 coin per contract
    assert (len(snapshot.asks), len(snapshot.bids)) == (76, 57)
    assert snapshot.exchange_ts == 1_684_930_166_350_000_000


def test_book_ticker(
    normalizer: GateioNormalizer,
    recorded: tuple[list[tuple[float, dict[str, Any]]], dict[str, tuple[float, dict[str, Any]]]],
) -> None:
    received, _ = recorded
    frame = next(
        f for _, f in received if f.get("channel") == "futures.book_ticker" and f["event"] == "update"
    )
    # {"t":1684930165621,"u":6159967,"s":"PHB_USDT","b":"0.7379","B":814,"a":"0.739","A":677}
    [bbo] = normalizer.normalize(frame, RECEIVED)
    assert isinstance(bbo, BestBidOffer)
    assert (bbo.bid_price, bbo.bid_quantity, bbo.ask_price, bbo.ask_quantity) == (
        Decimal("0.7379"),
        Decimal(814),
        Decimal("0.739"),
        Decimal(677),
    )
    assert bbo.sequence == 6159967


def test_tickers_are_funding_and_open_interest(
    normalizer: GateioNormalizer, frames: dict[str, list[dict[str, Any]]]
) -> None:
    funding, open_interest = normalizer.normalize(frames["watchTicker"][1], RECEIVED)
    assert isinstance(funding, Funding)
    assert funding.rate == Decimal("0.000052")
    assert funding.interval_s == 28800
    assert funding.next_funding_ts == 1_786_550_400_000_000_000
    assert (funding.mark_price, funding.index_price) == (Decimal("63964.8"), Decimal("63989.2"))
    assert funding.exchange_ts == 1_786_540_617_093_000_000
    assert isinstance(open_interest, OpenInterest)
    assert open_interest.open_interest == Decimal("65821.6984")  # total_size 658216984 contracts
    assert open_interest.open_interest_notional == Decimal("65821.6984") * Decimal("63964.8")


def test_public_liquidation_sign_is_the_order_side() -> None:
    # Example of futures.public_liquidates from the Gate.io docs (aggregated format, 2026-08).
    frame = {
        "channel": "futures.public_liquidates",
        "event": "update",
        "time": 1541505434,
        "time_ms": 1541505434123,
        "result": [
            {"price": "215.1", "size": "-124.5", "time": 1541486601123, "contract": "BTC_USDT"},
            {"price": "215.2", "size": 10, "time_ms": 1541486601456, "contract": "BTC_USDT"},
        ],
    }
    sell, buy = GateioNormalizer(load_snapshot()).normalize(frame, RECEIVED)
    assert isinstance(sell, Liquidation)
    assert isinstance(buy, Liquidation)
    assert (sell.side, sell.quantity) == (Side.SELL, Decimal("0.01245"))
    assert sell.notional == Decimal("0.01245") * Decimal("215.1")
    assert sell.exchange_ts == 1_541_486_601_123_000_000
    assert (buy.side, buy.quantity) == (Side.BUY, Decimal("0.0010"))


def test_parse_instruments_on_recorded_contracts(shared_data: Path) -> None:
    path = shared_data / "cryptofeed" / "GATEIO_FUTURES.0"
    if not path.exists():
        pytest.skip(f"Gate.io instruments not found at {path}")
    line = next(line for line in path.read_text().splitlines() if " -> " in line)
    payload = orjson.loads(line.split(" -> ", 1)[1].split(": ", 1)[1])
    instruments = GateioAdapter(load_snapshot()).parse_instruments(payload)
    assert len(instruments) == 301
    snapshot = load_snapshot()
    btc = next(i for i in instruments if i.native_symbol == "BTC_USDT")
    assert (btc.symbol, btc.contract_size, btc.tick_size) == (
        "BTC-USDT-PERP",
        Decimal("0.0001"),
        Decimal("0.1"),
    )
    assert snapshot.get(btc.exchange, "BTC_USDT") == btc


def test_adapter_protocol_facts() -> None:
    adapter = GateioAdapter(load_snapshot())
    frames = [orjson.loads(f) for f in adapter.subscribe_frames(frozenset(Channel), ["BTC_USDT", "ETH_USDT"])]
    books = [f for f in frames if f["channel"] == "futures.order_book_update"]
    assert [f["payload"] for f in books] == [["BTC_USDT", "100ms", "100"], ["ETH_USDT", "100ms", "100"]]
    assert sum(1 for f in frames if f["channel"] == "futures.tickers") == 1
    assert orjson.loads(adapter.ping_frame() or "")["channel"] == "futures.ping"
    request = adapter.book_snapshot_request("BTC_USDT")
    assert request is not None
    assert request.params == {"contract": "BTC_USDT", "limit": "100", "with_id": "true"}
    assert adapter.is_control_frame({"channel": "futures.pong", "event": "", "result": None})
    assert not adapter.is_control_frame(
        {"channel": "futures.trades", "event": "subscribe", "error": {"code": 2}}
    )
    assert adapter.connect_request() is None


@pytest.mark.parametrize(
    ("frame", "error_type"),
    [
        ({"channel": "futures.trades", "event": "update", "result": [{"contract": "BTC_USDT"}]}, "malformed"),
        (
            {
                "channel": "futures.trades",
                "event": "update",
                "result": [{"id": 1, "size": 1, "create_time_ms": 1, "price": "1", "contract": "NOPE_USDT"}],
            },
            "unknown_instrument",
        ),
        (
            {
                "channel": "futures.trades",
                "event": "update",
                "result": [{"id": 1, "size": 0, "create_time_ms": 1, "price": "1", "contract": "BTC_USDT"}],
            },
            "out_of_range",
        ),
        (
            {
                "channel": "futures.trades",
                "event": "update",
                "result": [{"id": 1, "size": 1, "create_time_ms": 1, "price": "-1", "contract": "BTC_USDT"}],
            },
            "malformed",
        ),
        ({"channel": "futures.candlesticks", "event": "update", "result": []}, "unknown_event"),
        (
            {
                "channel": "futures.trades",
                "event": "subscribe",
                "error": {"code": 2, "message": "unknown contract"},
            },
            "venue_error",
        ),
        ({"channel": "futures.trades", "event": "weird"}, "unknown_event"),
    ],
)
def test_bad_frames_are_rejected_with_a_reason(frame: dict[str, Any], error_type: str) -> None:
    assert rejection(GateioNormalizer(load_snapshot()).normalize, frame, RECEIVED).error_type == error_type


def test_bad_rest_snapshot_is_rejected() -> None:
    with pytest.raises(FrameRejected):
        GateioNormalizer(load_snapshot()).normalize_rest_snapshot({"asks": []}, "BTC_USDT", RECEIVED)


@settings(max_examples=250, deadline=None)
@given(data=st.data())
def test_mutated_real_frames_never_raise_anything_but_frame_rejected(
    frames: dict[str, list[dict[str, Any]]], data: st.DataObject
) -> None:
    normalizer = GateioNormalizer(load_snapshot())
    pool = [f for method in frames.values() for f in method]
    # Older trades: create_time (seconds) without create_time_ms (issue 15).
    pool += [
        {**f, "result": [{k: v for k, v in row.items() if k != "create_time_ms"} for row in f["result"]]}
        for f in frames["watchTrades"]
        if isinstance(f.get("result"), list) and f["result"] and isinstance(f["result"][0], dict)
    ]
    frame = draw_mutated(data, pool, wrap=lambda body: {"result": body})
    only_frame_rejected_escapes(normalizer.normalize, frame, RECEIVED)
    only_frame_rejected_escapes(normalizer.normalize_rest_snapshot, frame, "BTC_USDT", RECEIVED)


@settings(max_examples=150, deadline=None)
@given(
    channel=st.sampled_from(
        [
            "futures.trades",
            "futures.order_book_update",
            "futures.book_ticker",
            "futures.tickers",
            "futures.public_liquidates",
        ]
    ),
    result=json_values,
)
def test_random_frames_never_raise_anything_but_frame_rejected(channel: str, result: Any) -> None:
    only_frame_rejected_escapes(
        GateioNormalizer(load_snapshot()).normalize,
        {"channel": channel, "event": "update", "result": result},
        RECEIVED,
    )


def test_a_trade_with_a_hostile_price_is_rejected_with_a_reason(
    frames: dict[str, list[dict[str, Any]]],
) -> None:
    """The fuzz family's assertion: a valid-looking mutation of a real trade, its price set to a
    number no market has (negative, zero, NaN, infinite, out of range, not a number), is rejected
    with a reason (``fuzzkit.PRICE_REJECTIONS``), never published."""
    normalizer = GateioNormalizer(load_snapshot())
    pool = [f for method in frames.values() for f in method]
    assert_hostile_prices_rejected(lambda frame: normalizer.normalize(frame, RECEIVED), pool)
