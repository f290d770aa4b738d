"""Gate.io USDT-settled perpetual history (www.gate.com/docs/developers/apiv4/en/, Futures).

- Futures market K-line chart: ``GET /futures/{settle}/candlesticks`` contract, from, to (Unix
  seconds), interval (1m 5m 15m 30m 1h 4h 8h 1d 7d), limit (conflicts with from / to: never sent
  here); "Maximum of 2000 points are returned in one query"; an item is ``{t, v, c, h, l, o,
  sum}`` with t in seconds, v the size in contracts and sum the volume in quote currency.
- Futures market historical funding rate: ``GET /futures/{settle}/funding_rate`` contract, limit
  (default 100), from, to (Unix seconds); an item is ``{t, r}``.
- Futures statistics: ``GET /futures/{settle}/contract_stats`` contract, from, interval (5m 15m
  30m 1h 4h 1d), limit (default 30, no maximum documented: 30 is sent); an item has ``time``
  (seconds), ``open_interest`` (contracts) and ``open_interest_usd`` (quote currency). The
  documented table lists no ``to``, yet users report the answer is the latest ``limit`` rows up
  to it; ``to`` is sent as the page's last period, so a page of exactly ``limit`` periods reads
  the same either way.
- Public futures endpoints: 200 requests / 10 s per endpoint and IP (the adapter's bucket).

``from`` / ``to`` are read as inclusive; the runner keeps only what lies inside each page. Sizes
are contracts of ``quanto_multiplier`` base coin (the instrument's contract size).
"""

from decimal import Decimal
from typing import Any

from schemas.common import ExchangeId, InstrumentEvent
from schemas.market_data import OpenInterest
from services.backfill.core.plan import NS_PER_S, What, Window
from services.backfill.history import Endpoint, HistoryRejected, VenueHistory
from services.ingest.parsing import event_ids
from services.ingest.venue import RestRequest
from services.instruments.catalog import Instrument

_DOCS = "www.gate.com/docs/developers/apiv4/en/"
# The ingest adapter's REST base is the host; Gate's v4 API lives under /api/v4. perpwatch lists
# the USDT-settled perpetuals.
_PREFIX = "/api/v4/futures/usdt"

INTERVALS = {
    60: "1m", 300: "5m", 900: "15m", 1800: "30m", 3600: "1h", 14400: "4h", 28800: "8h", 86400: "1d",
}  # fmt: skip
OI_PERIODS = {300: "5m", 900: "15m", 1800: "30m", 3600: "1h", 14400: "4h", 86400: "1d"}
MAX_POINTS = 2000
FUNDING_LIMIT = 100
STATS_LIMIT = 30


class GateioHistory(VenueHistory):
    exchange = ExchangeId.GATEIO
    endpoints = {
        What.KLINES: Endpoint(f"{_PREFIX}/candlesticks", MAX_POINTS, f"{_DOCS}#futures-market-k-line-chart"),
        What.FUNDING: Endpoint(
            f"{_PREFIX}/funding_rate", FUNDING_LIMIT, f"{_DOCS}#futures-market-historical-funding-rate"
        ),
        What.OI: Endpoint(f"{_PREFIX}/contract_stats", STATS_LIMIT, f"{_DOCS}#futures-statistics"),
    }
    kline_intervals = INTERVALS
    oi_periods = OI_PERIODS

    def request(self, what: What, instrument: Instrument, page: Window, interval_s: int) -> RestRequest:
        start_s = -(-page.start_ns // NS_PER_S)  # the first whole second inside the page
        end_s = page.end_ns // NS_PER_S
        contract = {"contract": instrument.native_symbol}
        if what is What.KLINES:
            # ``to`` is the last bar's open time: [from, to] holds exactly the page's bars.
            return RestRequest(
                f"{_PREFIX}/candlesticks",
                {**contract, "interval": INTERVALS[interval_s], "from": str(start_s),
                 "to": str(end_s - interval_s)},
            )  # fmt: skip
        if what is What.FUNDING:
            return RestRequest(
                f"{_PREFIX}/funding_rate",
                {**contract, "from": str(start_s), "to": str(-(-page.end_ns // NS_PER_S) - 1),
                 "limit": str(FUNDING_LIMIT)},
            )  # fmt: skip
        period = self.record_interval_s(What.OI, interval_s)
        return RestRequest(
            f"{_PREFIX}/contract_stats",
            {**contract, "interval": OI_PERIODS[period], "from": str(start_s), "to": str(end_s - period),
             "limit": str(page.span_ns // (period * NS_PER_S))},
        )  # fmt: skip

    def parse(
        self, what: What, instrument: Instrument, payload: Any, interval_s: int, receive_ns: int
    ) -> list[InstrumentEvent]:
        if not isinstance(payload, list):
            if isinstance(payload, dict):
                message = f"{payload.get('label')}: {payload.get('message')}"
            else:
                message = str(payload)[:200]
            raise HistoryRejected(f"gateio {what.value}: {message}")
        if what is What.KLINES:
            events = [self._kline(instrument, row, interval_s, receive_ns) for row in payload]
        elif what is What.FUNDING:
            events = [
                self.funding(
                    instrument, funding_ms=int(row["t"]) * 1000, rate=row["r"], receive_ns=receive_ns
                )
                for row in payload
            ]
        else:
            events = [self._open_interest(instrument, row, receive_ns) for row in payload]
        return sorted(events, key=lambda e: e.exchange_ts)

    def _kline(
        self, instrument: Instrument, row: dict[str, Any], interval_s: int, receive_ns: int
    ) -> InstrumentEvent:
        close = Decimal(str(row["c"]))
        return self.candle(
            instrument,
            open_ms=int(float(row["t"])) * 1000,
            interval_s=interval_s,
            prices=(row["o"], row["h"], row["l"], row["c"]),
            volume=instrument.base_quantity(Decimal(str(row["v"])), close),  # contracts -> base
            notional=Decimal(str(row["sum"])),  # quote currency
            trade_count=0,  # Gate candles carry no trade count
            receive_ns=receive_ns,
        )

    def _open_interest(self, instrument: Instrument, row: dict[str, Any], receive_ns: int) -> InstrumentEvent:
        contracts = Decimal(str(row["open_interest"]))
        mark = Decimal(str(row.get("mark_price") or 0))
        usd = row.get("open_interest_usd")
        return OpenInterest(
            **event_ids(instrument, int(row["time"]) * NS_PER_S, receive_ns),
            open_interest=instrument.base_quantity(contracts, mark),
            open_interest_notional=Decimal(str(usd)) if usd is not None else None,
        )
