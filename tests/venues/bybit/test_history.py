"""Bybit's history parsers on the venue's documented example responses (doc section cited).

Where a page's example is for a symbol perpwatch does not list (the inverse BTCUSD), the test
builds that instrument itself.
"""

from decimal import Decimal

import pytest

from schemas.common import ExchangeId
from schemas.market_data import Candle, Funding, OpenInterest
from services.backfill.core.plan import NS_PER_MS, What, Window
from services.backfill.history import HistoryRejected, history_for
from services.instruments.catalog import Instrument, load_snapshot

RECEIVED = 1_700_000_000_000_000_000
CATALOG = load_snapshot()


def _instrument(exchange: ExchangeId, native: str) -> Instrument:
    return CATALOG.get(exchange, native)


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
