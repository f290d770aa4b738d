"""CoinDCX USDT-M futures history (docs.coindcx.com, "Futures End Points").

- Get instrument candlesticks: ``GET https://public.coindcx.com/market_data/candlesticks`` pair
  (``B-BTC_USDT``), from, to (EPOCH SECONDS), resolution (``1`` ``5`` ``60`` ``1D``: 1 min,
  5 min, 1 hour, 1 day), pcode (the static ``f``, product = futures); the answer is ``{"s": "ok",
  "data": [{open, high, low, volume, close, time}]}``, ``time`` the open time in ms, ``volume``
  "in terms of the quantity of the pair" (base coin); the example is oldest first. No quote
  volume and no trade count. The page states no maximum bars per answer: a page here is 500 bars
  (the default of the spot candles endpoint, whose maximum is 1000), an assumption to revisit
  against a real answer.
- The market data are on ``public.coindcx.com``, not the ``api.coindcx.com`` host of the
  instrument endpoints the ingest adapter uses; its rate limit is shared (none is documented).
- Funding: the futures section documents only the current rate (``fr`` in
  ``currentPrices@futures``); no history endpoint was found.
- Open interest: none, current or historical.
"""

from decimal import Decimal
from typing import Any

from schemas.common import ExchangeId, InstrumentEvent
from services.backfill.core.plan import NS_PER_S, What, Window
from services.backfill.history import Endpoint, HistoryRejected, VenueHistory
from services.ingest.venue import RestRequest
from services.instruments.catalog import Instrument, InstrumentCatalog

_DOCS = "docs.coindcx.com"

MARKET_DATA_URL = "https://public.coindcx.com"
RESOLUTIONS = {60: "1", 300: "5", 3600: "60", 86400: "1D"}
KLINE_PAGE = 500


class CoindcxHistory(VenueHistory):
    exchange = ExchangeId.COINDCX
    endpoints = {
        What.KLINES: Endpoint(
            "/market_data/candlesticks",
            KLINE_PAGE,
            f"{_DOCS} (Futures End Points: Get instrument candlesticks)",
            note="on public.coindcx.com; page size assumed (none documented)",
        ),
    }
    not_offered = {
        What.FUNDING: "CoinDCX documents only the current funding rate (currentPrices@futures), no history",
        What.OI: "CoinDCX documents no open-interest history",
    }
    kline_intervals = RESOLUTIONS

    def __init__(self, catalog: InstrumentCatalog) -> None:
        super().__init__(catalog)
        self.rest_url = MARKET_DATA_URL

    def request(self, what: What, instrument: Instrument, page: Window, interval_s: int) -> RestRequest:
        if what is not What.KLINES:
            raise ValueError(f"coindcx offers no {what.value} history")
        return RestRequest(
            "/market_data/candlesticks",
            {
                "pair": instrument.native_symbol,
                "from": str(page.start_ns // NS_PER_S),
                "to": str(page.end_ns // NS_PER_S),
                "resolution": RESOLUTIONS[interval_s],
                "pcode": "f",
            },
        )

    def parse(
        self, what: What, instrument: Instrument, payload: Any, interval_s: int, receive_ns: int
    ) -> list[InstrumentEvent]:
        if not isinstance(payload, dict) or payload.get("s") != "ok":
            raise HistoryRejected(f"coindcx {what.value}: {str(payload)[:200]}")
        events = []
        for row in payload["data"]:
            close = Decimal(str(row["close"]))
            volume = instrument.base_quantity(Decimal(str(row["volume"])), close)
            events.append(
                self.candle(
                    instrument,
                    open_ms=int(row["time"]),
                    interval_s=interval_s,
                    prices=(row["open"], row["high"], row["low"], row["close"]),
                    volume=volume,
                    # No quote volume in the answer: the notional is estimated as volume x close.
                    notional=volume * instrument.base_price(close),
                    trade_count=0,
                    receive_ns=receive_ns,
                )
            )
        return sorted(events, key=lambda e: e.exchange_ts)
