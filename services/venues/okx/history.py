"""OKX v5 history (www.okx.com/docs-v5/en/).

- GET / Candlesticks history (#order-book-trading-market-data-get-candlesticks-history):
  ``GET /api/v5/market/history-candles`` instId, bar (1m 3m 5m 15m 30m 1H 2H 4H, UTC+0 k-lines
  6Hutc 12Hutc 1Dutc), ``after`` (records earlier than ts), ``before`` (records newer than ts),
  limit; newest first; an item is [ts, o, h, l, c, vol, volCcy, volCcyQuote, confirm] with, for
  derivatives, vol in contracts, volCcy in base currency and volCcyQuote in quote currency. The
  page gives the maximum as 300 (an older copy: 100); 100 is valid under both, and a smaller cap
  than the limit asked for would silently shorten a page. 20 requests / 2 s / IP.
- Get funding rate history (#public-data-rest-api-get-funding-rate-history):
  ``GET /api/v5/public/funding-rate-history`` instId, before / after on ``fundingTime`` (newer /
  earlier than), limit (maximum 400 now, 100 before; 100 here for the same reason); newest first;
  ``realizedRate`` is the rate actually settled; the last three months only; 10 requests / 2 s
  per IP and instrument.
- Get contract open interest history (#trading-statistics-rest-api-get-contract-open-interest-history):
  ``GET /api/v5/rubik/stat/contracts/open-interest-history`` instId, period (5m 15m 30m 1H 2H 4H,
  6Hutc 12Hutc 1Dutc), ``end`` (earlier than ts), ``begin`` (newer than ts), limit (maximum 100);
  newest first; an item is [ts, oi (contracts), oiCcy (coin), oiUsd]; the latest 1,440 entries of
  a period only; 10 requests / 2 s per IP and instrument.

Swap sizes are contracts of ``ctVal`` (linear: base coin, inverse: USD); the answers here also
carry the base-currency figure (volCcy, oiCcy), which is used as it is.
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

_DOCS = "www.okx.com/docs-v5/en/"

# UTC+0 k-lines from 6 h up: the plain 6H/12H/1D bars open on Hong Kong time, off the epoch grid.
INTERVALS = {
    60: "1m", 180: "3m", 300: "5m", 900: "15m", 1800: "30m", 3600: "1H", 7200: "2H",
    14400: "4H", 21600: "6Hutc", 43200: "12Hutc", 86400: "1Dutc",
}  # fmt: skip
OI_PERIODS = {
    300: "5m", 900: "15m", 1800: "30m", 3600: "1H", 7200: "2H", 14400: "4H",
    21600: "6Hutc", 43200: "12Hutc", 86400: "1Dutc",
}  # fmt: skip
PAGE = 100
OI_MAX_ENTRIES = 1440
# The funding and OI endpoints allow 10 calls / 2 s against the adapter's bucket of 20 / 2 s.
HALF_BUDGET_WEIGHT = 2


class OkxHistory(VenueHistory):
    exchange = ExchangeId.OKX
    endpoints = {
        What.KLINES: Endpoint(
            "/api/v5/market/history-candles",
            PAGE,
            f"{_DOCS}#order-book-trading-market-data-get-candlesticks-history",
            note="newest first",
        ),
        What.FUNDING: Endpoint(
            "/api/v5/public/funding-rate-history",
            PAGE,
            f"{_DOCS}#public-data-rest-api-get-funding-rate-history",
            note="last 3 months only",
            max_age_s=90 * 86400,
        ),
        What.OI: Endpoint(
            "/api/v5/rubik/stat/contracts/open-interest-history",
            PAGE,
            f"{_DOCS}#trading-statistics-rest-api-get-contract-open-interest-history",
            note="latest 1440 entries of a period only",
        ),
    }
    kline_intervals = INTERVALS
    oi_periods = OI_PERIODS

    def max_age_s(self, what: What, interval_s: int) -> int | None:
        if what is What.OI:
            return OI_MAX_ENTRIES * self.record_interval_s(What.OI, interval_s)
        return super().max_age_s(what, interval_s)

    def request(self, what: What, instrument: Instrument, page: Window, interval_s: int) -> RestRequest:
        # Both cursors are exclusive: ``after`` the page end, ``before`` one ms ahead of its start.
        start_ms, end_ms = page.start_ns // NS_PER_MS, page.end_ns // NS_PER_MS
        inst = {"instId": instrument.native_symbol}
        if what is What.KLINES:
            limit = page.span_ns // (interval_s * 1_000_000_000)
            return RestRequest(
                "/api/v5/market/history-candles",
                {**inst, "bar": INTERVALS[interval_s], "after": str(end_ms), "before": str(start_ms - 1),
                 "limit": str(limit)},
            )  # fmt: skip
        if what is What.FUNDING:
            return RestRequest(
                "/api/v5/public/funding-rate-history",
                {**inst, "after": str(end_ms), "before": str(start_ms - 1), "limit": str(PAGE)},
                weight=HALF_BUDGET_WEIGHT,
            )
        period = self.record_interval_s(What.OI, interval_s)
        return RestRequest(
            "/api/v5/rubik/stat/contracts/open-interest-history",
            {**inst, "period": OI_PERIODS[period], "end": str(end_ms), "begin": str(start_ms - 1),
             "limit": str(PAGE)},
            weight=HALF_BUDGET_WEIGHT,
        )  # fmt: skip

    def parse(
        self, what: What, instrument: Instrument, payload: Any, interval_s: int, receive_ns: int
    ) -> list[InstrumentEvent]:
        if not isinstance(payload, dict) or payload.get("code") != "0":
            message = payload.get("msg") if isinstance(payload, dict) else str(payload)[:200]
            raise HistoryRejected(f"okx {what.value}: {message}")
        rows = payload["data"]
        if what is What.KLINES:
            # An uncompleted bar (confirm "0", the last item) is not history yet.
            events = [self._kline(instrument, row, interval_s, receive_ns) for row in rows if row[-1] != "0"]
        elif what is What.FUNDING:
            events = [
                self.funding(
                    instrument,
                    funding_ms=int(row["fundingTime"]),
                    rate=row.get("realizedRate") or row["fundingRate"],
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
        base_volume = Decimal(str(row[6]))  # volCcy: base currency
        # volCcyQuote (quote currency) is missing from the eight-item layout an older page shows.
        notional = Decimal(str(row[7])) if len(row) > 8 else base_volume * Decimal(str(row[4]))
        return self.candle(
            instrument,
            open_ms=int(row[0]),
            interval_s=interval_s,
            prices=(row[1], row[2], row[3], row[4]),
            volume=base_volume,
            notional=notional,
            trade_count=0,  # OKX candles carry no trade count
            receive_ns=receive_ns,
        )

    def _open_interest(self, instrument: Instrument, row: list[Any], receive_ns: int) -> InstrumentEvent:
        contracts = Decimal(str(row[1]))
        return OpenInterest(
            **event_ids(instrument, int(row[0]) * NS_PER_MS, receive_ns),
            open_interest=Decimal(str(row[2])),  # oiCcy: base currency
            # An inverse contract is worth ctVal USD (the quote): exact; oiUsd of a USDT swap is not USDT.
            open_interest_notional=instrument.notional(contracts, Decimal(1)) if instrument.inverse else None,
        )
