"""Binance USD-M history (developers.binance.com, derivatives/usds-margined-futures/market-data/rest-api).

- Kline/Candlestick Data: ``GET /fapi/v1/klines`` symbol, interval, startTime, endTime (both
  inclusive, ms), limit (default 500, max 1500); oldest first. Request weight by limit:
  [1,100) 1, [100,500) 2, [500,1000] 5, > 1000 10.
- Get Funding Rate History: ``GET /fapi/v1/fundingRate`` symbol, startTime, endTime, limit
  (default 100, max 1000); oldest first; shares 500 requests / 5 min / IP with fundingInfo.
- Open Interest Statistics: ``GET /futures/data/openInterestHist`` symbol, period (5m ... 1d),
  limit (default 30, max 500), startTime, endTime; only the latest 1 month is available;
  1000 requests / 5 min / IP.
"""

from decimal import Decimal
from typing import Any

from schemas.common import ExchangeId, InstrumentEvent
from schemas.market_data import OpenInterest
from services.backfill.core.plan import NS_PER_MS, What, Window
from services.backfill.history import Endpoint, HistoryRejected, VenueHistory
from services.ingest.parsing import event_ids
from services.ingest.venue import RestRequest
from services.instruments.catalog import Instrument

_DOCS = "developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api"


def kline_weight(limit: int) -> int:
    """Request weight of ``/fapi/v1/klines`` by its ``limit`` (Kline/Candlestick Data)."""
    if limit < 100:
        return 1
    if limit < 500:
        return 2
    if limit <= 1000:
        return 5
    return 10


# The venue bucket refills 40 weight a second (2400 / min); these weights keep the endpoints
# with their own IP limits inside them: 500 / 5 min = one call per 0.6 s = 24 weight,
# 1000 / 5 min = one per 0.3 s = 12 weight.
FUNDING_WEIGHT = 24
OI_WEIGHT = 12

INTERVALS = {
    60: "1m", 180: "3m", 300: "5m", 900: "15m", 1800: "30m", 3600: "1h", 7200: "2h",
    14400: "4h", 21600: "6h", 28800: "8h", 43200: "12h", 86400: "1d",
}  # fmt: skip
OI_PERIODS = {
    300: "5m", 900: "15m", 1800: "30m", 3600: "1h", 7200: "2h",
    14400: "4h", 21600: "6h", 43200: "12h", 86400: "1d",
}  # fmt: skip


class BinanceUsdmHistory(VenueHistory):
    exchange = ExchangeId.BINANCE_USDM
    endpoints = {
        What.KLINES: Endpoint("/fapi/v1/klines", 1500, f"{_DOCS}/Kline-Candlestick-Data"),
        What.FUNDING: Endpoint("/fapi/v1/fundingRate", 1000, f"{_DOCS}/Get-Funding-Rate-History"),
        What.OI: Endpoint(
            "/futures/data/openInterestHist",
            500,
            f"{_DOCS}/Open-Interest-Statistics",
            note="latest 30 days only",
            max_age_s=30 * 86400,
        ),
    }
    kline_intervals = INTERVALS
    oi_periods = OI_PERIODS

    def request(self, what: What, instrument: Instrument, page: Window, interval_s: int) -> RestRequest:
        start_ms, end_ms = page.start_ns // NS_PER_MS, page.end_ns // NS_PER_MS - 1  # endTime inclusive
        symbol = instrument.native_symbol
        if what is What.KLINES:
            limit = page.span_ns // (interval_s * 1_000_000_000)
            return RestRequest(
                "/fapi/v1/klines",
                {
                    "symbol": symbol,
                    "interval": INTERVALS[interval_s],
                    "startTime": str(start_ms),
                    "endTime": str(end_ms),
                    "limit": str(limit),
                },
                weight=kline_weight(limit),
            )
        if what is What.FUNDING:
            params = {"symbol": symbol, "startTime": str(start_ms), "endTime": str(end_ms), "limit": "1000"}
            return RestRequest("/fapi/v1/fundingRate", params, weight=FUNDING_WEIGHT)
        period = self.record_interval_s(What.OI, interval_s)
        return RestRequest(
            "/futures/data/openInterestHist",
            {
                "symbol": symbol,
                "period": OI_PERIODS[period],
                "startTime": str(start_ms),
                "endTime": str(end_ms),
                "limit": "500",
            },
            weight=OI_WEIGHT,
        )

    def parse(
        self, what: What, instrument: Instrument, payload: Any, interval_s: int, receive_ns: int
    ) -> list[InstrumentEvent]:
        if not isinstance(payload, list):
            raise HistoryRejected(f"binance {what.value}: expected a JSON array, got {str(payload)[:200]}")
        if what is What.KLINES:
            return [self._kline(instrument, row, interval_s, receive_ns) for row in payload]
        if what is What.FUNDING:
            return [
                self.funding(
                    instrument,
                    funding_ms=int(row["fundingTime"]),
                    rate=row["fundingRate"],
                    mark_price=row.get("markPrice"),
                    receive_ns=receive_ns,
                )
                for row in payload
            ]
        return [self._open_interest(instrument, row, receive_ns) for row in payload]

    def _kline(
        self, instrument: Instrument, row: list[Any], interval_s: int, receive_ns: int
    ) -> InstrumentEvent:
        # [open time, open, high, low, close, volume (base), close time, quote volume, trades,
        #  taker buy base volume, taker buy quote volume, ignore]
        close = Decimal(str(row[4]))
        volume = instrument.base_quantity(Decimal(str(row[5])), close)
        buy = instrument.base_quantity(Decimal(str(row[9])), close)
        return self.candle(
            instrument,
            open_ms=int(row[0]),
            interval_s=interval_s,
            prices=(row[1], row[2], row[3], row[4]),
            volume=volume,
            notional=Decimal(str(row[7])),
            trade_count=int(row[8]),
            buy_volume=buy,
            receive_ns=receive_ns,
        )

    def _open_interest(self, instrument: Instrument, row: dict[str, Any], receive_ns: int) -> InstrumentEvent:
        # sumOpenInterest is in base units (contract size 1 on USD-M; a 1000PEPE unit is 1000 PEPE).
        return OpenInterest(
            **event_ids(instrument, int(row["timestamp"]) * NS_PER_MS, receive_ns),
            open_interest=instrument.base_quantity(Decimal(str(row["sumOpenInterest"])), Decimal(1)),
            open_interest_notional=Decimal(str(row["sumOpenInterestValue"])),
        )
