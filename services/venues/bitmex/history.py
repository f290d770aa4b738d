"""BitMEX history (www.bitmex.com/api/explorer, www.bitmex.com/app/restAPI).

- Trade: Get previous trades in time buckets: ``GET /api/v1/trade/bucketed`` binSize (1m 5m 1h
  1d), partial, symbol, count (default 100, at most 1000 rows a request), start, reverse
  (default false: oldest first), startTime, endTime (ISO-8601). "Timestamps returned by our
  bucketed endpoints are the **end** of the period"; a row (TradeBin) is timestamp, symbol,
  open, high, low, close, trades, volume (contracts), vwap, lastSize, turnover (satoshis),
  homeNotional (base coin), foreignNotional (quote currency).
- Funding: Get funding history: ``GET /api/v1/funding`` symbol, count, start, reverse,
  startTime, endTime; a row is timestamp (the settlement), symbol, fundingInterval (a time
  after 2000-01-01: "2000-01-01T08:00:00.000Z" is 8 h), fundingRate, fundingRateDaily.
- Open interest: only the live ``openInterest`` of ``GET /api/v1/instrument``, no history.

Units: ``homeNotional`` is the bar's volume in base units and ``foreignNotional`` its quote
notional for inverse (XBTUSD, 1 USD contracts) and linear (XBTUSDT) contracts alike; a bar
without them falls back to its contracts converted with the instrument at the close. XBT is
published as BTC (the instrument snapshot's base). The REST budget is small (30 requests a
minute unauthenticated), so pages are as large as the venue allows.
"""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from schemas.common import ExchangeId, InstrumentEvent
from services.backfill.core.plan import NS_PER_MS, What, Window
from services.backfill.history import Endpoint, HistoryRejected, VenueHistory
from services.ingest.venue import RestRequest
from services.instruments.catalog import Instrument

_DOCS = "www.bitmex.com/api/explorer"
BUCKETED_PATH = "/api/v1/trade/bucketed"
FUNDING_PATH = "/api/v1/funding"
MAX_COUNT = 1000
BIN_SIZES = {60: "1m", 300: "5m", 3600: "1h", 86400: "1d"}
_INTERVAL_EPOCH_MS = 946_684_800_000  # 2000-01-01T00:00Z: fundingInterval is a time after it


def iso_time(ms: int) -> str:
    """BitMEX's timestamp form, e.g. ``2024-01-01T08:00:00.000Z``."""
    moment = datetime.fromtimestamp(ms // 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def epoch_ms(value: Any) -> int:
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO-8601 time, got {type(value).__name__}")
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"time without a zone: {value!r}")
    return round(moment.timestamp() * 1000)


class BitmexHistory(VenueHistory):
    exchange = ExchangeId.BITMEX
    endpoints = {
        What.KLINES: Endpoint(
            BUCKETED_PATH, MAX_COUNT, f"{_DOCS}/#!/Trade/Trade_getBucketed", note="timestamp = bucket end"
        ),
        What.FUNDING: Endpoint(FUNDING_PATH, MAX_COUNT, f"{_DOCS}/#!/Funding/Funding_get"),
    }
    not_offered = {
        What.OI: "BitMEX serves only the current open interest (GET /api/v1/instrument openInterest)",
    }
    kline_intervals = BIN_SIZES

    def request(self, what: What, instrument: Instrument, page: Window, interval_s: int) -> RestRequest:
        start_ms, end_ms = page.start_ns // NS_PER_MS, page.end_ns // NS_PER_MS
        if what is What.KLINES:
            bars = page.span_ns // (interval_s * 1_000_000_000)
            # Buckets are stamped with their end: the page's first bar ends one bin after it starts.
            return RestRequest(
                BUCKETED_PATH,
                {
                    "binSize": BIN_SIZES[interval_s],
                    "partial": "false",
                    "symbol": instrument.native_symbol,
                    "count": str(bars),
                    "reverse": "false",
                    "startTime": iso_time(start_ms + interval_s * 1000),
                    "endTime": iso_time(end_ms),
                },
            )
        if what is What.FUNDING:
            return RestRequest(
                FUNDING_PATH,
                {
                    "symbol": instrument.native_symbol,
                    "count": str(MAX_COUNT),
                    "reverse": "false",
                    "startTime": iso_time(start_ms),
                    "endTime": iso_time(end_ms - 1),
                },
            )
        raise ValueError("bitmex offers no open-interest history")

    def parse(
        self, what: What, instrument: Instrument, payload: Any, interval_s: int, receive_ns: int
    ) -> list[InstrumentEvent]:
        if not isinstance(payload, list):
            error = payload.get("error") if isinstance(payload, dict) else payload
            raise HistoryRejected(f"bitmex {what.value}: {str(error)[:200]}")
        if what is What.KLINES:
            bars = [self._bar(instrument, row, interval_s, receive_ns) for row in payload]
            events = [bar for bar in bars if bar is not None]
        else:
            events = [self._funding(instrument, row, receive_ns) for row in payload]
        return sorted(events, key=lambda e: e.exchange_ts)  # oldest first, whatever ``reverse`` was

    def _bar(
        self, instrument: Instrument, row: dict[str, Any], interval_s: int, receive_ns: int
    ) -> InstrumentEvent | None:
        if row.get("close") is None:
            return None  # a bucket without a price: nothing to record
        close = Decimal(str(row["close"]))
        contracts = Decimal(str(row.get("volume") or 0))
        home, foreign = row.get("homeNotional"), row.get("foreignNotional")
        return self.candle(
            instrument,
            open_ms=epoch_ms(row["timestamp"]) - interval_s * 1000,
            interval_s=interval_s,
            prices=(row["open"], row["high"], row["low"], row["close"]),
            volume=Decimal(str(home)) if home is not None else instrument.base_quantity(contracts, close),
            notional=Decimal(str(foreign)) if foreign is not None else instrument.notional(contracts, close),
            trade_count=int(row.get("trades") or 0),
            receive_ns=receive_ns,
        )

    def _funding(self, instrument: Instrument, row: dict[str, Any], receive_ns: int) -> InstrumentEvent:
        interval = row.get("fundingInterval")
        return self.funding(
            instrument,
            funding_ms=epoch_ms(row["timestamp"]),
            rate=row["fundingRate"],
            interval_s=(epoch_ms(interval) - _INTERVAL_EPOCH_MS) // 1000 if interval else None,
            receive_ns=receive_ns,
        )
