"""MEXC history: parsers on the documented examples, requests, and a round trip with the simulator."""

import itertools
from decimal import Decimal

import pytest

from schemas.common import ExchangeId
from schemas.market_data import Candle, Funding
from services.backfill.core.plan import NS_PER_MS, NS_PER_S, What, Window
from services.backfill.history import HistoryRejected, history_for
from services.instruments.catalog import load_snapshot
from tests.backfill.history_roundtrip import NOW_NS, assert_not_offered, fetch, round_trip

RECEIVED = 1_700_000_000_000_000_000
CATALOG = load_snapshot()
HISTORY = history_for(ExchangeId.MEXC, CATALOG)
BTC = CATALOG.get(ExchangeId.MEXC, "BTC_USDT")  # contractSize 0.0001 BTC
MINUTE = 60 * NS_PER_S

# mexcdevelop.github.io/apidocs/contract_v1_en, "K-line data", Response
KLINES = {
    "success": True,
    "code": 0,
    "data": {
        "time": [1609740600],
        "open": [33016.5],
        "close": [33040.5],
        "high": [33094.0],
        "low": [32995.0],
        "vol": [67332.0],
        "amount": [222515.85925],
    },
}

# www.mexc.in/api-docs/futures/market-endpoints/get-funding-rate-history, "Response Example"
FUNDING = {
    "success": True,
    "code": 0,
    "data": {
        "pageSize": 3,
        "totalCount": 1619,
        "totalPage": 540,
        "currentPage": 1,
        "resultList": [
            {"symbol": "BTC_USDT", "fundingRate": 0.000021, "settleTime": 1761868800000, "collectCycle": 8},
            {"symbol": "BTC_USDT", "fundingRate": 0.000032, "settleTime": 1761840000000, "collectCycle": 8},
            {"symbol": "BTC_USDT", "fundingRate": -0.000001, "settleTime": 1761811200000, "collectCycle": 8},
        ],
    },
}

# mexcdevelop.github.io/apidocs/contract_v1_en, "Get contract funding rate history", Response
# (the older page: no collectCycle)
FUNDING_WITHOUT_CYCLE = {
    "success": True,
    "code": 0,
    "data": {
        "pageSize": 2,
        "totalCount": 21,
        "totalPage": 11,
        "currentPage": 1,
        "resultList": [
            {"symbol": "BTC_USDT", "fundingRate": 0.000266, "settleTime": 1609804800000},
            {"symbol": "BTC_USDT", "fundingRate": 0.00029, "settleTime": 1609776000000},
        ],
    },
}


def test_kline_doc_example_contracts_to_base_units() -> None:
    # The example is a 15-minute bar; read as a 15-minute bar of BTC_USDT.
    [bar] = HISTORY.parse(What.KLINES, BTC, KLINES, 900, RECEIVED)
    assert isinstance(bar, Candle)
    assert bar.source == "venue"
    assert bar.exchange_ts == 1609740600 * NS_PER_S
    assert bar.close_ts == (1609740600 + 900) * NS_PER_S
    assert (bar.open, bar.high, bar.low, bar.close) == (
        Decimal("33016.5"),
        Decimal("33094.0"),
        Decimal("32995.0"),
        Decimal("33040.5"),
    )
    assert bar.volume == Decimal("6.7332")  # 67332 contracts x 0.0001 BTC
    assert bar.notional == Decimal("222515.85925")
    assert bar.trade_count == 0


def test_funding_doc_examples_newest_first_to_oldest_first() -> None:
    oldest, middle, newest = HISTORY.parse(What.FUNDING, BTC, FUNDING, 60, RECEIVED)
    assert isinstance(oldest, Funding)
    assert isinstance(newest, Funding)
    assert [e.exchange_ts // NS_PER_MS for e in (oldest, middle, newest)] == [
        1761811200000,
        1761840000000,
        1761868800000,
    ]
    assert oldest.rate == Decimal("-0.000001")
    assert newest.rate == Decimal("0.000021")
    assert newest.interval_s == 8 * 3600  # collectCycle, hours
    older, newer = HISTORY.parse(What.FUNDING, BTC, FUNDING_WITHOUT_CYCLE, 60, RECEIVED)
    assert isinstance(older, Funding)
    assert older.rate == Decimal("0.00029")
    assert newer.exchange_ts == 1609804800000 * NS_PER_MS
    assert older.interval_s == BTC.funding_interval_s  # no collectCycle: the instrument's


def test_error_envelope_is_rejected_with_its_message() -> None:
    with pytest.raises(HistoryRejected, match="contract not exists"):
        HISTORY.parse(
            What.KLINES, BTC, {"success": False, "code": 1001, "message": "contract not exists"}, 60, 0
        )


def test_requests_in_seconds_and_pages_the_cap_cannot_cut() -> None:
    page = Window(1_700_000_040 * NS_PER_S, 1_700_000_040 * NS_PER_S + HISTORY.span_ns(What.KLINES, 60))
    request = HISTORY.request(What.KLINES, BTC, page, 60)
    assert request.path == "/api/v1/contract/kline/BTC_USDT"
    assert request.params == {
        "interval": "Min1",
        "start": "1700000040",
        "end": str(1_700_000_040 + 1999 * 60),
    }
    # [start, end] holds 2000 bar opens at most, the documented maximum, whichever end is inclusive.
    assert HISTORY.span_ns(What.KLINES, 60) == 1999 * MINUTE
    assert HISTORY.request(What.KLINES, BTC, page, 14400).params["interval"] == "Hour4"
    funding = HISTORY.request(What.FUNDING, BTC, page, 60)
    assert funding.params == {"symbol": "BTC_USDT", "page_num": "1", "page_size": "1000"}
    # Only the newest page is read: history older than 1000 x 1 h is not asked for.
    assert HISTORY.max_age_s(What.FUNDING, 60) == 1000 * 3600


def test_open_interest_history_is_not_offered_and_says_so() -> None:
    assert not HISTORY.offers(What.OI)
    assert_not_offered(ExchangeId.MEXC, What.OI, "holdVol")


def test_round_trip_with_the_simulator_across_page_boundaries() -> None:
    trip = round_trip(ExchangeId.MEXC)
    minutes = 1999 * 5 // 2
    pages, bars = fetch(trip, "BTC_USDT", What.KLINES, Window(NOW_NS - minutes * MINUTE, NOW_NS))
    assert len(pages) == 3
    opens = [b.exchange_ts for b in bars]
    assert len(opens) == minutes == len(set(opens))
    assert {b - a for a, b in itertools.pairwise(opens)} == {MINUTE}
    assert opens[-1] == NOW_NS - MINUTE
    # Funding: 30 days of 8-hour settlements from the newest page, each once.
    funding_pages, funding = fetch(
        trip, "BTC_USDT", What.FUNDING, Window(NOW_NS - 30 * 86400 * NS_PER_S, NOW_NS)
    )
    times = [f.exchange_ts for f in funding]
    assert len(times) == 90 == len(set(times))
    assert {b - a for a, b in itertools.pairwise(times)} == {8 * 3600 * NS_PER_S}
    assert all(r.query["page_num"] == "1" for r in trip.requests if "funding" in r.path)
    assert len(funding_pages) == 1
