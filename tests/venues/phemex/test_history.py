"""Phemex history: parsers on the documented examples, requests, and a round trip with the simulator."""

import itertools
from decimal import Decimal

import pytest

from schemas.common import ExchangeId
from schemas.market_data import Candle, Funding
from services.backfill.core.plan import NS_PER_MS, NS_PER_S, What, Window
from services.backfill.history import HistoryRejected, history_for
from services.instruments.catalog import Instrument, load_snapshot
from services.simulator.dialect import HttpRequest
from services.venues.phemex.history import OTHERS_WEIGHT, funding_symbol
from tests.backfill.history_roundtrip import NOW_NS, assert_not_offered, fetch, round_trip

RECEIVED = 1_700_000_000_000_000_000
CATALOG = load_snapshot()
HISTORY = history_for(ExchangeId.PHEMEX, CATALOG)
BTC = CATALOG.get(ExchangeId.PHEMEX, "BTCUSDT")  # hedged: real values, sizes in BTC
MINUTE = 60 * NS_PER_S

# The funding example is for ETHUSDT, a hedged contract the snapshot does not list.
ETH = Instrument(
    exchange=ExchangeId.PHEMEX,
    native_symbol="ETHUSDT",
    base="ETH",
    quote="USDT",
    tick_size=Decimal("0.01"),
    lot_size=Decimal("0.01"),
    contract_size=Decimal(1),
    inverse=False,
)

# phemex-docs.github.io, "Hedged Contract Rest API" > "Query funding rate history", Response sample
FUNDING = {
    "code": 0,
    "msg": "OK",
    "data": {
        "rows": [
            {
                "symbol": ".ETHUSDTFR8H",
                "fundingRate": "0.0001",
                "fundingTime": 1680768000000,
                "intervalSeconds": 28800,
            },
            {
                "symbol": ".ETHUSDTFR8H",
                "fundingRate": "0.0001",
                "fundingTime": 1680796800000,
                "intervalSeconds": 28800,
            },
        ]
    },
}

# phemex-docs.github.io, "Hedged Contract Rest API" > "Query kline": the page gives the row layout
# ``[timestamp, interval, last_close, open, high, low, close, volume, turnover]`` and no example
# with numbers; these values are made up in that layout (real values, as hedged contracts write).
KLINES = {
    "code": 0,
    "msg": "OK",
    "data": {
        "total": -1,
        "rows": [
            [1666860000, 60, "20700.1", "20700.5", "20712.3", "20698.0", "20705.9", "1.25", "25882.375"]
        ],
    },
}


def test_funding_doc_example() -> None:
    first, second = HISTORY.parse(What.FUNDING, ETH, FUNDING, 60, RECEIVED)
    assert isinstance(first, Funding)
    assert isinstance(second, Funding)
    assert first.exchange_ts == 1680768000000 * NS_PER_MS
    assert second.exchange_ts == 1680796800000 * NS_PER_MS
    assert first.rate == second.rate == Decimal("0.0001")
    assert first.interval_s == 28800
    assert first.next_funding_ts == second.exchange_ts
    assert funding_symbol("ETHUSDT") == ".ETHUSDTFR8H"  # the example's symbol for ETHUSDT


def test_kline_row_layout_in_real_values() -> None:
    [bar] = HISTORY.parse(What.KLINES, BTC, KLINES, 60, RECEIVED)
    assert isinstance(bar, Candle)
    assert bar.exchange_ts == 1666860000 * NS_PER_S
    assert (bar.open, bar.high, bar.low, bar.close) == (
        Decimal("20700.5"),
        Decimal("20712.3"),
        Decimal("20698.0"),
        Decimal("20705.9"),
    )
    assert bar.volume == Decimal("1.25")
    assert bar.notional == Decimal("25882.375")


def test_error_envelope_is_rejected_with_its_message() -> None:
    with pytest.raises(HistoryRejected, match="invalid symbol"):
        HISTORY.parse(What.FUNDING, BTC, {"code": 1, "msg": "invalid symbol", "data": None}, 60, 0)


def test_requests_follow_the_documented_units_and_limits() -> None:
    page = Window(1_700_000_040 * NS_PER_S, 1_700_000_040 * NS_PER_S + HISTORY.span_ns(What.KLINES, 60))
    klines = HISTORY.request(What.KLINES, BTC, page, 60)
    assert klines.path == "/exchange/public/md/v2/kline/list"
    assert klines.params == {
        "symbol": "BTCUSDT",
        "resolution": "60",
        "from": "1700000040",
        "to": str(1_700_000_040 + 1000 * 60),  # [from, to): 1000 bars, under the 2000 limit
    }
    assert klines.weight == OTHERS_WEIGHT
    funding_page = Window(0, HISTORY.span_ns(What.FUNDING, 60))
    funding = HISTORY.request(What.FUNDING, BTC, funding_page, 60)
    assert funding.path == "/api-data/public/data/funding-rate-history"
    assert funding.params == {
        "symbol": ".BTCUSDTFR8H",
        "start": "0",
        "end": str(100 * 3600 * 1000 - 1),  # both ends inclusive
        "limit": "100",
    }


def test_legacy_contracts_are_not_covered_and_say_why() -> None:
    for native in ("BTCUSD", "ETHUSD"):  # Ep-scaled legacy contracts
        legacy = CATALOG.get(ExchangeId.PHEMEX, native)
        for what in (What.KLINES, What.FUNDING):
            assert "legacy (Ep-scaled)" in (HISTORY.not_covered(what, legacy) or "")
    assert HISTORY.not_covered(What.KLINES, BTC) is None


def test_open_interest_history_is_not_offered_and_says_so() -> None:
    assert not HISTORY.offers(What.OI)
    assert_not_offered(ExchangeId.PHEMEX, What.OI, "openInterestRv")


def test_round_trip_with_the_simulator_across_page_boundaries() -> None:
    trip = round_trip(ExchangeId.PHEMEX)
    minutes = 2500
    pages, bars = fetch(trip, "BTCUSDT", What.KLINES, Window(NOW_NS - minutes * MINUTE, NOW_NS))
    assert len(pages) == 3
    opens = [b.exchange_ts for b in bars]
    assert len(opens) == minutes == len(set(opens))
    assert {b - a for a, b in itertools.pairwise(opens)} == {MINUTE}
    # Funding: 100-settlement pages of 1-hour spacing over 20 days of 8-hour settlements.
    funding_pages, funding = fetch(
        trip, "BTCUSDT", What.FUNDING, Window(NOW_NS - 20 * 86400 * NS_PER_S, NOW_NS)
    )
    assert len(funding_pages) == 5
    times = [f.exchange_ts for f in funding]
    assert len(times) == 60 == len(set(times))
    assert {b - a for a, b in itertools.pairwise(times)} == {8 * 3600 * NS_PER_S}
    # The simulator refuses a range of 2000 bars or more, as the venue documents.
    too_many = {"symbol": "BTCUSDT", "resolution": "60", "from": "0", "to": str(2000 * 60)}
    reply = trip.endpoints.reply(HttpRequest("GET", "/exchange/public/md/v2/kline/list", too_many), NOW_NS)
    assert reply is not None
    assert reply.body.startswith(b'{"code":1')
