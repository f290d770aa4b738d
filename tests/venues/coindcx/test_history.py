"""CoinDCX history: the candles parser on the documented example, requests, and a round trip with the
simulator."""

import itertools
from decimal import Decimal

import pytest

from schemas.common import ExchangeId
from schemas.market_data import Candle
from services.backfill.core.plan import NS_PER_MS, NS_PER_S, What, Window
from services.backfill.history import HistoryRejected, capability_table, history_for
from services.instruments.catalog import load_snapshot
from tests.backfill.history_roundtrip import NOW_NS, fetch, round_trip

RECEIVED = 1_700_000_000_000_000_000
CATALOG = load_snapshot()
HISTORY = history_for(ExchangeId.COINDCX, CATALOG)
BTC = CATALOG.get(ExchangeId.COINDCX, "B-BTC_USDT")  # sizes in BTC
MINUTE = 60 * NS_PER_S

# docs.coindcx.com, "Futures End Points" > "Get instrument candlesticks", Response (for B-MKR_USDT,
# resolution 1D; read here as daily bars of B-BTC_USDT)
CANDLES = {
    "s": "ok",
    "data": [
        {
            "open": 1654.2,
            "high": 1933.5,
            "low": 1616.5,
            "volume": 114433.544,
            "close": 1831.9,
            "time": 1704153600000,
        },
        {
            "open": 1832.2,
            "high": 1961,
            "low": 1438,
            "volume": 158441.387,
            "close": 1807.6,
            "time": 1704240000000,
        },
    ],
}


def test_candles_doc_example() -> None:
    first, second = HISTORY.parse(What.KLINES, BTC, CANDLES, 86400, RECEIVED)
    assert isinstance(first, Candle)
    assert isinstance(second, Candle)
    assert first.exchange_ts == 1704153600000 * NS_PER_MS
    assert first.close_ts == second.exchange_ts
    assert (first.open, first.high, first.low, first.close) == (
        Decimal("1654.2"),
        Decimal("1933.5"),
        Decimal("1616.5"),
        Decimal("1831.9"),
    )
    assert first.volume == Decimal("114433.544")
    # No quote volume in the answer: the notional is estimated as volume x close.
    assert first.notional == Decimal("114433.544") * Decimal("1831.9")
    assert (second.high, second.low) == (Decimal(1961), Decimal(1438))


def test_an_answer_that_is_not_ok_is_rejected() -> None:
    with pytest.raises(HistoryRejected, match="error"):
        HISTORY.parse(What.KLINES, BTC, {"s": "error", "message": "bad pair"}, 60, 0)


def test_requests_go_to_the_market_data_host_in_seconds() -> None:
    assert HISTORY.rest_url == "https://public.coindcx.com"
    page = Window(1_700_000_040 * NS_PER_S, 1_700_000_040 * NS_PER_S + HISTORY.span_ns(What.KLINES, 3600))
    request = HISTORY.request(What.KLINES, BTC, page, 3600)
    assert request.path == "/market_data/candlesticks"
    assert request.params == {
        "pair": "B-BTC_USDT",
        "from": "1700000040",
        "to": str(1_700_000_040 + 500 * 3600),
        "resolution": "60",
        "pcode": "f",
    }
    assert sorted(HISTORY.kline_intervals) == [60, 300, 3600, 86400]  # '1', '5', '60', '1D'
    with pytest.raises(ValueError, match="900s klines"):
        HISTORY.record_interval_s(What.KLINES, 900)


def test_funding_and_open_interest_history_are_not_offered_and_say_so() -> None:
    rows = {r["what"]: r for r in capability_table() if r["exchange"] == "coindcx"}
    assert rows["funding"]["status"] == rows["oi"]["status"] == "not offered"
    assert "current funding rate" in rows["funding"]["detail"]
    assert rows["klines"]["status"] == "yes"


def test_round_trip_with_the_simulator_across_page_boundaries() -> None:
    trip = round_trip(ExchangeId.COINDCX)
    minutes = 1250
    pages, bars = fetch(trip, "B-BTC_USDT", What.KLINES, Window(NOW_NS - minutes * MINUTE, NOW_NS))
    assert len(pages) == 3
    opens = [b.exchange_ts for b in bars]
    assert len(opens) == minutes == len(set(opens))
    assert {b - a for a, b in itertools.pairwise(opens)} == {MINUTE}
    assert all(r.query["pcode"] == "f" for r in trip.requests)
