"""Binance USD-M's history parsers on the venue's documented example responses (doc section cited)."""

from decimal import Decimal

from schemas.common import ExchangeId
from schemas.market_data import Candle, Funding, OpenInterest
from services.backfill.core.plan import NS_PER_MS, What, Window
from services.backfill.history import history_for
from services.instruments.catalog import Instrument, load_snapshot
from services.venues.binance_usdm.history import kline_weight

RECEIVED = 1_700_000_000_000_000_000
CATALOG = load_snapshot()


def _instrument(exchange: ExchangeId, native: str) -> Instrument:
    return CATALOG.get(exchange, native)


# --- Binance USD-M ---------------------------------------------------------------------------------

# developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Kline-Candlestick-Data
# "Response Example"
BINANCE_KLINES = [
    [
        1499040000000,
        "0.01634790",
        "0.80000000",
        "0.01575800",
        "0.01577100",
        "148976.11427815",
        1499644799999,
        "2434.19055334",
        308,
        "1756.87402397",
        "28.46694368",
        "17928899.62484339",
    ]
]

# .../rest-api/Get-Funding-Rate-History "Response Example"
BINANCE_FUNDING = [
    {
        "symbol": "BTCUSDT",
        "fundingRate": "-0.03750000",
        "fundingTime": 1570608000000,
        "markPrice": "34287.54619963",
    },
    {
        "symbol": "BTCUSDT",
        "fundingRate": "0.00010000",
        "fundingTime": 1570636800000,
        "markPrice": "34287.54619963",
    },
]

# .../rest-api/Open-Interest-Statistics "Response Example", as the page shows it now (timestamps as
# strings; CMCCirculatingSupply, "circulating supply provided by CMC", was added after the first
# version of the page and is not read)
BINANCE_OI = [
    {
        "symbol": "BTCUSDT",
        "sumOpenInterest": "20403.63700000",
        "sumOpenInterestValue": "150570784.07809979",
        "CMCCirculatingSupply": "165880.538",
        "timestamp": "1583127900000",
    },
    {
        "symbol": "BTCUSDT",
        "sumOpenInterest": "20401.36700000",
        "sumOpenInterestValue": "149940752.14464448",
        "CMCCirculatingSupply": "165900.14853",
        "timestamp": "1583128200000",
    },
]


def test_binance_klines_doc_example() -> None:
    history = history_for(ExchangeId.BINANCE_USDM, CATALOG)
    btc = _instrument(ExchangeId.BINANCE_USDM, "BTCUSDT")
    # The example is a 1w bar of the docs' ETHBTC; read as 1 m bars of BTCUSDT, field by field.
    [bar] = history.parse(What.KLINES, btc, BINANCE_KLINES, 60, RECEIVED)
    assert isinstance(bar, Candle)
    assert bar.source == "venue"
    assert bar.closed
    assert bar.interval_s == 60
    assert bar.exchange_ts == 1499040000000 * NS_PER_MS
    assert (bar.open, bar.high, bar.low, bar.close) == (
        Decimal("0.01634790"),
        Decimal("0.80000000"),
        Decimal("0.01575800"),
        Decimal("0.01577100"),
    )
    assert bar.volume == Decimal("148976.11427815")
    assert bar.notional == Decimal("2434.19055334")
    assert bar.trade_count == 308
    assert bar.buy_volume == Decimal("1756.87402397")
    assert bar.sell_volume == Decimal("148976.11427815") - Decimal("1756.87402397")


def test_binance_funding_doc_example() -> None:
    history = history_for(ExchangeId.BINANCE_USDM, CATALOG)
    btc = _instrument(ExchangeId.BINANCE_USDM, "BTCUSDT")
    first, second = history.parse(What.FUNDING, btc, BINANCE_FUNDING, 60, RECEIVED)
    assert isinstance(first, Funding)
    assert isinstance(second, Funding)
    assert first.rate == Decimal("-0.03750000")
    assert first.exchange_ts == 1570608000000 * NS_PER_MS
    assert first.next_funding_ts == first.exchange_ts + 8 * 3600 * 10**9
    assert first.mark_price == Decimal("34287.54619963")
    assert second.rate == Decimal("0.00010000")


def test_binance_open_interest_doc_example() -> None:
    history = history_for(ExchangeId.BINANCE_USDM, CATALOG)
    btc = _instrument(ExchangeId.BINANCE_USDM, "BTCUSDT")
    first, second = history.parse(What.OI, btc, BINANCE_OI, 300, RECEIVED)
    assert isinstance(first, OpenInterest)
    assert isinstance(second, OpenInterest)
    assert first.open_interest == Decimal("20403.63700000")
    assert first.open_interest_notional == Decimal("150570784.07809979")
    assert second.exchange_ts - first.exchange_ts == 300 * 10**9


def test_binance_requests_follow_the_documented_limits() -> None:
    history = history_for(ExchangeId.BINANCE_USDM, CATALOG)
    btc = _instrument(ExchangeId.BINANCE_USDM, "BTCUSDT")
    page = Window(0, history.span_ns(What.KLINES, 60))
    request = history.request(What.KLINES, btc, page, 60)
    assert request.params["limit"] == "1500"
    assert request.params["endTime"] == str(page.end_ns // NS_PER_MS - 1)
    assert request.weight == 10
    assert kline_weight(499) == 2
    assert kline_weight(1000) == 5
    assert history.record_interval_s(What.OI, 60) == 300  # the finest documented OI period
    assert history.span_ns(What.OI, 60) == 500 * 300 * 10**9


# --- Bybit -----------------------------------------------------------------------------------------

# bybit-exchange.github.io/docs/v5/market/kline "Response Example" (inverse BTCUSD, newest first)
