"""MEXC USDT-M perpetual history (contract API: mexcdevelop.github.io/apidocs/contract_v1_en, and the
newer pages under www.mexc.in/api-docs/futures/market-endpoints).

- K-line data: ``GET /api/v1/contract/kline/{symbol}`` interval (Min1 Min5 Min15 Min30 Min60
  Hour4 Hour8 Day1 Week1 Month1), start, end (Unix SECONDS); "The maximum data in a single request
  is 2000 pieces"; 20 requests / 2 s. The answer is columnar, oldest first: ``data`` holds the
  lists ``time`` (s), ``open``, ``close``, ``high``, ``low``, ``vol`` (contracts), ``amount``
  (quote). The page does not say whether ``end`` is inclusive, so a page here is 1999 bars:
  ``[start, end]`` then holds at most 2000 bar opens either way and the cap never cuts a page.
- Get contract funding rate history: ``GET /api/v1/contract/funding_rate/history`` symbol,
  page_num, page_size (default 20, maximum 1000); no time parameters; ``data.resultList`` newest
  first, items ``{symbol, fundingRate, settleTime (ms)}`` (the newer page,
  .../get-funding-rate-history, adds ``collectCycle`` in hours). Offset pages slide as new
  settlements arrive, so only page 1 (the newest 1000) is read: the module serves the last
  1000 x the shortest funding cycle it assumes (1 h) and no further.
- Open interest: only the current ``holdVol`` (Get contract trend data, ``/api/v1/contract/ticker``).

Sizes are contracts of ``contractSize`` base coin (Get contract information).
"""

from decimal import Decimal
from typing import Any

from schemas.common import ExchangeId, InstrumentEvent
from services.backfill.core.plan import NS_PER_S, What, Window
from services.backfill.history import Endpoint, HistoryRejected, VenueHistory
from services.ingest.venue import RestRequest
from services.instruments.catalog import Instrument

_DOCS = "mexcdevelop.github.io/apidocs/contract_v1_en"

INTERVALS = {
    60: "Min1", 300: "Min5", 900: "Min15", 1800: "Min30", 3600: "Min60", 14400: "Hour4",
    28800: "Hour8", 86400: "Day1",
}  # fmt: skip
KLINE_PAGE = 1999
FUNDING_PAGE = 1000


class MexcHistory(VenueHistory):
    exchange = ExchangeId.MEXC
    endpoints = {
        What.KLINES: Endpoint("/api/v1/contract/kline/{symbol}", KLINE_PAGE, f"{_DOCS} (K-line data)"),
        What.FUNDING: Endpoint(
            "/api/v1/contract/funding_rate/history",
            FUNDING_PAGE,
            f"{_DOCS} (Get contract funding rate history)",
            note="newest 1000 settlements only (offset pages, no time parameters)",
            max_age_s=FUNDING_PAGE * VenueHistory.min_funding_interval_s,
        ),
    }
    not_offered = {
        What.OI: "MEXC serves only the current open interest (holdVol in /api/v1/contract/ticker)",
    }
    kline_intervals = INTERVALS

    def request(self, what: What, instrument: Instrument, page: Window, interval_s: int) -> RestRequest:
        symbol = instrument.native_symbol
        if what is What.KLINES:
            return RestRequest(
                f"/api/v1/contract/kline/{symbol}",
                {
                    "interval": INTERVALS[interval_s],
                    "start": str(page.start_ns // NS_PER_S),
                    "end": str(page.end_ns // NS_PER_S),
                },
            )
        if what is What.FUNDING:
            # Always the newest page: every funding page lies inside it (see max_age_s).
            return RestRequest(
                "/api/v1/contract/funding_rate/history",
                {"symbol": symbol, "page_num": "1", "page_size": str(FUNDING_PAGE)},
            )
        raise ValueError("mexc offers no open-interest history")

    def parse(
        self, what: What, instrument: Instrument, payload: Any, interval_s: int, receive_ns: int
    ) -> list[InstrumentEvent]:
        if not isinstance(payload, dict) or payload.get("success") is not True:
            message = payload.get("message", payload) if isinstance(payload, dict) else payload
            raise HistoryRejected(f"mexc {what.value}: {str(message)[:200]}")
        data = payload["data"]
        if what is What.KLINES:
            return self._klines(instrument, data, interval_s, receive_ns)
        events = [
            self.funding(
                instrument,
                funding_ms=int(row["settleTime"]),
                rate=row["fundingRate"],
                receive_ns=receive_ns,
                interval_s=int(row["collectCycle"]) * 3600 if row.get("collectCycle") else None,
            )
            for row in data["resultList"]
        ]
        # Newest first on the wire; oldest first here, as every other venue.
        return sorted(events, key=lambda e: e.exchange_ts)

    def _klines(
        self, instrument: Instrument, data: dict[str, list[Any]], interval_s: int, receive_ns: int
    ) -> list[InstrumentEvent]:
        columns = zip(
            data["time"], data["open"], data["close"], data["high"], data["low"], data["vol"], data["amount"],
            strict=True,
        )  # fmt: skip
        return [
            self.candle(
                instrument,
                open_ms=int(time_s) * 1000,
                interval_s=interval_s,
                prices=(open_, high, low, close),
                volume=instrument.base_quantity(Decimal(str(vol)), Decimal(str(close))),
                notional=Decimal(str(amount)),
                trade_count=0,  # MEXC klines carry no trade count
                receive_ns=receive_ns,
            )
            for time_s, open_, close, high, low, vol, amount in columns
        ]
