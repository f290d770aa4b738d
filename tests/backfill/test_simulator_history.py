"""The simulator's history endpoints keep each venue's documented limits and agree across pages."""

import orjson

from schemas.common import ExchangeId
from services.simulator.dialect import HttpRequest
from services.simulator.history import HistoryModel, VenueHistoryEndpoints
from services.simulator.model import MarketModel
from services.simulator.server import grids_for

NOW_MS = 1_800_000_000_000 // 60_000 * 60_000
NOW_NS = NOW_MS * 1_000_000
VENUES = [ExchangeId.BINANCE_USDM, ExchangeId.BYBIT, ExchangeId.HYPERLIQUID]


def _endpoints(exchange: ExchangeId) -> VenueHistoryEndpoints:
    model = MarketModel(grids_for(VENUES, ("BTC-USDT-PERP",)), seed=3)
    return VenueHistoryEndpoints(exchange, HistoryModel(model, 3, NOW_MS))


def _get(endpoints: VenueHistoryEndpoints, path: str, **query: object) -> tuple[int, object]:
    reply = endpoints.reply(HttpRequest("GET", path, {k: str(v) for k, v in query.items()}), NOW_NS)
    assert reply is not None
    return reply.status, orjson.loads(reply.body)


def test_binance_klines_refuse_a_limit_above_1500_and_two_pages_agree() -> None:
    binance = _endpoints(ExchangeId.BINANCE_USDM)
    status, _ = _get(binance, "/fapi/v1/klines", symbol="BTCUSDT", interval="1m", limit=1501)
    assert status == 400
    start = NOW_MS - 100 * 60_000
    _, whole = _get(binance, "/fapi/v1/klines", symbol="BTCUSDT", interval="1m", startTime=start, limit=100)
    _, first = _get(binance, "/fapi/v1/klines", symbol="BTCUSDT", interval="1m", startTime=start, limit=40)
    _, rest = _get(
        binance, "/fapi/v1/klines", symbol="BTCUSDT", interval="1m", startTime=start + 40 * 60_000, limit=60
    )
    assert first + rest == whole  # the same history however it is cut


def test_bybit_is_newest_first_and_refuses_start_time_alone_for_funding() -> None:
    bybit = _endpoints(ExchangeId.BYBIT)
    _, body = _get(bybit, "/v5/market/kline", category="linear", symbol="BTCUSDT", interval="1", limit=5)
    assert isinstance(body, dict)
    starts = [int(row[0]) for row in body["result"]["list"]]
    assert starts == sorted(starts, reverse=True)
    _, error = _get(bybit, "/v5/market/funding/history", category="linear", symbol="BTCUSDT", startTime=0)
    assert isinstance(error, dict)
    assert error["retCode"] != 0


def test_hyperliquid_serves_at_most_the_most_recent_5000_candles() -> None:
    hyperliquid = _endpoints(ExchangeId.HYPERLIQUID)
    body = {
        "type": "candleSnapshot",
        "req": {"coin": "BTC", "interval": "1m", "startTime": 0, "endTime": NOW_MS},
    }
    reply = hyperliquid.reply(HttpRequest("POST", "/info", {}, orjson.dumps(body)), NOW_NS)
    assert reply is not None
    candles = orjson.loads(reply.body)
    assert len(candles) == 5000
    assert candles[-1]["t"] == NOW_MS
    other = hyperliquid.reply(HttpRequest("POST", "/info", {}, orjson.dumps({"type": "meta"})), NOW_NS)
    assert other is None  # left to the dialect
