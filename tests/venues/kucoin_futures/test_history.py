"""KuCoin Futures history: parsers, requests, and a round trip with the simulator.

The funding payload is the example of "Get Public Funding History"; the klines page's example
could not be retrieved, so its rows follow the page's documented row layout ([time, open, high,
low, close, volume, turnover]) with hand-made, mutually consistent values.
"""

import itertools
from decimal import Decimal

import pytest

from schemas.common import ExchangeId
from schemas.market_data import Candle, Funding
from services.backfill.core.plan import NS_PER_MS, NS_PER_S, What, Window
from services.backfill.history import HistoryRejected, history_for
from services.instruments.catalog import Instrument, load_snapshot
from tests.backfill.history_roundtrip import (
    NOW_MS,
    assert_contiguous_minute_bars,
    assert_not_offered,
    fetch,
    round_trip,
)

RECEIVED = 1_700_000_000_000_000_000
CATALOG = load_snapshot()
HISTORY = history_for(ExchangeId.KUCOIN_FUTURES, CATALOG)
XBTUSDTM = CATALOG.get(ExchangeId.KUCOIN_FUTURES, "XBTUSDTM")  # a lot is 0.001 BTC
XBTUSDM = CATALOG.get(ExchangeId.KUCOIN_FUTURES, "XBTUSDM")  # inverse: a lot is 1 USD
MIDNIGHT_MS = 1_704_067_200_000

# www.kucoin.com/docs-new/rest/futures-trading/market-data/get-klines, row layout
KLINES = {
    "code": "200000",
    "data": [
        [MIDNIGHT_MS, 42283.5, 42300.0, 42283.0, 42299.5, 1223, 51721.89],
        [MIDNIGHT_MS + 60_000, 42299.5, 42310.1, 42290.0, 42301.2, 640, 27072.0],
    ],
}

# kucoin.com/docs/rest/futures-trading/funding-fees/get-public-funding-history, response example
FUNDING = {
    "success": True,
    "code": "200",
    "msg": "success",
    "retry": False,
    "data": [{"symbol": "IDUSDTM", "fundingRate": 0.018750, "timepoint": 1702310700000}],
}
IDUSDTM = Instrument(
    exchange=ExchangeId.KUCOIN_FUTURES,
    native_symbol="IDUSDTM",
    base="ID",
    quote="USDT",
    tick_size=Decimal("0.0001"),
    lot_size=Decimal(1),
    contract_size=Decimal(10),
    inverse=False,
    funding_interval_s=4 * 3600,
)


def test_klines_lots_become_base_units_and_turnover_the_notional() -> None:
    first, second = HISTORY.parse(What.KLINES, XBTUSDTM, KLINES, 60, RECEIVED)
    assert isinstance(first, Candle)
    assert isinstance(second, Candle)
    assert first.exchange_ts == MIDNIGHT_MS * NS_PER_MS
    assert (first.open, first.high, first.low, first.close) == (
        Decimal("42283.5"),
        Decimal("42300.0"),
        Decimal("42283.0"),
        Decimal("42299.5"),
    )
    assert first.volume == Decimal("1.223")  # 1223 lots x 0.001 BTC
    assert first.notional == Decimal("51721.89")
    assert second.volume == Decimal("0.640")
    assert second.exchange_ts - first.exchange_ts == 60 * NS_PER_S


def test_inverse_klines_convert_usd_lots_at_the_close() -> None:
    row = [MIDNIGHT_MS, 42283.5, 42300.0, 42283.0, 42299.5, 122300, 2.8914]
    [bar] = HISTORY.parse(What.KLINES, XBTUSDM, {"code": "200000", "data": [row]}, 60, RECEIVED)
    assert isinstance(bar, Candle)
    assert bar.volume == Decimal(122300) / Decimal("42299.5")
    assert bar.notional == Decimal(122300)


def test_funding_history_doc_example() -> None:
    [funding] = HISTORY.parse(What.FUNDING, IDUSDTM, FUNDING, 60, RECEIVED)
    assert isinstance(funding, Funding)
    assert funding.symbol == "ID-USDT-PERP"
    assert funding.rate == Decimal("0.01875")
    assert funding.exchange_ts == 1702310700000 * NS_PER_MS
    assert funding.interval_s == 4 * 3600  # the instrument's interval
    # The field table spells the time ``timePoint``: read as well.
    spelled = {**FUNDING, "data": [{"symbol": "IDUSDTM", "fundingRate": 0.01875, "timePoint": 1702310700000}]}
    assert HISTORY.parse(What.FUNDING, IDUSDTM, spelled, 60, RECEIVED) == [funding]


def test_an_error_code_is_rejected_with_its_message() -> None:
    with pytest.raises(HistoryRejected, match="Contract does not exist"):
        HISTORY.parse(What.KLINES, XBTUSDTM, {"code": "300000", "msg": "Contract does not exist"}, 60, 0)


def test_requests_stay_inside_500_bars_and_send_both_times() -> None:
    page = Window(MIDNIGHT_MS * NS_PER_MS, MIDNIGHT_MS * NS_PER_MS + HISTORY.span_ns(What.KLINES, 300))
    request = HISTORY.request(What.KLINES, XBTUSDTM, page, 300)
    assert request.path == "/api/v1/kline/query"
    assert request.params == {
        "symbol": "XBTUSDTM",
        "granularity": "5",
        "from": str(MIDNIGHT_MS),
        "to": str(MIDNIGHT_MS + 500 * 300_000 - 1),
    }
    funding = HISTORY.request(What.FUNDING, XBTUSDTM, Window(0, 3_600_000 * NS_PER_MS), 60)
    assert funding.path == "/api/v1/contract/funding-rates"
    assert set(funding.params) == {"symbol", "from", "to"}  # all three are required
    assert funding.weight == 5
    assert HISTORY.span_ns(What.FUNDING, 60) == 100 * 3600 * NS_PER_S


def test_open_interest_history_is_not_offered_and_says_so() -> None:
    assert not HISTORY.offers(What.OI)
    assert_not_offered(ExchangeId.KUCOIN_FUTURES, What.OI, "current open interest")


def test_round_trip_with_the_simulator_across_page_boundaries() -> None:
    trip = round_trip(ExchangeId.KUCOIN_FUTURES)
    minutes = 500 * 5 // 2  # 2.5 pages of 1-minute bars
    window = Window((NOW_MS - minutes * 60_000) * NS_PER_MS, NOW_MS * NS_PER_MS)
    pages, bars = fetch(trip, "XBTUSDTM", What.KLINES, window)
    assert len(pages) == 3
    assert_contiguous_minute_bars(bars, minutes)
    # Lots x 0.001 BTC, and the turnover is that volume at about the bar's price.
    last = bars[-1]
    assert isinstance(last, Candle)
    assert abs(last.notional / last.volume / last.close - 1) < Decimal("0.01")

    funding_window = Window((NOW_MS - 240 * 3_600_000) * NS_PER_MS, NOW_MS * NS_PER_MS)
    funding_pages, funding = fetch(trip, "XBTUSDTM", What.FUNDING, funding_window)
    assert len(funding_pages) == 3  # 100 hours a page
    times = [f.exchange_ts for f in funding]
    assert len(times) == 240 // 8 == len(set(times))
    assert all(b - a == 8 * 3600 * NS_PER_S for a, b in itertools.pairwise(times))
