"""Bitget history: the documented example answers, the requests, the funding page reckoned from
the clock (and caught when it misses its window), and a round trip through the simulator."""

import dataclasses
import itertools
from decimal import Decimal

import orjson
import pytest

from schemas.common import ExchangeId
from schemas.market_data import Candle, Funding
from services.backfill.core.plan import NS_PER_MS, NS_PER_S, What, Window
from services.backfill.history import HistoryRejected, history_for
from services.simulator.dialect import HttpRequest
from services.venues.bitget.history import BitgetHistory, funding_page
from tests.backfill.history_roundtrip import CATALOG, NOW_NS, assert_not_offered, fetch, round_trip

RECEIVED = 1_700_000_000_000_000_000
MINUTE = 60 * NS_PER_S
HOUR = 3600 * NS_PER_S
BTC = CATALOG.get(ExchangeId.BITGET, "BTCUSDT")

# https://www.bitget.com/api-doc/contract/market/Get-History-Candle-Data
# "Get Historical Candlestick", Response Example (weekly bars; base volume, then quote volume)
CANDLES = {
    "code": "00000",
    "msg": "success",
    "requestTime": 1695865864944,
    "data": [
        ["1687708800000", "27176.93", "27177.43", "27166.93", "27177.43", "2990.08", "81246917.3294"],
        ["1688313600000", "27177.43", "27177.43", "24000", "24001", "2989.1", "72450031.0448"],
    ],
}

# https://www.bitget.com/api-doc/contract/market/Get-History-Funding-Rate
# "Get Historical Funding Rates", Response Example (newest first)
FUNDING = {
    "code": "00000",
    "msg": "success",
    "requestTime": 1695796546319,
    "data": [
        {"symbol": "BTCUSDT", "fundingRate": "0.0005", "fundingTime": "1695776400000"},
        {"symbol": "BTCUSDT", "fundingRate": "0.000013", "fundingTime": "1695715200000"},
    ],
}


def _history() -> BitgetHistory:
    history = history_for(ExchangeId.BITGET, CATALOG)
    assert isinstance(history, BitgetHistory)
    history.clock_ns = lambda: NOW_NS
    return history


def test_candles_doc_example() -> None:
    first, second = _history().parse(What.KLINES, BTC, CANDLES, 7 * 86400, RECEIVED)
    assert isinstance(first, Candle)
    assert isinstance(second, Candle)
    assert first.exchange_ts == 1687708800000 * NS_PER_MS
    assert (first.open, first.high, first.low, first.close) == (
        Decimal("27176.93"),
        Decimal("27177.43"),
        Decimal("27166.93"),
        Decimal("27177.43"),
    )
    assert first.volume == Decimal("2990.08")  # base coin (USDT-M: contract size 1)
    assert first.notional == Decimal("81246917.3294")
    assert (second.low, second.close, second.volume) == (
        Decimal("24000"),
        Decimal("24001"),
        Decimal("2989.1"),
    )


def test_funding_doc_example_oldest_first() -> None:
    older, newer = _history().parse(What.FUNDING, BTC, FUNDING, 0, RECEIVED)
    assert isinstance(older, Funding)
    assert isinstance(newer, Funding)
    assert older.exchange_ts == 1695715200000 * NS_PER_MS
    assert older.rate == Decimal("0.000013")
    assert newer.rate == Decimal("0.0005")


def test_error_envelope_and_no_open_interest_history() -> None:
    history = _history()
    error = {"code": "40034", "msg": "Parameter symbol does not exist", "data": None}
    with pytest.raises(HistoryRejected, match="does not exist"):
        history.parse(What.KLINES, BTC, error, 60, RECEIVED)
    assert not history.offers(What.OI)
    assert_not_offered(ExchangeId.BITGET, What.OI, "current open interest")


def test_candle_requests_leave_room_for_one_bar_more_at_either_end() -> None:
    history = _history()
    assert history.span_ns(What.KLINES, 60) == 199 * MINUTE
    assert (
        history.span_ns(What.KLINES, 86400) == 90 * 86400 * NS_PER_S
    )  # "maximum time query range is 90 days"
    page = Window(1_700_000_040_000 * NS_PER_MS, 1_700_000_040_000 * NS_PER_MS + 199 * MINUTE)
    request = history.request(What.KLINES, BTC, page, 60)
    assert request.path == "/api/v2/mix/market/history-candles"
    assert request.params == {
        "symbol": "BTCUSDT",
        "productType": "USDT-FUTURES",
        "granularity": "1m",
        "startTime": str(page.start_ns // NS_PER_MS),
        "endTime": str(page.end_ns // NS_PER_MS),
        "limit": "200",
    }
    assert history.request(What.KLINES, BTC, page, 86400).params["granularity"] == "1Dutc"


def test_funding_page_holds_the_wanted_rows() -> None:
    assert funding_page(0, 30) == (1, 100)
    for newest in range(0, 20_000, 7):
        page_no, size = funding_page(newest, newest + 37)
        assert size <= 100
        assert (page_no - 1) * size <= newest
        assert newest + 37 <= page_no * size
    with pytest.raises(ValueError, match="no page of at most 100 rows"):
        funding_page(0, 101)


def test_funding_request_counts_back_from_the_latest_settlement() -> None:
    history = _history()
    latest = NOW_NS // (8 * HOUR)  # the latest 8 h settlement is row 0 of the newest-first list
    end = (latest - 99) * 8 * HOUR + 1
    request = history.request(What.FUNDING, BTC, Window(end - 12 * HOUR, end), 0)
    # The window holds rows 99 and 100; the page holds them with 12 rows of room either side.
    page_no, size = int(request.params["pageNo"]), int(request.params["pageSize"])
    assert size <= 100
    assert (page_no - 1) * size <= 99 - 12
    assert page_no * size >= 101 + 12


def test_a_funding_page_that_misses_its_window_is_an_error_not_a_gap() -> None:
    # The catalog says 4 h, the venue settles every 8 h: the page number lands twice as far back.
    history = _history()
    wrong = dataclasses.replace(BTC, funding_interval_s=4 * 3600)
    trip = round_trip(ExchangeId.BITGET)
    window = Window(NOW_NS - 30 * 86400 * NS_PER_S, NOW_NS - 30 * 86400 * NS_PER_S + 12 * HOUR)
    request = history.request(What.FUNDING, wrong, window, 0)
    reply = trip.endpoints.reply(HttpRequest("GET", request.path, request.params), NOW_NS)
    assert reply is not None
    with pytest.raises(HistoryRejected, match="does not span the window"):
        history.parse(What.FUNDING, wrong, orjson.loads(reply.body), 0, NOW_NS)


@pytest.mark.parametrize(
    ("what", "window", "step_s", "pages"),
    [
        (What.KLINES, Window(NOW_NS - 500 * MINUTE, NOW_NS), 60, 3),  # 199 + 199 + 102 bars
        (What.FUNDING, Window(NOW_NS - 20 * 86400 * NS_PER_S, NOW_NS), 8 * 3600, 40),  # 12 h a page
    ],
)
def test_round_trip_across_page_boundaries_without_gaps_or_duplicates(
    what: What, window: Window, step_s: int, pages: int
) -> None:
    trip = round_trip(ExchangeId.BITGET)
    trip.history = _history()
    planned, events = fetch(trip, "BTCUSDT", what, window)
    assert len(planned) == pages
    stamps = [e.exchange_ts for e in events]
    assert stamps == sorted(set(stamps))
    assert stamps[0] == -(-window.start_ns // (step_s * NS_PER_S)) * step_s * NS_PER_S
    assert stamps[-1] + step_s * NS_PER_S == window.end_ns
    assert {b - a for a, b in itertools.pairwise(stamps)} == {step_s * NS_PER_S}
