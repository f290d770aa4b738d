"""Binance COIN-M history (developers.binance.com/docs/derivatives/coin-margined-futures/market-data).

The USD-M endpoints under ``/dapi/v1`` with inverse units:

- Kline/Candlestick Data: ``GET /dapi/v1/klines`` (limit default 500, max 1500); an item is
  [open time, open, high, low, close, volume (contracts), close time, base asset volume,
  trades, taker buy volume (contracts), taker buy base asset volume, ignore].
- Get Funding Rate History of Perpetual Futures: ``GET /dapi/v1/fundingRate`` (max 1000).
- Open Interest Statistics: ``GET /futures/data/openInterestHist`` by ``pair`` and
  ``contractType`` (PERPETUAL), period 5m ... 1d, limit max 500, latest 30 days;
  sumOpenInterest in contracts, sumOpenInterestValue in the base asset.
"""

from decimal import Decimal
from typing import Any

from schemas.common import ExchangeId, InstrumentEvent
from schemas.market_data import OpenInterest
from services.backfill.core.plan import NS_PER_MS, What, Window
from services.backfill.history import Endpoint
from services.ingest.parsing import event_ids
from services.ingest.venue import RestRequest
from services.instruments.catalog import Instrument
from services.venues.binance_usdm.history import FUNDING_WEIGHT, BinanceUsdmHistory

_DOCS = "developers.binance.com/docs/derivatives/coin-margined-futures/market-data"


class BinanceCoinmHistory(BinanceUsdmHistory):
    exchange = ExchangeId.BINANCE_COINM
    endpoints = {
        What.KLINES: Endpoint("/dapi/v1/klines", 1500, f"{_DOCS}/Kline-Candlestick-Data"),
        What.FUNDING: Endpoint(
            "/dapi/v1/fundingRate", 1000, f"{_DOCS}/Get-Funding-Rate-History-of-Perpetual-Futures"
        ),
        What.OI: Endpoint(
            "/futures/data/openInterestHist",
            500,
            f"{_DOCS}/Open-Interest-Statistics",
            note="latest 30 days only",
            max_age_s=30 * 86400,
        ),
    }

    def request(self, what: What, instrument: Instrument, page: Window, interval_s: int) -> RestRequest:
        usdm = super().request(what, instrument, page, interval_s)
        if what is What.KLINES:
            return RestRequest("/dapi/v1/klines", usdm.params, weight=usdm.weight)
        if what is What.FUNDING:
            return RestRequest("/dapi/v1/fundingRate", usdm.params, weight=FUNDING_WEIGHT)
        params = {k: v for k, v in usdm.params.items() if k != "symbol"}
        pair = instrument.native_symbol.removesuffix("_PERP")
        return RestRequest(
            usdm.path, {**params, "pair": pair, "contractType": "PERPETUAL"}, weight=usdm.weight
        )

    def _kline(
        self, instrument: Instrument, row: list[Any], interval_s: int, receive_ns: int
    ) -> InstrumentEvent:
        contracts = Decimal(str(row[5]))
        return self.candle(
            instrument,
            open_ms=int(row[0]),
            interval_s=interval_s,
            prices=(row[1], row[2], row[3], row[4]),
            volume=Decimal(str(row[7])),
            notional=instrument.notional(contracts, Decimal(str(row[4]))),
            trade_count=int(row[8]),
            buy_volume=Decimal(str(row[10])),
            receive_ns=receive_ns,
        )

    def _open_interest(self, instrument: Instrument, row: dict[str, Any], receive_ns: int) -> InstrumentEvent:
        contracts = Decimal(str(row["sumOpenInterest"]))
        return OpenInterest(
            **event_ids(instrument, int(row["timestamp"]) * NS_PER_MS, receive_ns),
            open_interest=Decimal(str(row["sumOpenInterestValue"])),
            open_interest_notional=contracts * instrument.contract_size,
        )
