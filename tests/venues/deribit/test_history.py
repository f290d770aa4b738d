"""Deribit history: parsers on the documented examples, requests, and a round trip with the simulator."""

import itertools
from decimal import Decimal

import pytest

from schemas.common import ExchangeId
from schemas.market_data import Candle, Funding
from services.backfill.core.plan import NS_PER_MS, NS_PER_S, What, Window
from services.backfill.history import HistoryRejected, history_for
from services.instruments.catalog import load_snapshot
from tests.backfill.history_roundtrip import (
    NOW_MS,
    assert_contiguous_minute_bars,
    assert_not_offered,
    fetch,
    round_trip,
)

RECEIVED = 1_700_000_000_000_000_000
CATALOG = load_snapshot()
HISTORY = history_for(ExchangeId.DERIBIT, CATALOG)
BTC = CATALOG.get(ExchangeId.DERIBIT, "BTC-PERPETUAL")  # inverse: orders in USD

# docs.deribit.com/api-reference/market-data/public-get_tradingview_chart_data, response example
# (the page's instrument is the BTC-5APR19 future; read here as BTC-PERPETUAL 30-minute bars)
CHART = {
    "jsonrpc": "2.0",
    "id": 833,
    "result": {
        "volume": [19.007942601, 20.095877981],
        "cost": [19000, 23400],
        "ticks": [1554373800000, 1554375600000],
        "status": "ok",
        "open": [4963.42, 4986.29],
        "low": [4728.94, 4726.6],
        "high": [5185.45, 5250.87],
        "close": [5052.95, 5013.59],
    },
    "usIn": 1554381680742493,
    "usOut": 1554381680742698,
    "usDiff": 205,
    "testnet": False,
}

# docs.deribit.com/api-reference/market-data/public-get_funding_rate_history, response example
FUNDING = {
    "jsonrpc": "2.0",
    "id": 7617,
    "result": [
        {
            "timestamp": 1569891600000,
            "index_price": 8222.87,
            "prev_index_price": 8305.72,
            "interest_8h": -0.00009234260068476106,
            "interest_1h": -4.739622041017375e-7,
        },
        {
            "timestamp": 1569895200000,
            "index_price": 8286.49,
            "prev_index_price": 8222.87,
            "interest_8h": -0.00006720918180255509,
            "interest_1h": -2.8583510923267753e-7,
        },
        {
            "timestamp": 1569898800000,
            "index_price": 8431.97,
            "prev_index_price": 8286.49,
            "interest_8h": -0.00003544496169694662,
            "interest_1h": -0.000003815906848177951,
        },
        {
            "timestamp": 1569902400000,
            "index_price": 8422.36,
            "prev_index_price": 8431.97,
            "interest_8h": -0.00001404147515584998,
            "interest_1h": 8.312033064379086e-7,
        },
    ],
}


def test_chart_data_doc_example_volume_in_base_and_cost_in_quote() -> None:
    first, second = HISTORY.parse(What.KLINES, BTC, CHART, 1800, RECEIVED)
    assert isinstance(first, Candle)
    assert isinstance(second, Candle)
    assert first.source == "venue"
    assert first.exchange_ts == 1554373800000 * NS_PER_MS
    assert first.close_ts == 1554375600000 * NS_PER_MS
    assert (first.open, first.high, first.low, first.close) == (
        Decimal("4963.42"),
        Decimal("5185.45"),
        Decimal("4728.94"),
        Decimal("5052.95"),
    )
    assert first.volume == Decimal("19.007942601")  # "volume bars (in base currency)"
    assert first.notional == Decimal("19000")  # "cost bars (volume in quote currency)"
    assert second.volume == Decimal("20.095877981")
    assert second.notional == Decimal("23400")
    assert second.exchange_ts - first.exchange_ts == 1800 * NS_PER_S


def test_chart_data_without_data_is_empty_and_an_error_is_rejected() -> None:
    no_data = {"jsonrpc": "2.0", "result": {"status": "no_data", "ticks": [], "open": [], "high": [], "low": [],
                                             "close": [], "volume": [], "cost": []}}  # fmt: skip
    assert HISTORY.parse(What.KLINES, BTC, no_data, 60, RECEIVED) == []
    error = {"jsonrpc": "2.0", "error": {"message": "Invalid params", "code": -32602}}
    with pytest.raises(HistoryRejected, match="Invalid params"):
        HISTORY.parse(What.KLINES, BTC, error, 60, RECEIVED)


def test_funding_history_doc_example_is_the_8h_rate_of_continuous_funding() -> None:
    rows = HISTORY.parse(What.FUNDING, BTC, FUNDING, 60, RECEIVED)
    assert [r.exchange_ts // NS_PER_MS for r in rows] == [1569891600000, 1569895200000, 1569898800000,
                                                          1569902400000]  # fmt: skip
    first = rows[0]
    assert isinstance(first, Funding)
    assert first.rate == Decimal("-0.00009234260068476106")  # interest_8h, as the live funding_8h
    assert first.interval_s == 8 * 3600
    assert first.next_funding_ts == first.exchange_ts  # continuous: the next accrual is now
    assert first.index_price == Decimal("8222.87")
    assert first.mark_price is None


def test_requests_are_json_rpc_gets_with_inclusive_ends() -> None:
    page = Window(0, HISTORY.span_ns(What.KLINES, 60))
    chart = HISTORY.request(What.KLINES, BTC, page, 60)
    assert (chart.method, chart.path) == ("GET", "/api/v2/public/get_tradingview_chart_data")
    assert chart.params == {
        "instrument_name": "BTC-PERPETUAL",
        "start_timestamp": "0",
        "end_timestamp": str(5000 * 60_000 - 1),
        "resolution": "1",
    }
    assert HISTORY.request(What.KLINES, BTC, page, 86400).params["resolution"] == "1D"
    funding = HISTORY.request(What.FUNDING, BTC, Window(0, 3_600_000 * NS_PER_MS), 60)
    assert funding.path == "/api/v2/public/get_funding_rate_history"
    assert set(funding.params) == {"instrument_name", "start_timestamp", "end_timestamp"}
    assert HISTORY.span_ns(What.FUNDING, 60) == 720 * 3600 * NS_PER_S
    with pytest.raises(ValueError, match="no 120s klines"):
        HISTORY.record_interval_s(What.KLINES, 120)


def test_open_interest_history_is_not_offered_and_says_so() -> None:
    assert not HISTORY.offers(What.OI)
    assert_not_offered(ExchangeId.DERIBIT, What.OI, "current open interest")


def test_round_trip_with_the_simulator_across_page_boundaries() -> None:
    trip = round_trip(ExchangeId.DERIBIT)
    minutes = 5000 * 5 // 2  # 2.5 pages of 1-minute bars
    window = Window((NOW_MS - minutes * 60_000) * NS_PER_MS, NOW_MS * NS_PER_MS)
    pages, bars = fetch(trip, "BTC-PERPETUAL", What.KLINES, window)
    assert len(pages) == 3
    assert_contiguous_minute_bars(bars, minutes)
    assert all(isinstance(b, Candle) and b.volume > 0 and b.notional > 0 for b in bars)
    # Inverse: the cost is USD, the volume BTC, so their ratio is a BTC price near the bar's close.
    last = bars[-1]
    assert isinstance(last, Candle)
    assert abs(last.notional / last.volume / last.close - 1) < Decimal("0.01")

    funding_window = Window((NOW_MS - 1000 * 3_600_000) * NS_PER_MS, NOW_MS * NS_PER_MS)
    funding_pages, funding = fetch(trip, "BTC-PERPETUAL", What.FUNDING, funding_window)
    assert len(funding_pages) == 2  # 720 hours a page
    hours = [f.exchange_ts for f in funding]
    assert len(hours) == 1000 == len(set(hours))
    assert all(b - a == 3600 * NS_PER_S for a, b in itertools.pairwise(hours))
