"""Bybit v5 history (bybit-exchange.github.io/docs/v5/market/...).

- Get Kline: ``GET /v5/market/kline`` category, symbol, interval (1 3 5 15 30 60 120 240 360 720
  D), start, end (ms), limit [1, 1000] (default 200); the list is sorted in reverse by start
  time; an item is [startTime, open, high, low, close, volume, turnover].
- Get Funding Rate History: ``GET /v5/market/funding/history`` category, symbol, startTime,
  endTime, limit [1, 200]; passing only startTime is an error, so both are always sent.
- Get Open Interest: ``GET /v5/market/open-interest`` category, symbol, intervalTime (5min 15min
  30min 1h 4h 1d), startTime, endTime, limit [1, 200], cursor; pages here are windows of at most
  200 periods, so the cursor is never needed.

Linear contracts: volume and open interest in base coin, turnover in quote. Inverse: volume is in
contracts (USD), turnover in base coin.
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

_DOCS = "bybit-exchange.github.io/docs/v5/market"

INTERVALS = {
    60: "1", 180: "3", 300: "5", 900: "15", 1800: "30", 3600: "60", 7200: "120",
    14400: "240", 21600: "360", 43200: "720", 86400: "D",
}  # fmt: skip
OI_PERIODS = {300: "5min", 900: "15min", 1800: "30min", 3600: "1h", 14400: "4h", 86400: "1d"}


# In USD contracts: the notional is known, base units would need the price at that time.
INVERSE_OI = "inverse open-interest history is in USD contracts, with no price to convert them to base units"


class BybitHistory(VenueHistory):
    exchange = ExchangeId.BYBIT
    endpoints = {
        What.KLINES: Endpoint("/v5/market/kline", 1000, f"{_DOCS}/kline", note="newest first"),
        What.FUNDING: Endpoint("/v5/market/funding/history", 200, f"{_DOCS}/history-fund-rate"),
        What.OI: Endpoint("/v5/market/open-interest", 200, f"{_DOCS}/open-interest"),
    }
    kline_intervals = INTERVALS
    oi_periods = OI_PERIODS

    @staticmethod
    def _category(instrument: Instrument) -> str:
        return "inverse" if instrument.inverse else "linear"

    def request(self, what: What, instrument: Instrument, page: Window, interval_s: int) -> RestRequest:
        start_ms, end_ms = page.start_ns // NS_PER_MS, page.end_ns // NS_PER_MS - 1  # end inclusive
        base = {"category": self._category(instrument), "symbol": instrument.native_symbol}
        if what is What.KLINES:
            limit = page.span_ns // (interval_s * 1_000_000_000)
            return RestRequest(
                "/v5/market/kline",
                {**base, "interval": INTERVALS[interval_s], "start": str(start_ms), "end": str(end_ms),
                 "limit": str(limit)},
            )  # fmt: skip
        if what is What.FUNDING:
            return RestRequest(
                "/v5/market/funding/history",
                {**base, "startTime": str(start_ms), "endTime": str(end_ms), "limit": "200"},
            )
        period = self.record_interval_s(What.OI, interval_s)
        return RestRequest(
            "/v5/market/open-interest",
            {**base, "intervalTime": OI_PERIODS[period], "startTime": str(start_ms), "endTime": str(end_ms),
             "limit": "200"},
        )  # fmt: skip

    def not_covered(self, what: What, instrument: Instrument) -> str | None:
        return INVERSE_OI if what is What.OI and instrument.inverse else None

    def parse(
        self, what: What, instrument: Instrument, payload: Any, interval_s: int, receive_ns: int
    ) -> list[InstrumentEvent]:
        if not isinstance(payload, dict) or payload.get("retCode") != 0:
            message = payload.get("retMsg") if isinstance(payload, dict) else str(payload)[:200]
            raise HistoryRejected(f"bybit {what.value}: {message}")
        rows = payload["result"]["list"]
        if what is What.KLINES:
            events = [self._kline(instrument, row, interval_s, receive_ns) for row in rows]
        elif what is What.FUNDING:
            events = [
                self.funding(
                    instrument,
                    funding_ms=int(row["fundingRateTimestamp"]),
                    rate=row["fundingRate"],
                    receive_ns=receive_ns,
                )
                for row in rows
            ]
        else:
            events = [self._open_interest(instrument, row, receive_ns) for row in rows]
        # Newest first on the wire; oldest first here, as every other venue.
        return sorted(events, key=lambda e: e.exchange_ts)

    def _kline(
        self, instrument: Instrument, row: list[Any], interval_s: int, receive_ns: int
    ) -> InstrumentEvent:
        volume, turnover = Decimal(str(row[5])), Decimal(str(row[6]))
        if instrument.inverse:
            base_volume, notional = turnover, volume * instrument.contract_size
        else:
            base_volume, notional = instrument.base_quantity(volume, Decimal(1)), turnover
        return self.candle(
            instrument,
            open_ms=int(row[0]),
            interval_s=interval_s,
            prices=(row[1], row[2], row[3], row[4]),
            volume=base_volume,
            notional=notional,
            trade_count=0,  # Bybit klines carry no trade count
            receive_ns=receive_ns,
        )

    def _open_interest(self, instrument: Instrument, row: dict[str, Any], receive_ns: int) -> InstrumentEvent:
        value = Decimal(str(row["openInterest"]))
        if instrument.inverse:
            raise HistoryRejected(f"bybit: {INVERSE_OI}")
        return OpenInterest(
            **event_ids(instrument, int(row["timestamp"]) * NS_PER_MS, receive_ns),
            open_interest=instrument.base_quantity(value, Decimal(1)),
        )
