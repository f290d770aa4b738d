"""KuCoin Futures history (www.kucoin.com/docs-new/rest/futures-trading/...).

Answers are ``{"code": "200000", "data": ...}`` (Get Public Funding History's example answers
``{"success": true, "code": "200", "msg": "success", "data": ...}``); any other code is an error
with ``msg``.

- Market Data / Get Klines: ``GET /api/v1/kline/query`` symbol, granularity (minutes: 1 5 15
  30 60 120 240 480 720 1440 10080), from, to (ms). "The maximum size per request is 500":
  a longer range is answered with 500 bars. A row is [time (bar open, ms), open, high, low,
  close, volume (contracts), turnover (quote)], oldest first.
- Funding Fees / Get Public Funding History: ``GET /api/v1/contract/funding-rates`` symbol,
  from, to (all required, ms), public weight 5; a row is ``{"symbol", "fundingRate",
  "timepoint"}`` (the settlement time; the page's field table spells it ``timePoint``, so
  both are read). No page cap is documented: pages here span 100 hours.
- Open interest: only the live ``openInterest`` of the contract detail
  (``GET /api/v1/contracts/{symbol}``), no history.

Volumes are lots: one XBTUSDTM lot is ``multiplier`` = 0.001 BTC (the instrument's contract
size), one inverse XBTUSDM lot is 1 USD, converted with the bar's close.
"""

from decimal import Decimal
from typing import Any

from schemas.common import ExchangeId, InstrumentEvent
from services.backfill.core.plan import NS_PER_MS, What, Window
from services.backfill.history import Endpoint, HistoryRejected, VenueHistory
from services.ingest.venue import RestRequest
from services.instruments.catalog import Instrument

_DOCS = "www.kucoin.com/docs-new/rest/futures-trading"
KLINE_PATH = "/api/v1/kline/query"
FUNDING_PATH = "/api/v1/contract/funding-rates"
_OK_CODES = frozenset({"200000", "200"})
MAX_BARS = 500
FUNDING_PAGE_HOURS = 100
KLINE_WEIGHT = 3  # public market-data weight, as the adapter's contract and book calls
FUNDING_WEIGHT = 5  # Get Public Funding History: "Public weight: 5"

GRANULARITIES = {
    60: "1", 300: "5", 900: "15", 1800: "30", 3600: "60", 7200: "120", 14400: "240",
    28800: "480", 43200: "720", 86400: "1440", 604800: "10080",
}  # fmt: skip


class KucoinFuturesHistory(VenueHistory):
    exchange = ExchangeId.KUCOIN_FUTURES
    endpoints = {
        What.KLINES: Endpoint(KLINE_PATH, MAX_BARS, f"{_DOCS}/market-data/get-klines"),
        What.FUNDING: Endpoint(
            FUNDING_PATH,
            FUNDING_PAGE_HOURS,
            f"{_DOCS}/funding-fees/get-public-funding-history",
            note="no documented cap; 100 hours a request",
        ),
    }
    not_offered = {
        What.OI: "KuCoin Futures serves only the current open interest (GET /api/v1/contracts/{symbol})",
    }
    kline_intervals = GRANULARITIES
    min_funding_interval_s = 3600

    def request(self, what: What, instrument: Instrument, page: Window, interval_s: int) -> RestRequest:
        params = {
            "symbol": instrument.native_symbol,
            "from": str(page.start_ns // NS_PER_MS),
            "to": str(page.end_ns // NS_PER_MS - 1),
        }
        if what is What.KLINES:
            return RestRequest(
                KLINE_PATH, {**params, "granularity": GRANULARITIES[interval_s]}, weight=KLINE_WEIGHT
            )
        if what is What.FUNDING:
            return RestRequest(FUNDING_PATH, params, weight=FUNDING_WEIGHT)
        raise ValueError("kucoin futures offers no open-interest history")

    def parse(
        self, what: What, instrument: Instrument, payload: Any, interval_s: int, receive_ns: int
    ) -> list[InstrumentEvent]:
        if not isinstance(payload, dict) or str(payload.get("code")) not in _OK_CODES:
            message = payload.get("msg") if isinstance(payload, dict) else str(payload)[:200]
            raise HistoryRejected(f"kucoin_futures {what.value}: {message}")
        rows = payload["data"] or []
        if what is What.KLINES:
            events = [self._bar(instrument, row, interval_s, receive_ns) for row in rows]
        else:
            events = [
                self.funding(
                    instrument,
                    funding_ms=int(row["timepoint"] if "timepoint" in row else row["timePoint"]),
                    rate=row["fundingRate"],
                    receive_ns=receive_ns,
                )
                for row in rows
            ]
        return sorted(events, key=lambda e: e.exchange_ts)

    def _bar(
        self, instrument: Instrument, row: list[Any], interval_s: int, receive_ns: int
    ) -> InstrumentEvent:
        close, lots = Decimal(str(row[4])), Decimal(str(row[5]))
        # Linear turnover is the quote notional; an inverse lot is itself 1 USD of notional.
        if instrument.inverse or len(row) < 7:
            notional = instrument.notional(lots, close)
        else:
            notional = Decimal(str(row[6]))
        return self.candle(
            instrument,
            open_ms=int(row[0]),
            interval_s=interval_s,
            prices=(row[1], row[2], row[3], row[4]),
            volume=instrument.base_quantity(lots, close),
            notional=notional,
            trade_count=0,  # the klines carry no trade count
            receive_ns=receive_ns,
        )
