"""Binance COIN-M (inverse) perpetuals, by reusing the USD-M parser with inverse units.

Docs checked:
- https://developers.binance.com/docs/derivatives/coin-margined-futures/websocket-market-streams
  — ``wss://dstream.binance.com``, combined streams at ``/stream`` wrapped as ``{"stream", "data"}``;
  the server pings every 3 minutes; 10 incoming messages per second; 1024 streams per connection.
  The stream payloads are the USD-M ones (``aggTrade``, ``depthUpdate`` with ``U``/``u``/``pu``,
  ``bookTicker``, ``markPriceUpdate``, ``forceOrder``) plus a ``ps`` pair field.
- https://developers.binance.com/docs/derivatives/coin-margined-futures/market-data/rest-api —
  ``GET /dapi/v1/depth`` (limit 1000 weighs 20), ``GET /dapi/v1/openInterest`` (in contracts),
  ``GET /dapi/v1/exchangeInfo`` (``contractSize`` in USD, ``contractStatus``); 2,400 weight/minute.

Units: every quantity is CONTRACTS of ``contractSize`` USD (100 for BTCUSD_PERP, 10 for the
others). In base units a quantity is ``contracts * contractSize / price`` and its notional is
``contracts * contractSize`` USD: ``Instrument.base_quantity``/``notional`` do both once the
instrument is ``inverse``. The USD-M parser converts levels, trades and liquidations through the
instrument, so this module only adds the COIN-M endpoints and the mark-price memory.

Open interest is polled over REST, in contracts: converting it to base units needs a price, so
``normalize_open_interest`` takes the mark price, or falls back to the last ``markPriceUpdate``
seen for the symbol.
"""

from decimal import Decimal

from schemas.common import ExchangeId, InstrumentEvent
from schemas.market_data import Funding, OpenInterest
from services.ingest.normalizer import FrameRejected, JsonObject
from services.ingest.parsing import as_frame_rejected
from services.ingest.venue import RestRequest
from services.instruments.catalog import Instrument, InstrumentCatalog
from services.venues.binance_usdm.adapter import BinanceUsdmAdapter, BinanceUsdmNormalizer


class BinanceCoinmNormalizer(BinanceUsdmNormalizer):
    exchange = ExchangeId.BINANCE_COINM

    def __init__(self, catalog: InstrumentCatalog) -> None:
        super().__init__(catalog)
        self._last_mark: dict[str, Decimal] = {}

    def _mark_price(self, data: JsonObject, receive_ts: int) -> Funding:
        funding = super()._mark_price(data, receive_ts)
        if funding.mark_price is not None:
            self._last_mark[funding.native_symbol] = funding.mark_price
        return funding

    def normalize_open_interest(
        self, payload: JsonObject, receive_ts: int, mark_price: Decimal | None = None
    ) -> list[InstrumentEvent]:
        """GET /dapi/v1/openInterest: ``{"symbol", "pair", "openInterest" (contracts), "contractType", "time"}``."""
        with as_frame_rejected("open interest"):
            instrument = self._catalog.get(self.exchange, payload["symbol"])
            price = mark_price if mark_price is not None else self._last_mark.get(instrument.native_symbol)
            if price is None or not price > 0:
                raise FrameRejected(
                    "missing_price", f"no mark price to convert {instrument.native_symbol} contracts"
                )
            contracts = Decimal(payload["openInterest"])
            return [
                OpenInterest(
                    **self._ids(instrument, payload["time"], receive_ts),
                    open_interest=instrument.base_quantity(contracts, price),
                    open_interest_notional=instrument.notional(contracts, price),
                )
            ]


class BinanceCoinmAdapter(BinanceUsdmAdapter):
    """Protocol facts of Binance COIN-M; streams, capabilities and framing are USD-M's."""

    exchange = ExchangeId.BINANCE_COINM
    ws_url = "wss://dstream.binance.com/stream"
    rest_url = "https://dapi.binance.com"
    # 1024 streams are allowed per connection; 200 keeps reconnect storms small.
    max_subscriptions_per_connection = 200

    def __init__(self, catalog: InstrumentCatalog) -> None:
        self.normalizer = BinanceCoinmNormalizer(catalog)

    def book_snapshot_request(self, native_symbol: str) -> RestRequest | None:
        return RestRequest("/dapi/v1/depth", {"symbol": native_symbol, "limit": "1000"}, weight=20)

    def open_interest_request(self, native_symbol: str) -> RestRequest:
        return RestRequest("/dapi/v1/openInterest", {"symbol": native_symbol}, weight=1)

    def instruments_request(self) -> RestRequest:
        return RestRequest("/dapi/v1/exchangeInfo", weight=1)

    def parse_instruments(self, payload: JsonObject) -> list[Instrument]:
        instruments = []
        for entry in payload["symbols"]:
            if entry.get("contractType") != "PERPETUAL" or entry.get("contractStatus") != "TRADING":
                continue
            filters = {f["filterType"]: f for f in entry["filters"]}
            instruments.append(
                Instrument(
                    exchange=self.exchange,
                    native_symbol=entry["symbol"],
                    base=entry["baseAsset"],
                    quote=entry["quoteAsset"],
                    tick_size=Decimal(filters["PRICE_FILTER"]["tickSize"]).normalize(),
                    lot_size=Decimal(filters["LOT_SIZE"]["stepSize"]).normalize(),
                    contract_size=Decimal(str(entry["contractSize"])),
                    inverse=True,
                )
            )
        return instruments
