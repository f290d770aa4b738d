"""BitMEX history: parsers on the documented row layouts, requests, and a round trip with the simulator.

The API explorer documents the fields of each row (TradeBin, Funding) but prints no example
values, so the rows below follow those layouts with hand-made, mutually consistent values.
"""

import itertools
from decimal import Decimal

import pytest

from schemas.common import ExchangeId
from schemas.market_data import Candle, Funding
from services.backfill.core.plan import NS_PER_MS, NS_PER_S, What, Window
from services.backfill.history import HistoryRejected, history_for
from services.instruments.catalog import load_snapshot
from services.simulator.dialect import HttpRequest
from services.venues.bitmex.history import epoch_ms, iso_time
from tests.backfill.history_roundtrip import NOW_MS, assert_not_offered, fetch, round_trip

RECEIVED = 1_700_000_000_000_000_000
CATALOG = load_snapshot()
HISTORY = history_for(ExchangeId.BITMEX, CATALOG)
XBTUSD = CATALOG.get(ExchangeId.BITMEX, "XBTUSD")  # inverse, 1 USD a contract
XBTUSDT = CATALOG.get(ExchangeId.BITMEX, "XBTUSDT")  # linear, 0.000001 XBT a contract
MIDNIGHT_MS = 1_704_067_200_000  # 2024-01-01T00:00Z

# www.bitmex.com/api/explorer "Trade: Get previous trades in time buckets" (TradeBin model); the
# timestamp is the bucket's END: this is the 00:00-00:01 bar.
BUCKET = {
    "timestamp": "2024-01-01T00:01:00.000Z",
    "symbol": "XBTUSD",
    "open": 42283.5,
    "high": 42300,
    "low": 42283,
    "close": 42299.5,
    "trades": 57,
    "volume": 122300,
    "vwap": 42291.1,
    "lastSize": 100,
    "turnover": 289193522,
    "homeNotional": 2.89193522,
    "foreignNotional": 122300,
}

# www.bitmex.com/api/explorer "Funding: Get funding history" (Funding model)
FUNDING = [
    {
        "timestamp": "2024-01-01T04:00:00.000Z",
        "symbol": "XBTUSD",
        "fundingInterval": "2000-01-01T08:00:00.000Z",
        "fundingRate": 0.0001,
        "fundingRateDaily": 0.0003,
    }
]


def test_bucket_timestamp_is_the_end_and_notionals_are_base_and_quote() -> None:
    [bar] = HISTORY.parse(What.KLINES, XBTUSD, [BUCKET], 60, RECEIVED)
    assert isinstance(bar, Candle)
    assert bar.exchange_ts == MIDNIGHT_MS * NS_PER_MS  # opened one bin before its timestamp
    assert bar.close_ts == (MIDNIGHT_MS + 60_000) * NS_PER_MS
    assert (bar.open, bar.high, bar.low, bar.close) == (
        Decimal("42283.5"),
        Decimal("42300"),
        Decimal("42283"),
        Decimal("42299.5"),
    )
    assert bar.volume == Decimal("2.89193522")  # homeNotional: BTC
    assert bar.notional == Decimal("122300")  # foreignNotional: USD
    assert bar.trade_count == 57


def test_buckets_without_notionals_convert_contracts_with_the_instrument() -> None:
    bare = {k: v for k, v in BUCKET.items() if k not in ("homeNotional", "foreignNotional")}
    [inverse] = HISTORY.parse(What.KLINES, XBTUSD, [bare], 60, RECEIVED)
    assert isinstance(inverse, Candle)
    assert inverse.volume == Decimal(122300) / Decimal("42299.5")  # 1 USD contracts at the close
    assert inverse.notional == Decimal(122300)
    linear_row = {**bare, "symbol": "XBTUSDT", "volume": 5_000_000}
    [linear] = HISTORY.parse(What.KLINES, XBTUSDT, [linear_row], 60, RECEIVED)
    assert isinstance(linear, Candle)
    assert linear.volume == Decimal(5)  # 5,000,000 x 0.000001 XBT
    assert linear.notional == Decimal(5) * Decimal("42299.5")
    # reverse=true answers newest first; stored oldest first either way. A priceless bucket is skipped.
    later = {**BUCKET, "timestamp": "2024-01-01T00:02:00.000Z"}
    empty = {**BUCKET, "timestamp": "2024-01-01T00:03:00.000Z", "open": None, "high": None, "low": None,
             "close": None}  # fmt: skip
    bars = HISTORY.parse(What.KLINES, XBTUSD, [empty, later, BUCKET], 60, RECEIVED)
    assert [b.exchange_ts // NS_PER_MS for b in bars] == [MIDNIGHT_MS, MIDNIGHT_MS + 60_000]


def test_funding_rows_carry_their_interval() -> None:
    [funding] = HISTORY.parse(What.FUNDING, XBTUSD, FUNDING, 60, RECEIVED)
    assert isinstance(funding, Funding)
    assert funding.exchange_ts == (MIDNIGHT_MS + 4 * 3_600_000) * NS_PER_MS
    assert funding.rate == Decimal("0.0001")
    assert funding.interval_s == 8 * 3600
    assert funding.next_funding_ts == funding.exchange_ts + 8 * 3600 * NS_PER_S


def test_an_error_object_is_rejected_with_its_message() -> None:
    error = {"error": {"message": "Unknown symbol", "name": "ValidationError"}}
    with pytest.raises(HistoryRejected, match="Unknown symbol"):
        HISTORY.parse(What.KLINES, XBTUSD, error, 60, RECEIVED)


def test_requests_ask_for_whole_pages_of_closed_buckets() -> None:
    assert iso_time(MIDNIGHT_MS + 1) == "2024-01-01T00:00:00.001Z"
    assert epoch_ms("2024-01-01T00:00:00.001Z") == MIDNIGHT_MS + 1
    page = Window(MIDNIGHT_MS * NS_PER_MS, MIDNIGHT_MS * NS_PER_MS + HISTORY.span_ns(What.KLINES, 60))
    request = HISTORY.request(What.KLINES, XBTUSD, page, 60)
    assert request.path == "/api/v1/trade/bucketed"
    assert request.params == {
        "binSize": "1m",
        "partial": "false",
        "symbol": "XBTUSD",
        "count": "1000",
        "reverse": "false",
        "startTime": "2024-01-01T00:01:00.000Z",  # the END of the page's first bucket
        "endTime": iso_time(MIDNIGHT_MS + 1000 * 60_000),
    }
    funding = HISTORY.request(What.FUNDING, XBTUSD, Window(0, 3_600_000 * NS_PER_MS), 60)
    assert funding.path == "/api/v1/funding"
    assert funding.params["count"] == "1000"
    assert funding.params["endTime"] == "1970-01-01T00:59:59.999Z"
    assert sorted(HISTORY.kline_intervals) == [60, 300, 3600, 86400]


def test_open_interest_history_is_not_offered_and_says_so() -> None:
    assert not HISTORY.offers(What.OI)
    assert_not_offered(ExchangeId.BITMEX, What.OI, "current open interest")


def test_round_trip_with_the_simulator_across_page_boundaries() -> None:
    trip = round_trip(ExchangeId.BITMEX)
    minutes = 1000 * 5 // 2  # 2.5 pages of 1-minute buckets
    window = Window((NOW_MS - minutes * 60_000) * NS_PER_MS, NOW_MS * NS_PER_MS)
    pages, bars = fetch(trip, "XBTUSDT", What.KLINES, window)
    assert len(pages) == 3
    opens = [b.exchange_ts for b in bars]
    assert len(opens) == minutes == len(set(opens))
    assert opens[0] == window.start_ns
    assert all(b - a == 60 * NS_PER_S for a, b in itertools.pairwise(opens))
    assert all(isinstance(b, Candle) and b.volume > 0 for b in bars)
    # The simulator refuses more than 1000 rows, as BitMEX does.
    first = trip.requests[0]
    reply = trip.endpoints.reply(
        HttpRequest("GET", first.path, first.query | {"count": "1001"}), NOW_MS * NS_PER_MS
    )
    assert reply is not None
    assert reply.status == 400

    funding_window = Window((NOW_MS - 3000 * 3_600_000) * NS_PER_MS, NOW_MS * NS_PER_MS)
    funding_pages, funding = fetch(trip, "XBTUSDT", What.FUNDING, funding_window)
    assert len(funding_pages) == 3  # 1000 hours a page
    times = [f.exchange_ts for f in funding]
    assert len(times) == 3000 // 8 == len(set(times))
    assert all(b - a == 8 * 3600 * NS_PER_S for a, b in itertools.pairwise(times))
