"""Binance COIN-M's history parsers on the venue's documented example responses (doc section cited)."""

from decimal import Decimal

from schemas.common import ExchangeId
from schemas.market_data import Candle, Funding, OpenInterest
from services.backfill.core.plan import NS_PER_MS, What, Window
from services.backfill.history import history_for
from services.instruments.catalog import Instrument, load_snapshot

RECEIVED = 1_700_000_000_000_000_000
CATALOG = load_snapshot()


def _instrument(exchange: ExchangeId, native: str) -> Instrument:
    return CATALOG.get(exchange, native)


BINANCE_COINM_KLINES = [
    [
        1591258320000,
        "9640.7",
        "9642.4",
        "9640.6",
        "9642.0",
        "206",
        1591258379999,
        "2.13660389",
        48,
        "119",
        "1.23424865",
        "0",
    ]
]

# developers.binance.com/docs/derivatives/coin-margined-futures/market-data/rest-api/Open-Interest-Statistics
# "Response Example" (sumOpenInterest "unit: cont", sumOpenInterestValue "unit: base asset")
BINANCE_COINM_OI = [
    {
        "pair": "BTCUSD",
        "contractType": "CURRENT_QUARTER",
        "sumOpenInterest": "20403",
        "sumOpenInterestValue": "176196512.23400000",
        "timestamp": 1591261042378,
    },
    {
        "pair": "BTCUSD",
        "contractType": "CURRENT_QUARTER",
        "sumOpenInterest": "20401",
        "sumOpenInterestValue": "176178704.98700000",
        "timestamp": 1583128200000,
    },
]

# .../coin-margined-futures/market-data/rest-api/Get-Funding-Rate-History-of-Perpetual-Futures
# "Response Example" (no markPrice on COIN-M)
BINANCE_COINM_FUNDING = [
    {"symbol": "BTCUSD_PERP", "fundingTime": 1596038400000, "fundingRate": "-0.00300000"},
    {"symbol": "BTCUSD_PERP", "fundingTime": 1596067200000, "fundingRate": "-0.00300000"},
]


def test_binance_coinm_klines_doc_example_in_base_units() -> None:
    history = history_for(ExchangeId.BINANCE_COINM, CATALOG)
    btc = _instrument(ExchangeId.BINANCE_COINM, "BTCUSD_PERP")  # 100 USD a contract
    [bar] = history.parse(What.KLINES, btc, BINANCE_COINM_KLINES, 60, RECEIVED)
    assert isinstance(bar, Candle)
    assert bar.close == Decimal("9642.0")
    assert bar.volume == Decimal("2.13660389")
    assert bar.buy_volume == Decimal("1.23424865")
    assert bar.notional == Decimal(206) * Decimal(100)  # contracts x USD per contract
    assert bar.trade_count == 48


def test_binance_coinm_open_interest_doc_example_and_request() -> None:
    history = history_for(ExchangeId.BINANCE_COINM, CATALOG)
    btc = _instrument(ExchangeId.BINANCE_COINM, "BTCUSD_PERP")
    oi, second = history.parse(What.OI, btc, BINANCE_COINM_OI, 300, RECEIVED)
    assert isinstance(oi, OpenInterest)
    assert isinstance(second, OpenInterest)
    assert oi.open_interest == Decimal("176196512.23400000")
    assert oi.open_interest_notional == Decimal(20403) * Decimal(100)
    assert second.open_interest == Decimal("176178704.98700000")
    assert second.exchange_ts == 1583128200000 * NS_PER_MS
    request = history.request(What.OI, btc, Window(0, 300 * 10**9), 60)
    assert request.path == "/futures/data/openInterestHist"
    assert request.params["pair"] == "BTCUSD"
    assert request.params["contractType"] == "PERPETUAL"
    assert "symbol" not in request.params


def test_binance_coinm_funding_doc_example_has_no_mark_price() -> None:
    history = history_for(ExchangeId.BINANCE_COINM, CATALOG)
    btc = _instrument(ExchangeId.BINANCE_COINM, "BTCUSD_PERP")
    first, second = history.parse(What.FUNDING, btc, BINANCE_COINM_FUNDING, 60, RECEIVED)
    assert isinstance(first, Funding)
    assert isinstance(second, Funding)
    assert first.exchange_ts == 1596038400000 * NS_PER_MS
    assert first.rate == second.rate == Decimal("-0.00300000")
    assert first.mark_price is None
    assert second.exchange_ts - first.exchange_ts == 8 * 3600 * 10**9
