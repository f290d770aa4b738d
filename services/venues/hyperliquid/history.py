"""Hyperliquid history (hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/info-endpoint).

Everything is ``POST /info`` with a JSON body:

- Candle snapshot: ``{"type": "candleSnapshot", "req": {"coin", "interval", "startTime",
  "endTime"}}``; "Only the most recent 5000 candles are available"; an item is
  ``{"t", "T", "s", "i", "o", "c", "h", "l", "v", "n"}`` (v in base units, n trades).
- Retrieve historical funding rates (perpetuals page): ``{"type": "fundingHistory", "coin",
  "startTime", "endTime"}``; at most 500 entries per answer; funding is hourly.
- Open interest: only the current value (``metaAndAssetCtxs``), no history.
"""

from decimal import Decimal
from typing import Any, cast

from schemas.common import ExchangeId, InstrumentEvent
from services.backfill.core.plan import NS_PER_MS, What, Window
from services.backfill.history import Endpoint, HistoryRejected, VenueHistory
from services.ingest.venue import RestRequest
from services.instruments.catalog import Instrument

_DOCS = "hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/info-endpoint"

INTERVALS = {
    60: "1m", 180: "3m", 300: "5m", 900: "15m", 1800: "30m", 3600: "1h", 7200: "2h",
    14400: "4h", 28800: "8h", 43200: "12h", 86400: "1d",
}  # fmt: skip
MAX_CANDLES = 5000


class HyperliquidHistory(VenueHistory):
    exchange = ExchangeId.HYPERLIQUID
    endpoints = {
        What.KLINES: Endpoint(
            "/info candleSnapshot",
            MAX_CANDLES,
            f"{_DOCS}#candle-snapshot",
            note="most recent 5000 candles only",
        ),
        What.FUNDING: Endpoint(
            "/info fundingHistory", 500, f"{_DOCS}/perpetuals#retrieve-historical-funding-rates"
        ),
    }
    not_offered = {
        What.OI: "Hyperliquid's info endpoint serves only the current open interest (metaAndAssetCtxs)",
    }
    kline_intervals = INTERVALS

    def max_age_s(self, what: What, interval_s: int) -> int | None:
        return MAX_CANDLES * interval_s if what is What.KLINES else None

    def request(self, what: What, instrument: Instrument, page: Window, interval_s: int) -> RestRequest:
        start_ms, end_ms = page.start_ns // NS_PER_MS, page.end_ns // NS_PER_MS - 1
        coin = instrument.native_symbol
        if what is What.KLINES:
            body: dict[str, Any] = {
                "type": "candleSnapshot",
                "req": {
                    "coin": coin,
                    "interval": INTERVALS[interval_s],
                    "startTime": start_ms,
                    "endTime": end_ms,
                },
            }
            # Weight 20 plus 1 per 60 candles returned (rate limits page of the docs).
            weight = 20 + page.span_ns // (interval_s * 1_000_000_000) // 60
        elif what is What.FUNDING:
            body = {"type": "fundingHistory", "coin": coin, "startTime": start_ms, "endTime": end_ms}
            weight = 20 + 500 // 20
        else:
            raise ValueError("hyperliquid offers no open-interest history")
        # RestRequest params become the JSON body of a POST; Hyperliquid wants numbers and a nested object.
        return RestRequest("/info", cast(dict[str, str], body), method="POST", weight=weight)

    def parse(
        self, what: What, instrument: Instrument, payload: Any, interval_s: int, receive_ns: int
    ) -> list[InstrumentEvent]:
        if not isinstance(payload, list):
            raise HistoryRejected(
                f"hyperliquid {what.value}: expected a JSON array, got {str(payload)[:200]}"
            )
        if what is What.KLINES:
            return [
                self.candle(
                    instrument,
                    open_ms=int(row["t"]),
                    interval_s=interval_s,
                    prices=(row["o"], row["h"], row["l"], row["c"]),
                    volume=instrument.base_quantity(Decimal(str(row["v"])), Decimal(1)),
                    notional=instrument.base_quantity(Decimal(str(row["v"])), Decimal(1))
                    * instrument.base_price(Decimal(str(row["c"]))),
                    # No quote volume in the answer: the notional is estimated as volume x close.
                    trade_count=int(row["n"]),
                    receive_ns=receive_ns,
                )
                for row in payload
            ]
        return [
            self.funding(
                instrument, funding_ms=int(row["time"]), rate=row["fundingRate"], receive_ns=receive_ns
            )
            for row in payload
        ]
