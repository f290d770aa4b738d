"""Phemex perpetuals, as the simulator speaks it: USDT-M "hedged" contracts (real values) and legacy
contracts (scaled integers).

Protocol (https://github.com/phemex/phemex-api-docs: Public-Hedged-Perpetual-API.md and
Public-Contract-API-en.md; https://phemex-docs.github.io/#query-product-information-3): requests
``{"id", "method": "<x>.subscribe", "params"}`` are answered ``{"error": null, "id", "result":
{"status": "success"}}``; ``server.ping`` is answered ``{"error": null, "id", "result": "pong"}``
and a connection that sent nothing for 30 s is closed; at most 20 subscriptions per connection.

- Hedged (BTCUSDT): ``orderbook_p`` (a ``snapshot`` on subscribe, then ``incremental`` frames;
  ``[price, size]`` strings, size 0 deletes), ``trade_p`` (a snapshot of recent trades, then
  incrementals; ``[ns, side, price, size]``) and the venue-wide ``perp_market24h_pack_p``
  (``fields`` + ``data`` rows: ``fundingRateRr``, ``markRp``, ``indexRp``, ``openInterestRv``).
- Legacy (BTCUSD inverse, ETHUSD): ``orderbook``/``book`` and ``trade``/``trades`` with ``Ep``
  prices scaled by 10^4 and sizes in contracts, and the venue-wide ``market24h`` (``Er`` rates
  scaled by 10^8, open interest in contracts).

Book frames carry ``sequence``, which increases but is not contiguous (the model's update id);
times are nanoseconds. No BBO and no liquidation channel is public.
"""

from collections import deque
from decimal import Decimal
from typing import Any

import orjson

from schemas.common import ExchangeId, Side
from services.ingest.venue import Channel
from services.simulator.dialect import BaseDialect, HttpReply, HttpRequest, OutFrame, Session, ms
from services.simulator.model import BookChange, FundingPrint, Grid, MarketEvent, TradePrint
from services.venues.phemex.adapter import PRICE_SCALE

_PRICE_FACTOR = Decimal(10) ** PRICE_SCALE
_RATIO_FACTOR = Decimal(10) ** 8
_HEDGED_QUOTES = ("USDT", "USDC")
_MAX_SUBSCRIPTIONS = 20
_BOOK_DEPTH = 30
_RECENT_TRADES = 5
_IDLE_CLOSE_NS = 30 * 1_000_000_000
_PACK = "perp_market24h_pack_p"
_LEGACY_TICKER = "market24h"
_PACK_FIELDS = [
    "symbol",
    "openRp",
    "highRp",
    "lowRp",
    "lastRp",
    "volumeRq",
    "turnoverRv",
    "openInterestRv",
    "indexRp",
    "markRp",
    "fundingRateRr",
    "predFundingRateRr",
]


def _hedged(grid: Grid) -> bool:
    return grid.symbol.split("-")[1] in _HEDGED_QUOTES


class PhemexDialect(BaseDialect):
    exchange = ExchangeId.PHEMEX

    def __init__(self) -> None:
        super().__init__()
        self._recent_trades: dict[str, deque[list[Any]]] = {}

    # --- numbers: hedged contracts write real strings, legacy ones scaled integers --------------

    def _price(self, grid: Grid, ticks: int) -> str | int:
        price = ticks * grid.tick
        return format(price, "f") if _hedged(grid) else int(price * _PRICE_FACTOR)

    def _size(self, grid: Grid, lots: int) -> str | int:
        return self.qty(grid, lots) if _hedged(grid) else int(lots * grid.lot)

    def _levels(self, grid: Grid, levels: Any) -> list[list[str | int]]:
        return [[self._price(grid, p), self._size(grid, q)] for p, q in levels]

    # --- connection -----------------------------------------------------------------------------

    def open_session(self, session: Session, now_ns: int) -> list[OutFrame]:
        session.extra["last_heard"] = now_ns
        return []

    def heartbeat(self, session: Session, now_ns: int) -> list[OutFrame]:
        if now_ns - session.extra.get("last_heard", now_ns) > _IDLE_CLOSE_NS:
            return [OutFrame("", close_code=1000)]
        return []

    def _error(self, request_id: Any, code: int, message: str) -> OutFrame:
        return self.reply({"error": {"code": code, "message": message}, "id": request_id, "result": None})

    def on_message(self, session: Session, text: str, now_ns: int) -> list[OutFrame]:
        session.extra["last_heard"] = now_ns
        try:
            request = orjson.loads(text)
            method, request_id = request["method"], request.get("id")
            params = request.get("params") or []
            if not isinstance(params, list):
                raise TypeError("params must be a list")
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return [self._error(None, 6001, "invalid argument")]
        if method == "server.ping":
            return [self.reply({"error": None, "id": request_id, "result": "pong"})]
        name, _, verb = str(method).rpartition(".")
        if verb not in ("subscribe", "unsubscribe"):
            return [self._error(request_id, 6001, f"invalid method {method}")]
        topic = self._topic(name, params)
        if topic is None:
            return [self._error(request_id, 6001, "invalid argument")]
        ok = self.reply({"error": None, "id": request_id, "result": {"status": "success"}})
        if verb == "unsubscribe":
            session.topics.discard(topic)
            return [ok]
        if topic in session.topics:
            return [ok]
        if len(session.topics) >= _MAX_SUBSCRIPTIONS:
            return [self._error(request_id, 6005, "too many subscriptions")]
        session.topics.add(topic)
        return [ok, *self._initial(topic, now_ns)]

    def _topic(self, name: str, params: list[Any]) -> str | None:
        if name in (_PACK, _LEGACY_TICKER):
            return name if not params else None
        if len(params) != 1 or params[0] not in self.grids:
            return None
        grid = self.grids[params[0]]
        expected = {True: ("orderbook_p", "trade_p"), False: ("orderbook", "trade")}[_hedged(grid)]
        return f"{name}:{grid.native_symbol}" if name in expected else None

    def _initial(self, topic: str, now_ns: int) -> list[OutFrame]:
        """The snapshots a book or trade subscription starts with."""
        name, _, native = topic.partition(":")
        if not native:
            return []
        grid = self.grids[native]
        book = self.book_view(native, _BOOK_DEPTH, now_ns)
        if name.startswith("orderbook"):
            return [self._book(grid, "snapshot", book.last, book.bids, book.asks, now_ns)]
        rows = list(reversed(self._recent_trades.get(native, ())))
        key = "trades_p" if _hedged(grid) else "trades"
        payload = {key: rows, "sequence": book.last, "symbol": native, "type": "snapshot"}
        return [OutFrame(self.dumps(payload), topic, ((Channel.TRADES, len(rows)),), native)]

    # --- streams --------------------------------------------------------------------------------

    def _book(self, grid: Grid, kind: str, sequence: int, bids: Any, asks: Any, ts: int) -> OutFrame:
        hedged = _hedged(grid)
        native = grid.native_symbol
        payload = {
            "depth": _BOOK_DEPTH,
            "orderbook_p" if hedged else "book": {
                "asks": self._levels(grid, asks),
                "bids": self._levels(grid, bids),
            },
            "sequence": sequence,
            "symbol": native,
            "timestamp": ts,
            "type": kind,
        }
        topic = f"{'orderbook_p' if hedged else 'orderbook'}:{native}"
        return OutFrame(self.dumps(payload), topic, ((Channel.BOOK, 1),), native)

    def render(self, event: MarketEvent) -> list[OutFrame]:
        grid = event.grid
        native = grid.native_symbol
        hedged = _hedged(grid)
        if isinstance(event, BookChange):
            return [self._book(grid, "incremental", event.last, event.bids, event.asks, event.ts)]
        if isinstance(event, TradePrint):
            row = [
                event.ts,
                "Buy" if event.taker is Side.BUY else "Sell",
                self._price(grid, event.price),
                self._size(grid, event.lots),
            ]
            self._recent_trades.setdefault(native, deque(maxlen=_RECENT_TRADES)).append(row)
            key = "trades_p" if hedged else "trades"
            payload = {key: [row], "sequence": event.trade_id, "symbol": native, "type": "incremental"}
            topic = f"{'trade_p' if hedged else 'trade'}:{native}"
            return [OutFrame(self.dumps(payload), topic, ((Channel.TRADES, 1),), native)]
        if isinstance(event, FundingPrint):
            carries = ((Channel.FUNDING, 1), (Channel.OPEN_INTEREST, 1))
            lots = self.market.open_interest_lots(self.exchange, native)
            if hedged:
                return [OutFrame(self.dumps(self._pack(grid, event, lots)), _PACK, carries, native)]
            return [
                OutFrame(self.dumps(self._legacy_ticker(grid, event, lots)), _LEGACY_TICKER, carries, native)
            ]
        return []  # open interest rides on the 24 h tickers; no BBO, no liquidations

    def _pack(self, grid: Grid, event: FundingPrint, lots: int) -> dict[str, Any]:
        """One pack per funding print: a row for the symbol whose tickers moved this tick."""
        mark, index = self.px(grid, event.mark), self.px(grid, event.index)
        values = {
            "symbol": grid.native_symbol,
            "openRp": mark,
            "highRp": mark,
            "lowRp": mark,
            "lastRp": mark,
            "volumeRq": "0",
            "turnoverRv": "0",
            "openInterestRv": self.qty(grid, lots),
            "indexRp": index,
            "markRp": mark,
            "fundingRateRr": self.decimal(event.rate),
            "predFundingRateRr": self.decimal(event.rate),
        }
        return {
            "data": [[values[field] for field in _PACK_FIELDS]],
            "fields": _PACK_FIELDS,
            "method": f"{_PACK}.update",
            "timestamp": event.ts,
            "type": "snapshot",
        }

    def _legacy_ticker(self, grid: Grid, event: FundingPrint, lots: int) -> dict[str, Any]:
        mark = self._price(grid, event.mark)
        ticker = {
            "close": mark,
            "fundingRate": int(event.rate * _RATIO_FACTOR),
            "high": mark,
            "indexPrice": self._price(grid, event.index),
            "low": mark,
            "markPrice": mark,
            "open": mark,
            "openInterest": int(lots * grid.lot),
            "predFundingRate": int(event.rate * _RATIO_FACTOR),
            "symbol": grid.native_symbol,
            "timestamp": event.ts,
            "turnover": 0,
            "volume": 0,
        }
        return {_LEGACY_TICKER: ticker, "timestamp": event.ts}

    # --- REST -----------------------------------------------------------------------------------

    def rest(self, request: HttpRequest, now_ns: int) -> HttpReply:
        if request.path == "/public/products":
            products = [self._legacy_product(g) for g in self.grids.values() if not _hedged(g)]
            hedged = [self._hedged_product(g) for g in self.grids.values() if _hedged(g)]
            data = {"currencies": [], "products": products, "perpProductsV2": hedged}
            return HttpReply.json({"code": 0, "msg": "", "data": data})
        if request.path == "/public/time":
            return HttpReply.json({"code": 0, "msg": "", "data": {"serverTime": ms(now_ns)}})
        return HttpReply.json({"code": 404, "msg": f"unknown path {request.path}"}, 404)

    @staticmethod
    def _legacy_product(grid: Grid) -> dict[str, Any]:
        base, quote = grid.symbol.split("-")[:2]
        return {
            "symbol": grid.native_symbol,
            "type": "Perpetual",
            "status": "Listed",
            # An inverse contract's underlying is the quote currency (1 USD per contract).
            "contractUnderlyingAssets": quote if grid.inverse else base,
            "settleCurrency": base if grid.inverse else quote,
            "quoteCurrency": quote,
            "contractSize": float(grid.contract_size),
            "lotSize": int(grid.lot),
            "tickSize": float(grid.tick),
            "priceScale": PRICE_SCALE,
            "ratioScale": 8,
            "fundingInterval": grid.funding_interval_s,
        }

    @staticmethod
    def _hedged_product(grid: Grid) -> dict[str, Any]:
        base, quote = grid.symbol.split("-")[:2]
        return {
            "symbol": grid.native_symbol,
            "type": "PerpetualV2",
            "status": "Listed",
            "baseCurrency": base,
            "contractUnderlyingAssets": base,
            "settleCurrency": quote,
            "quoteCurrency": quote,
            "tickSize": format(grid.tick, "f"),
            "qtyStepSize": format(grid.lot, "f"),
            "priceScale": 0,
            "fundingInterval": grid.funding_interval_s,
        }
