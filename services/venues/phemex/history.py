"""Phemex USDT-M perpetual ("hedged" contract) history (phemex-docs.github.io, "Hedged Contract Rest
API"; source github.com/phemex-docs/phemex-docs.github.io, source/includes/_contract.md).

- Query kline: ``GET /exchange/public/md/v2/kline/list`` symbol, from, to (SECONDS, "aligned in
  resolution boundary"), resolution (60 300 900 1800 3600 14400 86400 ...); "Number of k-lines
  return between [from, to) should be less than 2000"; a row is ``[timestamp (s), interval,
  last_close, open, high, low, close, volume, turnover]`` (the page gives the layout, no example
  with numbers); "Kline under generation beyond the latest interval is not included". The
  recommended ``kline/last`` takes only a limit and cannot page back. Kline calls are in the
  "Others" rate-limit group, 100 / minute (Generic-API-Info.en.md, "API Groups"). A page here
  is 1000 bars.
- Query funding rate history: ``GET /api-data/public/data/funding-rate-history`` symbol (the
  funding-rate symbol: ``.ETHUSDTFR8H`` for ETHUSDT), start, end (ms, both INCLUSIVE), limit
  (default 100, max 100); ascending by ``fundingTime``; ``data.rows`` items ``{symbol,
  fundingRate, fundingTime, intervalSeconds}``.
- Open interest: only the current ``openInterestRv`` (24 h ticker); no history.

Hedged contracts write real values: prices as quoted, volume in the base coin, turnover in the
quote. Legacy contracts (BTCUSD, ETHUSD ...: ``Ep`` prices scaled by 10^4, contract volumes,
``/exchange/public/md/kline`` and ``.BTCFR8H``) are not read here: a task for one ends as
``not_covered`` with that reason, before any request.
"""

from decimal import Decimal
from typing import Any

from schemas.common import ExchangeId, InstrumentEvent
from services.backfill.core.plan import NS_PER_MS, NS_PER_S, What, Window
from services.backfill.history import Endpoint, HistoryRejected, VenueHistory
from services.ingest.venue import RestRequest
from services.instruments.catalog import Instrument

_DOCS = "phemex-docs.github.io"

INTERVALS = {60: "60", 300: "300", 900: "900", 1800: "1800", 3600: "3600", 14400: "14400", 86400: "86400"}
KLINE_PAGE = 1000
FUNDING_PAGE = 100
HEDGED_QUOTES = ("USDT", "USDC")
# The adapter's bucket refills 5000 / 300 s (the IP limit); the "Others" group allows 100 / minute,
# one call per 0.6 s, which is 10 tokens of that bucket.
OTHERS_WEIGHT = 10


def funding_symbol(native_symbol: str) -> str:
    """The funding-rate symbol of a hedged contract: ETHUSDT -> ``.ETHUSDTFR8H``."""
    return f".{native_symbol}FR8H"


class PhemexHistory(VenueHistory):
    exchange = ExchangeId.PHEMEX
    endpoints = {
        What.KLINES: Endpoint(
            "/exchange/public/md/v2/kline/list",
            KLINE_PAGE,
            f"{_DOCS} (Hedged Contract Rest API: Query kline)",
            note="hedged (USDT) only",
        ),
        What.FUNDING: Endpoint(
            "/api-data/public/data/funding-rate-history",
            FUNDING_PAGE,
            f"{_DOCS} (Hedged Contract Rest API: Query funding rate history)",
            note="hedged (USDT) only",
        ),
    }
    not_offered = {
        What.OI: "Phemex serves only the current open interest (openInterestRv in the 24 h ticker)",
    }
    kline_intervals = INTERVALS

    def not_covered(self, what: What, instrument: Instrument) -> str | None:
        if instrument.quote not in HEDGED_QUOTES:
            return (
                f"{instrument.native_symbol} is a legacy (Ep-scaled) contract; "
                "this module reads hedged USDT/USDC contracts only"
            )
        return None

    def request(self, what: What, instrument: Instrument, page: Window, interval_s: int) -> RestRequest:
        if what is What.KLINES:
            return RestRequest(
                "/exchange/public/md/v2/kline/list",
                {
                    "symbol": instrument.native_symbol,
                    "resolution": INTERVALS[interval_s],
                    "from": str(page.start_ns // NS_PER_S),
                    "to": str(page.end_ns // NS_PER_S),  # [from, to)
                },
                weight=OTHERS_WEIGHT,
            )
        if what is What.FUNDING:
            return RestRequest(
                "/api-data/public/data/funding-rate-history",
                {
                    "symbol": funding_symbol(instrument.native_symbol),
                    "start": str(page.start_ns // NS_PER_MS),
                    "end": str(page.end_ns // NS_PER_MS - 1),  # inclusive
                    "limit": str(FUNDING_PAGE),
                },
                weight=OTHERS_WEIGHT,
            )
        raise ValueError("phemex offers no open-interest history")

    def parse(
        self, what: What, instrument: Instrument, payload: Any, interval_s: int, receive_ns: int
    ) -> list[InstrumentEvent]:
        if not isinstance(payload, dict) or payload.get("code") != 0:
            message = payload.get("msg", payload) if isinstance(payload, dict) else payload
            raise HistoryRejected(f"phemex {what.value}: {str(message)[:200]}")
        rows = payload["data"]["rows"]
        if what is What.KLINES:
            return [self._kline(instrument, row, interval_s, receive_ns) for row in rows]
        return [
            self.funding(
                instrument,
                funding_ms=int(row["fundingTime"]),
                rate=row["fundingRate"],
                receive_ns=receive_ns,
                interval_s=int(row["intervalSeconds"]) if row.get("intervalSeconds") else None,
            )
            for row in rows
        ]

    def _kline(
        self, instrument: Instrument, row: list[Any], interval_s: int, receive_ns: int
    ) -> InstrumentEvent:
        # [timestamp (s), interval, last_close, open, high, low, close, volume (base), turnover (quote)]
        close = Decimal(str(row[6]))
        return self.candle(
            instrument,
            open_ms=int(row[0]) * 1000,
            interval_s=interval_s,
            prices=(row[3], row[4], row[5], row[6]),
            volume=instrument.base_quantity(Decimal(str(row[7])), close),
            notional=Decimal(str(row[8])),
            trade_count=0,  # Phemex klines carry no trade count
            receive_ns=receive_ns,
        )
