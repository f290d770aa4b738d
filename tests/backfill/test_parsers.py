"""Each venue's history parsers on the venue's documented example responses (doc section cited).

The examples are copied from the venues' API pages; where a page's example is for a symbol
perpwatch does not list (Bybit's inverse BTCUSD), the test builds that instrument itself.
"""

from decimal import Decimal

import pytest

from schemas.common import ExchangeId
from schemas.market_data import Candle, Funding, OpenInterest
from services.backfill.core.plan import NS_PER_MS, What, Window
from services.backfill.venues import HistoryRejected, capability_table, history_for
from services.backfill.venues.binance_usdm import kline_weight
from services.instruments.catalog import Instrument, load_snapshot

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
BYBIT_KLINES = {
    "retCode": 0,
    "retMsg": "OK",
    "result": {
        "symbol": "BTCUSD",
        "category": "inverse",
        "list": [
            ["1670608800000", "17071", "17073", "17027", "17055.5", "268611", "15.74462667"],
            ["1670605200000", "17071.5", "17071.5", "17061", "17071", "4177", "0.24469757"],
            ["1670601600000", "17086.5", "17088", "16978", "17071.5", "6356", "0.37288112"],
        ],
    },
    "retExtInfo": {},
    "time": 1672025956592,
}

# .../v5/market/history-fund-rate "Response Example"
BYBIT_FUNDING = {
    "retCode": 0,
    "retMsg": "OK",
    "result": {
        "category": "linear",
        "list": [{"symbol": "ETHPERP", "fundingRate": "0.0001", "fundingRateTimestamp": "1672041600000"}],
    },
    "retExtInfo": {},
    "time": 1672051897447,
}

# .../v5/market/open-interest "Response Example" (inverse BTCUSD)
BYBIT_OI = {
    "retCode": 0,
    "retMsg": "OK",
    "result": {
        "symbol": "BTCUSD",
        "category": "inverse",
        "list": [
            {"openInterest": "461134384.00000000", "timestamp": "1669571400000"},
            {"openInterest": "461134292.00000000", "timestamp": "1669571100000"},
        ],
        "nextPageCursor": "",
    },
    "retExtInfo": {},
    "time": 1672053548579,
}

BYBIT_INVERSE_BTCUSD = Instrument(
    exchange=ExchangeId.BYBIT,
    native_symbol="BTCUSD",
    base="BTC",
    quote="USD",
    tick_size=Decimal("0.5"),
    lot_size=Decimal(1),
    contract_size=Decimal(1),
    inverse=True,
)


def test_bybit_klines_doc_example_oldest_first_inverse_units() -> None:
    history = history_for(ExchangeId.BYBIT, CATALOG)
    bars = history.parse(What.KLINES, BYBIT_INVERSE_BTCUSD, BYBIT_KLINES, 3600, RECEIVED)
    assert [b.exchange_ts // NS_PER_MS for b in bars] == [1670601600000, 1670605200000, 1670608800000]
    newest = bars[-1]
    assert isinstance(newest, Candle)
    assert (newest.open, newest.high, newest.low, newest.close) == (
        Decimal("17071"),
        Decimal("17073"),
        Decimal("17027"),
        Decimal("17055.5"),
    )
    # Inverse: volume is USD contracts (the notional), turnover is the base coin.
    assert newest.volume == Decimal("15.74462667")
    assert newest.notional == Decimal("268611")


def test_bybit_funding_doc_example() -> None:
    history = history_for(ExchangeId.BYBIT, CATALOG)
    eth = CATALOG.get(ExchangeId.BYBIT, "ETHPERP")  # derived by the naming rules: a USDC perpetual
    [funding] = history.parse(What.FUNDING, eth, BYBIT_FUNDING, 60, RECEIVED)
    assert isinstance(funding, Funding)
    assert funding.rate == Decimal("0.0001")
    assert funding.exchange_ts == 1672041600000 * NS_PER_MS
    assert funding.symbol == "ETH-USDC-PERP"


def test_bybit_open_interest_doc_example() -> None:
    history = history_for(ExchangeId.BYBIT, CATALOG)
    # Linear: the same rows are base units, returned oldest first.
    btc = _instrument(ExchangeId.BYBIT, "BTCUSDT")
    older, newer = history.parse(What.OI, btc, BYBIT_OI, 300, RECEIVED)
    assert isinstance(older, OpenInterest)
    assert older.open_interest == Decimal("461134292.00000000")
    assert newer.exchange_ts - older.exchange_ts == 300 * 10**9
    # Inverse: USD contracts with no price to convert them: a clear rejection, not a wrong number.
    with pytest.raises(HistoryRejected, match="inverse"):
        history.parse(What.OI, BYBIT_INVERSE_BTCUSD, BYBIT_OI, 300, RECEIVED)


def test_bybit_error_envelope_is_rejected_with_its_message() -> None:
    history = history_for(ExchangeId.BYBIT, CATALOG)
    btc = _instrument(ExchangeId.BYBIT, "BTCUSDT")
    with pytest.raises(HistoryRejected, match="symbol invalid"):
        history.parse(What.KLINES, btc, {"retCode": 10001, "retMsg": "params error: symbol invalid"}, 60, 0)


def test_bybit_funding_request_sends_both_times() -> None:
    # history-fund-rate: "Passing only startTime returns an error".
    history = history_for(ExchangeId.BYBIT, CATALOG)
    btc = _instrument(ExchangeId.BYBIT, "BTCUSDT")
    request = history.request(What.FUNDING, btc, Window(0, 3600 * 10**9), 60)
    assert {"startTime", "endTime"} <= set(request.params)


# --- Hyperliquid -----------------------------------------------------------------------------------

# hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/info-endpoint "Candle snapshot", 200: OK
HYPERLIQUID_CANDLES = [
    {
        "T": 1681924499999,
        "c": "29258.0",
        "h": "29309.0",
        "i": "15m",
        "l": "29250.0",
        "n": 189,
        "o": "29295.0",
        "s": "BTC",
        "t": 1681923600000,
        "v": "0.98639",
    }
]

# .../info-endpoint/perpetuals "Retrieve historical funding rates", 200: OK
HYPERLIQUID_FUNDING = [
    {"coin": "ETH", "fundingRate": "-0.00022196", "premium": "-0.00052196", "time": 1683849600076}
]


def test_hyperliquid_candles_doc_example() -> None:
    history = history_for(ExchangeId.HYPERLIQUID, CATALOG)
    btc = _instrument(ExchangeId.HYPERLIQUID, "BTC")
    [bar] = history.parse(What.KLINES, btc, HYPERLIQUID_CANDLES, 900, RECEIVED)
    assert isinstance(bar, Candle)
    assert bar.exchange_ts == 1681923600000 * NS_PER_MS
    assert bar.close_ts == 1681924500000 * NS_PER_MS
    assert bar.close == Decimal("29258.0")
    assert bar.volume == Decimal("0.98639")
    assert bar.trade_count == 189
    assert bar.notional == Decimal("0.98639") * Decimal("29258.0")  # estimated: no quote volume in the answer


def test_hyperliquid_funding_doc_example() -> None:
    history = history_for(ExchangeId.HYPERLIQUID, CATALOG)
    eth = _instrument(ExchangeId.HYPERLIQUID, "ETH")
    [funding] = history.parse(What.FUNDING, eth, HYPERLIQUID_FUNDING, 60, RECEIVED)
    assert isinstance(funding, Funding)
    assert funding.rate == Decimal("-0.00022196")
    assert funding.interval_s == 3600


def test_hyperliquid_offers_no_open_interest_history_and_says_so() -> None:
    history = history_for(ExchangeId.HYPERLIQUID, CATALOG)
    assert not history.offers(What.OI)
    rows = [r for r in capability_table() if r["exchange"] == "hyperliquid" and r["what"] == "oi"]
    assert rows == [
        {
            "exchange": "hyperliquid",
            "what": "oi",
            "status": "not offered",
            "detail": history.not_offered[What.OI],
        }
    ]


def test_hyperliquid_keeps_only_the_most_recent_5000_candles() -> None:
    history = history_for(ExchangeId.HYPERLIQUID, CATALOG)
    assert history.max_age_s(What.KLINES, 60) == 5000 * 60
    assert history.max_age_s(What.FUNDING, 60) is None


# --- Binance COIN-M --------------------------------------------------------------------------------

# developers.binance.com/docs/derivatives/coin-margined-futures/market-data/rest-api/Kline-Candlestick-Data
# "Response Example" (volume in contracts, then the base asset volume)
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
