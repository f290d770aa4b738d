"""The simulator speaks Binance USD-M's protocol: trade values, REST snapshot ids, the stream limit."""

import json
from decimal import Decimal

import pytest

from schemas.common import ExchangeId
from schemas.market_data import BookSnapshot, OpenInterest, Trade
from services.ingest.connector.parse import normalize_raw, normalize_rest_snapshot
from services.instruments.catalog import load_snapshot
from services.simulator.dialect import HttpRequest, Session
from services.simulator.model import TradePrint
from services.venues import adapter_for
from tests.ingest.test_simulator_dialects import bound
from tests.ingest.test_simulator_model import STEP_NS, T0


def test_binance_trade_values_round_trip() -> None:
    model, dialect = bound(ExchangeId.BINANCE_USDM)
    adapter = adapter_for(ExchangeId.BINANCE_USDM, load_snapshot())
    for n in range(40):
        for event in model.step(T0 + n * STEP_NS):
            if not isinstance(event, TradePrint):
                continue
            frame = next(f for f in dialect.render(event) if "aggTrade" in f.text)
            [trade] = normalize_raw(adapter, frame.text.encode(), T0) or []
            assert isinstance(trade, Trade)
            assert trade.price == event.price * event.grid.tick
            assert trade.quantity == event.lots * event.grid.lot
            assert trade.trade_id == f"a{event.trade_id}"
            return
    pytest.fail("no trade in 4 s of market")


def test_binance_rest_snapshot_matches_the_stream_ids() -> None:
    model, dialect = bound(ExchangeId.BINANCE_USDM)
    adapter = adapter_for(ExchangeId.BINANCE_USDM, load_snapshot())
    model.step(T0)
    request = adapter.book_snapshot_request("BTCUSDT")
    assert request is not None
    reply = dialect.rest(HttpRequest("GET", request.path, dict(request.params)), T0)
    assert reply.status == 200
    [snapshot] = normalize_rest_snapshot(adapter, reply.body, "BTCUSDT", T0)
    assert isinstance(snapshot, BookSnapshot)
    view = model.book(ExchangeId.BINANCE_USDM, "BTCUSDT")
    assert snapshot.sequence.last == view.last
    assert snapshot.bids[0][0] == view.bids[0][0] * Decimal("0.10")
    assert dialect.rest(HttpRequest("GET", "/fapi/v1/depth", {"symbol": "NOPE"}), T0).status == 400
    oi = dialect.rest(HttpRequest("GET", "/fapi/v1/openInterest", {"symbol": "ETHUSDT"}), T0)
    [interest] = adapter.normalizer.normalize_open_interest(json.loads(oi.body), T0)  # type: ignore[attr-defined]
    assert isinstance(interest, OpenInterest)
    assert interest.open_interest > 0


def test_binance_stream_limit_closes_the_connection() -> None:
    _, dialect = bound(ExchangeId.BINANCE_USDM)
    dialect.max_streams = 2  # type: ignore[attr-defined]  # the Binance dialect's own limit
    session = Session(1, "/stream")
    request = {
        "method": "SUBSCRIBE",
        "params": ["btcusdt@aggTrade", "btcusdt@depth", "ethusdt@depth"],
        "id": 1,
    }
    [reply] = dialect.on_message(session, json.dumps(request), T0)
    assert reply.close_code == 1008
    assert "Too many streams" in reply.text
