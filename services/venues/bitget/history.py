"""Bitget USDT-M perpetual history, API v2 (www.bitget.com/api-doc/contract/market/...).

- Get Historical Candlestick: ``GET /api/v2/mix/market/history-candles`` symbol, productType
  (USDT-FUTURES), granularity (1m 3m 5m 15m 30m 1H 4H, UTC lines 6Hutc 12Hutc 1Dutc), startTime,
  endTime (ms; "the maximum time query range is 90 days"), limit (default 100, maximum 200);
  finished bars only, oldest first; an item is [ts, open, high, low, close, base volume, quote
  volume]. Pages here are 199 bars asked with limit 200: Bitget rounds the times to the
  granularity and may answer one bar more at either end, which must not push a page's bar out.
- Get Historical Funding Rates: ``GET /api/v2/mix/market/history-fund-rate`` symbol, productType,
  pageSize (default 20, maximum 100), pageNo; newest first; an item is {symbol, fundingRate,
  fundingTime}. No time filter: a page number is reckoned from the funding interval and the clock
  (see ``_funding_page``), and the answer is checked to reach across the window it was asked for.
- Open interest: ``GET /api/v2/mix/market/open-interest`` serves only the current value; the
  market group documents no open-interest history.
- Market endpoints: 20 requests / s / IP (the adapter's bucket).

USDT-M sizes are base coin (contract size 1), so volumes need no conversion.
"""

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from schemas.common import ExchangeId, InstrumentEvent
from services.backfill.core.plan import NS_PER_MS, NS_PER_S, What, Window
from services.backfill.history import Endpoint, HistoryRejected, VenueHistory
from services.ingest.venue import RestRequest
from services.instruments.catalog import Instrument, InstrumentCatalog

_DOCS = "www.bitget.com/api-doc/contract/market"
PRODUCT_TYPE = "USDT-FUTURES"

# UTC lines from 6 h up: the plain 6H/12H/1D bars open on UTC+8, off the epoch grid.
INTERVALS = {
    60: "1m", 180: "3m", 300: "5m", 900: "15m", 1800: "30m", 3600: "1H", 14400: "4H",
    21600: "6Hutc", 43200: "12Hutc", 86400: "1Dutc",
}  # fmt: skip
KLINE_LIMIT = 200
MAX_QUERY_RANGE_S = 90 * 86400
FUNDING_PAGE_SIZE = 100
FUNDING_WINDOW_S = 12 * 3600
"""Each funding page covers 12 h: at most 13 settlements of a 1 h interval, centred in an answer
of up to 100 rows with room either side for a changed interval."""
FUNDING_SLACK = 12
"""Rows asked for beyond each end of the window, so a few settlements more or fewer than the
instrument's interval predicts still leave the window inside the answer."""


def funding_page(newest_index: int, oldest_index: int) -> tuple[int, int]:
    """(pageNo, pageSize) of a newest-first list whose one page holds rows
    ``[newest_index, oldest_index)`` (0 = the latest settlement)."""
    wanted = oldest_index - newest_index
    for size in range(FUNDING_PAGE_SIZE, wanted - 1, -1):
        if newest_index % size + wanted <= size:
            return newest_index // size + 1, size
    raise ValueError(
        f"no page of at most {FUNDING_PAGE_SIZE} rows holds rows [{newest_index}, {oldest_index})"
    )


class BitgetHistory(VenueHistory):
    exchange = ExchangeId.BITGET
    endpoints = {
        What.KLINES: Endpoint(
            "/api/v2/mix/market/history-candles",
            KLINE_LIMIT,
            f"{_DOCS}/Get-History-Candle-Data",
            note="199 bars a page, at most 90 days",
        ),
        What.FUNDING: Endpoint(
            "/api/v2/mix/market/history-fund-rate",
            FUNDING_PAGE_SIZE,
            f"{_DOCS}/Get-History-Funding-Rate",
            note="pageNo / pageSize only: a page number per 12 h window",
        ),
    }
    not_offered = {
        What.OI: "Bitget's v2 market endpoints serve only the current open interest (/api/v2/mix/market/open-interest)",
    }
    kline_intervals = INTERVALS

    def __init__(self, catalog: InstrumentCatalog) -> None:
        super().__init__(catalog)
        self.clock_ns: Callable[[], int] = time.time_ns
        self._asked: tuple[Window, int, int] | None = None
        """The funding window, pageNo and pageSize of the last funding request, for ``parse``."""

    def span_ns(self, what: What, interval_s: int) -> int:
        if what is What.KLINES:
            bars = min(KLINE_LIMIT - 1, MAX_QUERY_RANGE_S // self.record_interval_s(what, interval_s))
            return bars * interval_s * NS_PER_S
        if what is What.FUNDING:
            return FUNDING_WINDOW_S * NS_PER_S
        return super().span_ns(what, interval_s)

    def request(self, what: What, instrument: Instrument, page: Window, interval_s: int) -> RestRequest:
        base = {"symbol": instrument.native_symbol, "productType": PRODUCT_TYPE}
        if what is What.KLINES:
            return RestRequest(
                "/api/v2/mix/market/history-candles",
                {**base, "granularity": INTERVALS[interval_s], "startTime": str(page.start_ns // NS_PER_MS),
                 "endTime": str(page.end_ns // NS_PER_MS), "limit": str(KLINE_LIMIT)},
            )  # fmt: skip
        if what is What.FUNDING:
            page_no, size = self._funding_page(instrument, page)
            self._asked = (page, page_no, size)
            return RestRequest(
                "/api/v2/mix/market/history-fund-rate",
                {**base, "pageSize": str(size), "pageNo": str(page_no)},
            )
        raise ValueError("bitget offers no open-interest history")

    def _funding_page(self, instrument: Instrument, page: Window) -> tuple[int, int]:
        """The page holding the window's settlements, counting back from the latest one on the
        instrument's funding interval (settlements fall on its multiples)."""
        step = instrument.funding_interval_s * NS_PER_S
        latest = self.clock_ns() // step
        newest = max(0, latest - (page.end_ns - 1) // step)
        oldest = max(0, latest - -(-page.start_ns // step) + 1)
        return funding_page(max(0, newest - FUNDING_SLACK), max(newest, oldest) + FUNDING_SLACK)

    def parse(
        self, what: What, instrument: Instrument, payload: Any, interval_s: int, receive_ns: int
    ) -> list[InstrumentEvent]:
        if not isinstance(payload, dict) or payload.get("code") != "00000":
            message = payload.get("msg") if isinstance(payload, dict) else str(payload)[:200]
            raise HistoryRejected(f"bitget {what.value}: {message}")
        rows = payload["data"]
        events: list[InstrumentEvent]
        if what is What.KLINES:
            events = [
                self.candle(
                    instrument,
                    open_ms=int(row[0]),
                    interval_s=interval_s,
                    prices=(row[1], row[2], row[3], row[4]),
                    volume=instrument.base_quantity(Decimal(str(row[5])), Decimal(str(row[4]))),
                    notional=Decimal(str(row[6])),
                    trade_count=0,  # Bitget candles carry no trade count
                    receive_ns=receive_ns,
                )
                for row in rows
            ]
        else:
            self._check_funding_reach(rows)
            events = [
                self.funding(
                    instrument,
                    funding_ms=int(row["fundingTime"]),
                    rate=row["fundingRate"],
                    receive_ns=receive_ns,
                )
                for row in rows
            ]
        return sorted(events, key=lambda e: e.exchange_ts)

    def _check_funding_reach(self, rows: list[dict[str, Any]]) -> None:
        """A page reckoned from the interval misses its window when the interval changed in
        between: that is an error to report, never a window to mark covered with rows missing."""
        if self._asked is None:
            return  # parsing an answer on its own (a documented example): nothing to check it against
        window, page_no, size = self._asked
        times = [int(row["fundingTime"]) * NS_PER_MS for row in rows]
        reaches_back = len(rows) < size or (bool(times) and min(times) < window.start_ns)
        reaches_forward = page_no == 1 or (bool(times) and max(times) >= window.end_ns)
        if not (reaches_back and reaches_forward):
            raise HistoryRejected(
                f"bitget funding: page {page_no} of {size} does not span the window "
                f"[{window.start_ns // NS_PER_MS}, {window.end_ns // NS_PER_MS}) ms: the funding interval "
                "changed since (the page number is off), or the window is older than the venue's history"
            )
