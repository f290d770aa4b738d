"""Deribit history (docs.deribit.com/api-reference/market-data/...): JSON-RPC over HTTP GET.

Every method is ``GET /api/v2/public/<method>`` with its params in the query string, answered
``{"jsonrpc": "2.0", "result": ..., "usIn", "usOut", "usDiff", "testnet"}`` or ``{"error":
{"code", "message"}}``.

- public/get_tradingview_chart_data: instrument_name, start_timestamp, end_timestamp (ms),
  resolution (1 3 5 10 15 30 60 120 180 360 720 1D); the result is columnar: ``ticks`` (bar
  open times, ms), ``open``/``high``/``low``/``close``, ``volume`` ("in base currency"),
  ``cost`` ("volume in quote currency") and ``status`` ("ok" or "no_data"), oldest first. No
  page cap is documented; ccxt pages it by 5000 bars, and so does this module.
- public/get_funding_rate_history: instrument_name, start_timestamp, end_timestamp; one row an
  hour: ``timestamp``, ``index_price``, ``prev_index_price``, ``interest_1h``, ``interest_8h``.
  No cap is documented either; ccxt pages it by 744 hours, this module by 720 (30 days).
- Open interest: only current values (ticker, get_book_summary_by_instrument), no history.

Funding is continuous on Deribit (support.deribit.com "Funding Specifications"): an hourly row
is stored as the live ticker's ``funding_8h`` is (services/venues/deribit/adapter.py), the 8-hour
rate ``interest_8h`` with an 8-hour interval, and ``next_funding_ts`` is the row's own time (the
next accrual is immediate). ``volume`` is base units for every perpetual (BTC for the inverse
BTC-PERPETUAL, whose orders are USD amounts), ``cost`` the quote notional.
"""

from decimal import Decimal
from typing import Any

from schemas.common import ExchangeId, InstrumentEvent
from schemas.market_data import Funding
from services.backfill.core.plan import NS_PER_MS, What, Window
from services.backfill.history import Endpoint, HistoryRejected, VenueHistory
from services.ingest.parsing import event_ids
from services.ingest.venue import RestRequest
from services.instruments.catalog import Instrument

_DOCS = "docs.deribit.com/api-reference/market-data"
CHART_PATH = "/api/v2/public/get_tradingview_chart_data"
FUNDING_PATH = "/api/v2/public/get_funding_rate_history"

RESOLUTIONS = {
    60: "1", 180: "3", 300: "5", 600: "10", 900: "15", 1800: "30", 3600: "60", 7200: "120",
    10800: "180", 21600: "360", 43200: "720", 86400: "1D",
}  # fmt: skip
MAX_BARS = 5000
FUNDING_HOURS = 720
RATE_WINDOW_S = 8 * 3600
"""``interest_8h`` is the rate over eight hours, as the live ``funding_8h``."""


class DeribitHistory(VenueHistory):
    exchange = ExchangeId.DERIBIT
    endpoints = {
        What.KLINES: Endpoint(
            CHART_PATH,
            MAX_BARS,
            f"{_DOCS}/public-get_tradingview_chart_data",
            note="no documented cap; 5000 bars a request as ccxt",
        ),
        What.FUNDING: Endpoint(
            FUNDING_PATH,
            FUNDING_HOURS,
            f"{_DOCS}/public-get_funding_rate_history",
            note="hourly rows of continuous funding",
        ),
    }
    not_offered = {
        What.OI: "Deribit serves only the current open interest (ticker, get_book_summary_by_instrument)",
    }
    kline_intervals = RESOLUTIONS
    min_funding_interval_s = 3600

    def request(self, what: What, instrument: Instrument, page: Window, interval_s: int) -> RestRequest:
        params = {
            "instrument_name": instrument.native_symbol,
            "start_timestamp": str(page.start_ns // NS_PER_MS),
            "end_timestamp": str(page.end_ns // NS_PER_MS - 1),  # both ends are inclusive
        }
        if what is What.KLINES:
            return RestRequest(CHART_PATH, {**params, "resolution": RESOLUTIONS[interval_s]})
        if what is What.FUNDING:
            return RestRequest(FUNDING_PATH, params)
        raise ValueError("deribit offers no open-interest history")

    def parse(
        self, what: What, instrument: Instrument, payload: Any, interval_s: int, receive_ns: int
    ) -> list[InstrumentEvent]:
        if not isinstance(payload, dict) or "result" not in payload:
            error = payload.get("error") if isinstance(payload, dict) else payload
            raise HistoryRejected(f"deribit {what.value}: {str(error)[:200]}")
        result = payload["result"]
        if what is What.KLINES:
            return self._candles(instrument, result, interval_s, receive_ns)
        return [self._funding(instrument, row, receive_ns) for row in result]

    def _candles(
        self, instrument: Instrument, result: dict[str, Any], interval_s: int, receive_ns: int
    ) -> list[InstrumentEvent]:
        if result.get("status") == "no_data":
            return []
        if result.get("status") != "ok":
            raise HistoryRejected(f"deribit klines: status {result.get('status')!r}")
        columns = (result[name] for name in ("ticks", "open", "high", "low", "close", "volume", "cost"))
        return [
            self.candle(
                instrument,
                open_ms=int(tick),
                interval_s=interval_s,
                prices=(o, h, low, c),
                volume=Decimal(str(volume)),
                notional=Decimal(str(cost)),
                trade_count=0,  # the chart data carries no trade count
                receive_ns=receive_ns,
            )
            for tick, o, h, low, c, volume, cost in zip(*columns, strict=True)
        ]

    @staticmethod
    def _funding(instrument: Instrument, row: dict[str, Any], receive_ns: int) -> InstrumentEvent:
        ts = int(row["timestamp"]) * NS_PER_MS
        index = row.get("index_price")
        return Funding(
            **event_ids(instrument, ts, receive_ns),
            rate=Decimal(str(row["interest_8h"])),
            interval_s=RATE_WINDOW_S,
            next_funding_ts=ts,  # continuous funding: the next accrual is now
            index_price=instrument.base_price(Decimal(str(index))) if index else None,
        )
