"""OKX history: the documented example answers, the requests' cursors and limits, and a round
trip through the simulator's OKX endpoints across page boundaries."""

import itertools
from decimal import Decimal

import orjson
import pytest

from schemas.common import ExchangeId
from schemas.market_data import Candle, Funding, OpenInterest
from services.backfill.core.plan import NS_PER_MS, NS_PER_S, What, Window
from services.backfill.history import HistoryRejected, history_for
from services.simulator.dialect import HttpRequest
from tests.backfill.history_roundtrip import CATALOG, NOW_NS, fetch, round_trip

RECEIVED = 1_700_000_000_000_000_000
MINUTE = 60 * NS_PER_S
HISTORY = history_for(ExchangeId.OKX, CATALOG)
BTC_USDT = CATALOG.get(ExchangeId.OKX, "BTC-USDT-SWAP")  # 0.01 BTC a contract
BTC_USD = CATALOG.get(ExchangeId.OKX, "BTC-USD-SWAP")  # 100 USD a contract

# https://www.okx.com/docs-v5/en/#order-book-trading-market-data-get-candlesticks-history
# "GET / Candlesticks history", Response Example
CANDLES = {
    "code": "0",
    "msg": "",
    "data": [
        ["1597026383085", "3.721", "3.743", "3.677", "3.708", "8422410", "22698348.04828491", "12698348.04828491", "1"],
        ["1597026383085", "3.731", "3.799", "3.494", "3.72", "24912403", "67632347.24399722", "37632347.24399722", "1"],
    ],
}  # fmt: skip

# https://www.okx.com/docs-v5/en/#public-data-rest-api-get-funding-rate-history
# "Get funding rate history", Response Example (BTC-USD-SWAP, newest first)
FUNDING = {
    "code": "0",
    "msg": "",
    "data": [
        {
            "formulaType": "noRate",
            "fundingRate": "0.0000746604960499",
            "fundingTime": "1703059200000",
            "instId": "BTC-USD-SWAP",
            "instType": "SWAP",
            "method": "next_period",
            "realizedRate": "0.0000746572360545",
        },
        {
            "formulaType": "noRate",
            "fundingRate": "0.000227985782722",
            "fundingTime": "1703030400000",
            "instId": "BTC-USD-SWAP",
            "instType": "SWAP",
            "method": "next_period",
            "realizedRate": "0.0002279755647389",
        },
    ],
}

# https://www.okx.com/docs-v5/en/#trading-statistics-rest-api-get-contract-open-interest-history
# "Get contract open interest history", Response example: [ts, oi (contracts), oiCcy (coin), oiUsd]
OPEN_INTEREST = {
    "code": "0",
    "msg": "",
    "data": [
        ["1701417600000", "731377.57500501", "111", "8888888"],
        ["1701417500000", "731377.57500501", "111", "8888888"],
    ],
}


def test_candles_doc_example_in_base_and_quote_units() -> None:
    first, second = HISTORY.parse(What.KLINES, BTC_USDT, CANDLES, 60, RECEIVED)
    assert isinstance(first, Candle)
    assert isinstance(second, Candle)
    assert first.source == "venue"
    assert first.exchange_ts == 1597026383085 * NS_PER_MS
    assert (first.open, first.high, first.low, first.close) == (
        Decimal("3.721"),
        Decimal("3.743"),
        Decimal("3.677"),
        Decimal("3.708"),
    )
    # vol is contracts; volCcy is the base currency, volCcyQuote the quote currency.
    assert first.volume == Decimal("22698348.04828491")
    assert first.notional == Decimal("12698348.04828491")
    assert second.volume == Decimal("67632347.24399722")
    assert second.notional == Decimal("37632347.24399722")


def test_an_uncompleted_candle_is_not_history() -> None:
    forming = {**CANDLES, "data": [[*CANDLES["data"][0][:8], "0"]]}
    assert HISTORY.parse(What.KLINES, BTC_USDT, forming, 60, RECEIVED) == []


def test_the_older_eight_item_layout_estimates_the_notional() -> None:
    # An older copy of the page describes [ts, o, h, l, c, vol, volCcy, confirm] (no volCcyQuote).
    row = ["1597026383085", "3.721", "3.743", "3.677", "3.708", "8422410", "22698348.04828491", "1"]
    [bar] = HISTORY.parse(What.KLINES, BTC_USDT, {**CANDLES, "data": [row]}, 60, RECEIVED)
    assert isinstance(bar, Candle)
    assert bar.volume == Decimal("22698348.04828491")
    assert bar.notional == Decimal("22698348.04828491") * Decimal("3.708")


def test_funding_doc_example_uses_the_realized_rate_oldest_first() -> None:
    older, newer = HISTORY.parse(What.FUNDING, BTC_USD, FUNDING, 0, RECEIVED)
    assert isinstance(older, Funding)
    assert isinstance(newer, Funding)
    assert older.exchange_ts == 1703030400000 * NS_PER_MS
    assert older.rate == Decimal("0.0002279755647389")
    assert newer.rate == Decimal("0.0000746572360545")
    assert newer.interval_s == 8 * 3600


def test_open_interest_doc_example_linear_and_inverse() -> None:
    older, _ = HISTORY.parse(What.OI, BTC_USDT, OPEN_INTEREST, 300, RECEIVED)
    assert isinstance(older, OpenInterest)
    assert older.exchange_ts == 1701417500000 * NS_PER_MS
    assert older.open_interest == Decimal("111")  # oiCcy: coin
    assert older.open_interest_notional is None  # oiUsd is USD, not the USDT quote
    [_, inverse] = HISTORY.parse(What.OI, BTC_USD, OPEN_INTEREST, 300, RECEIVED)
    assert isinstance(inverse, OpenInterest)
    assert inverse.open_interest == Decimal("111")
    assert inverse.open_interest_notional == Decimal("731377.57500501") * 100  # contracts x 100 USD


def test_error_envelope_is_rejected_with_its_message() -> None:
    error = {"code": "51001", "msg": "Instrument ID does not exist.", "data": []}
    with pytest.raises(HistoryRejected, match="does not exist"):
        HISTORY.parse(What.KLINES, BTC_USDT, error, 60, RECEIVED)


def test_requests_use_exclusive_cursors_and_the_page_limits() -> None:
    page = Window(
        1_700_000_040_000 * NS_PER_MS, 1_700_000_040_000 * NS_PER_MS + HISTORY.span_ns(What.KLINES, 60)
    )
    candles = HISTORY.request(What.KLINES, BTC_USDT, page, 60)
    assert candles.path == "/api/v5/market/history-candles"
    assert candles.params == {
        "instId": "BTC-USDT-SWAP",
        "bar": "1m",
        "after": str(page.end_ns // NS_PER_MS),
        "before": str(page.start_ns // NS_PER_MS - 1),
        "limit": "100",
    }
    assert HISTORY.request(What.KLINES, BTC_USDT, page, 86400).params["bar"] == "1Dutc"  # UTC day lines
    funding = HISTORY.request(What.FUNDING, BTC_USDT, page, 60)
    assert (funding.params["limit"], funding.weight) == ("100", 2)  # 10 calls / 2 s of the 20
    oi = HISTORY.request(What.OI, BTC_USDT, page, 300)
    assert oi.params["period"] == "5m"
    assert (oi.params["end"], oi.params["begin"]) == (candles.params["after"], candles.params["before"])
    assert HISTORY.record_interval_s(What.OI, 60) == 300
    assert HISTORY.max_age_s(What.OI, 3600) == 1440 * 3600  # the latest 1,440 entries
    assert HISTORY.max_age_s(What.FUNDING, 60) == 90 * 86400


def test_simulator_refuses_a_limit_above_300_and_serves_newest_first() -> None:
    trip = round_trip(ExchangeId.OKX)
    query = {"instId": "BTC-USDT-SWAP", "bar": "1m", "limit": "301"}
    refused = trip.endpoints.reply(HttpRequest("GET", "/api/v5/market/history-candles", query), NOW_NS)
    assert refused is not None
    assert refused.status == 400
    reply = trip.endpoints.reply(
        HttpRequest("GET", "/api/v5/market/history-candles", {**query, "limit": "5"}), NOW_NS
    )
    assert reply is not None
    starts = [int(row[0]) for row in orjson.loads(reply.body)["data"]]
    assert starts == sorted(starts, reverse=True)


@pytest.mark.parametrize(
    ("what", "window", "interval_s", "step_s", "pages"),
    [
        (What.KLINES, Window(NOW_NS - 250 * MINUTE, NOW_NS), 60, 60, 3),  # 100 + 100 + 50 bars
        (What.FUNDING, Window(NOW_NS - 30 * 86400 * NS_PER_S, NOW_NS), 60, 8 * 3600, 8),  # 100 h a page
        (What.OI, Window(NOW_NS - 1000 * 5 * MINUTE, NOW_NS), 300, 300, 10),
    ],
)
def test_round_trip_across_page_boundaries_without_gaps_or_duplicates(
    what: What, window: Window, interval_s: int, step_s: int, pages: int
) -> None:
    trip = round_trip(ExchangeId.OKX)
    planned, events = fetch(trip, "BTC-USDT-SWAP", what, window, interval_s)
    assert len(planned) == pages
    stamps = [e.exchange_ts for e in events]
    assert stamps == sorted(set(stamps))
    assert stamps[0] == -(-window.start_ns // (step_s * NS_PER_S)) * step_s * NS_PER_S
    assert stamps[-1] + step_s * NS_PER_S == window.end_ns
    assert {b - a for a, b in itertools.pairwise(stamps)} == {step_s * NS_PER_S}
    assert all(int(r.query.get("limit", "0")) <= 100 for r in trip.requests)
