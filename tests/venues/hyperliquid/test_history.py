"""Hyperliquid's history parsers on the venue's documented example responses (doc section cited)."""

from decimal import Decimal

from schemas.common import ExchangeId
from schemas.market_data import Candle, Funding
from services.backfill.core.plan import NS_PER_MS, What
from services.backfill.history import capability_table, history_for
from services.instruments.catalog import Instrument, load_snapshot

RECEIVED = 1_700_000_000_000_000_000
CATALOG = load_snapshot()


def _instrument(exchange: ExchangeId, native: str) -> Instrument:
    return CATALOG.get(exchange, native)


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
