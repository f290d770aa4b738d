"""Gate.io history: the documented example answers in base units, the requests' from / to, and a
round trip through the simulator's Gate.io endpoints across page boundaries."""

import itertools
from decimal import Decimal

import orjson
import pytest

from schemas.common import ExchangeId
from schemas.market_data import Candle, Funding, OpenInterest
from services.backfill.core.plan import NS_PER_S, What, Window
from services.backfill.history import HistoryRejected, history_for
from services.simulator.dialect import HttpRequest
from tests.backfill.history_roundtrip import CATALOG, NOW_NS, fetch, round_trip

RECEIVED = 1_700_000_000_000_000_000
MINUTE = 60 * NS_PER_S
HISTORY = history_for(ExchangeId.GATEIO, CATALOG)
BTC = CATALOG.get(ExchangeId.GATEIO, "BTC_USDT")  # quanto_multiplier 0.0001 BTC a contract

# https://www.gate.com/docs/developers/apiv4/en/#futures-market-k-line-chart
# "Futures market K-line chart", Example responses (v in contracts, sum in quote currency)
CANDLES = [
    {"t": 1539852480, "v": "97151", "c": "1.032", "h": "1.032", "l": "1.032", "o": "1.032", "sum": "3580"}
]

# https://www.gate.com/docs/developers/apiv4/en/#futures-market-historical-funding-rate
# "Futures market historical funding rate", Example responses
FUNDING = [{"t": 1543968000, "r": "0.000157"}]

# https://www.gate.com/docs/developers/apiv4/en/#futures-statistics
# "Futures statistics", Example responses (open_interest in contracts, open_interest_usd in quote)
STATS = [
    {
        "time": 1603865400,
        "lsr_taker": 100,
        "lsr_account": 0.5,
        "long_liq_size": "0",
        "short_liq_size": "0",
        "open_interest": "124724",
        "short_liq_usd": 0,
        "mark_price": "8865",
        "top_lsr_size": "1.02",
        "short_liq_amount": 0,
        "long_liq_amount": 0,
        "open_interest_usd": 1511,
        "top_lsr_account": 1.5,
        "long_liq_usd": 0,
    }
]


def test_candles_doc_example_contracts_to_base_units() -> None:
    [bar] = HISTORY.parse(What.KLINES, BTC, CANDLES, 60, RECEIVED)
    assert isinstance(bar, Candle)
    assert bar.exchange_ts == 1539852480 * NS_PER_S
    assert bar.close_ts == (1539852480 + 60) * NS_PER_S
    assert (bar.open, bar.high, bar.low, bar.close) == (Decimal("1.032"),) * 4
    assert bar.volume == Decimal("9.7151")  # 97151 contracts x 0.0001 BTC
    assert bar.notional == Decimal("3580")
    assert bar.trade_count == 0


def test_funding_doc_example() -> None:
    [funding] = HISTORY.parse(What.FUNDING, BTC, FUNDING, 0, RECEIVED)
    assert isinstance(funding, Funding)
    assert funding.exchange_ts == 1543968000 * NS_PER_S
    assert funding.rate == Decimal("0.000157")
    assert funding.next_funding_ts == (1543968000 + 8 * 3600) * NS_PER_S


def test_contract_stats_doc_example_open_interest_in_base_units() -> None:
    [oi] = HISTORY.parse(What.OI, BTC, STATS, 300, RECEIVED)
    assert isinstance(oi, OpenInterest)
    assert oi.exchange_ts == 1603865400 * NS_PER_S
    assert oi.open_interest == Decimal("12.4724")  # 124724 contracts x 0.0001 BTC
    assert oi.open_interest_notional == Decimal("1511")


def test_error_answer_is_rejected_with_its_label() -> None:
    error = {"label": "INVALID_PARAM_VALUE", "message": "Candlestick too long, maximum 2000 points"}
    with pytest.raises(HistoryRejected, match="INVALID_PARAM_VALUE"):
        HISTORY.parse(What.KLINES, BTC, error, 60, RECEIVED)


def test_requests_send_from_and_to_in_seconds_and_no_limit_with_them() -> None:
    start = 1_700_000_040 * NS_PER_S
    page = Window(start, start + HISTORY.span_ns(What.KLINES, 60))
    candles = HISTORY.request(What.KLINES, BTC, page, 60)
    assert candles.path == "/api/v4/futures/usdt/candlesticks"
    # limit conflicts with from / to; [from, to] holds the page's 2000 bars.
    assert candles.params == {
        "contract": "BTC_USDT",
        "interval": "1m",
        "from": "1700000040",
        "to": str(1_700_000_040 + 1999 * 60),
    }
    funding = HISTORY.request(What.FUNDING, BTC, Window(start, start + HISTORY.span_ns(What.FUNDING, 0)), 0)
    assert funding.params == {
        "contract": "BTC_USDT",
        "from": "1700000040",
        "to": str(1_700_000_040 + 100 * 3600 - 1),
        "limit": "100",
    }
    stats = HISTORY.request(What.OI, BTC, Window(start, start + HISTORY.span_ns(What.OI, 300)), 300)
    assert stats.params == {
        "contract": "BTC_USDT",
        "interval": "5m",
        "from": "1700000040",
        "to": str(1_700_000_040 + 29 * 300),
        "limit": "30",
    }


def test_simulator_refuses_more_than_2000_points_and_limit_with_from() -> None:
    trip = round_trip(ExchangeId.GATEIO)
    path = "/api/v4/futures/usdt/candlesticks"
    now_s = NOW_NS // NS_PER_S
    too_long = {"contract": "BTC_USDT", "interval": "1m", "from": str(now_s - 2000 * 60), "to": str(now_s)}
    reply = trip.endpoints.reply(HttpRequest("GET", path, too_long), NOW_NS)
    assert reply is not None
    assert reply.status == 400
    assert orjson.loads(reply.body)["label"] == "INVALID_PARAM_VALUE"
    both = {"contract": "BTC_USDT", "interval": "1m", "from": str(now_s - 60), "limit": "1"}
    conflict = trip.endpoints.reply(HttpRequest("GET", path, both), NOW_NS)
    assert conflict is not None
    assert conflict.status == 400


@pytest.mark.parametrize(
    ("what", "window", "interval_s", "step_s", "pages"),
    [
        (What.KLINES, Window(NOW_NS - 4500 * MINUTE, NOW_NS), 60, 60, 3),  # 2000 + 2000 + 500 bars
        (What.FUNDING, Window(NOW_NS - 30 * 86400 * NS_PER_S, NOW_NS), 60, 8 * 3600, 8),  # 100 h a page
        (What.OI, Window(NOW_NS - 75 * 5 * MINUTE, NOW_NS), 300, 300, 3),  # 30 + 30 + 15 periods
    ],
)
def test_round_trip_across_page_boundaries_without_gaps_or_duplicates(
    what: What, window: Window, interval_s: int, step_s: int, pages: int
) -> None:
    trip = round_trip(ExchangeId.GATEIO)
    planned, events = fetch(trip, "BTC_USDT", what, window, interval_s)
    assert len(planned) == pages
    stamps = [e.exchange_ts for e in events]
    assert stamps == sorted(set(stamps))
    assert stamps[0] == -(-window.start_ns // (step_s * NS_PER_S)) * step_s * NS_PER_S
    assert stamps[-1] + step_s * NS_PER_S == window.end_ns
    assert {b - a for a, b in itertools.pairwise(stamps)} == {step_s * NS_PER_S}
