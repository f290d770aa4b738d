"""Binance USD-M futures, as the simulator speaks it.

Protocol (developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams):
combined streams at ``/stream`` (frames wrapped as ``{"stream", "data"}``), streams named in
the URL (``?streams=a/b``) or added with ``{"method": "SUBSCRIBE", "params": [...], "id": n}``,
answered ``{"result": null, "id": n}``; at most 1024 streams per connection (more closes the
connection, as Binance does). Keepalive is the server's protocol-level ping (the websockets
library's), so there is no application ping. Books bootstrap from REST ``/fapi/v1/depth``
(``lastUpdateId``) and continue with ``depthUpdate`` diffs carrying ``U``/``u``/``pu``.
Open interest is REST only (``/fapi/v1/openInterest``). Times are milliseconds.
"""

from typing import Any

import orjson

from schemas.common import ExchangeId, Side
from services.ingest.venue import Channel
from services.simulator.dialect import BaseDialect, HttpReply, HttpRequest, OutFrame, Session, ms
from services.simulator.model import (
    BookChange,
    FundingPrint,
    Grid,
    LiquidationPrint,
    MarketEvent,
    TopOfBook,
    TradePrint,
)

# Stream kinds the simulator serves; any depth speed (@0ms, @100ms, @500ms) maps to one topic.
_KINDS = {"aggTrade", "trade", "depth", "bookTicker", "markPrice", "forceOrder"}
_DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)


def _topic_of(stream: str) -> str | None:
    """``btcusdt@depth@100ms`` -> ``btcusdt@depth``; None for a stream we do not serve."""
    symbol, _, rest = stream.partition("@")
    kind = rest.split("@", 1)[0]
    if not symbol or kind not in _KINDS:
        return None
    return f"{symbol.lower()}@{kind}"


class BinanceUsdmDialect(BaseDialect):
    exchange = ExchangeId.BINANCE_USDM
    max_streams = 1024
    rest_prefix = "/fapi/v1"

    def pair_fields(self, native: str) -> dict[str, str]:
        """Fields COIN-M adds to its payloads (``ps``, the pair); none on USD-M."""
        return {}

    def open_session(self, session: Session, now_ns: int) -> list[OutFrame]:
        _, _, query = session.path.partition("?")
        for part in query.split("&"):
            name, _, value = part.partition("=")
            if name == "streams" and value:
                session.topics.update(t for t in map(_topic_of, value.split("/")) if t)
        return []

    def on_message(self, session: Session, text: str, now_ns: int) -> list[OutFrame]:
        try:
            request = orjson.loads(text)
            method, request_id = request["method"], request.get("id")
            params = request.get("params") or []
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return [self.reply({"error": {"code": 3, "msg": "Invalid JSON"}, "id": None})]
        if method == "SUBSCRIBE":
            topics = [_topic_of(str(p)) for p in params]
            if any(t is None for t in topics):
                return [
                    OutFrame(self.dumps({"error": {"code": 2, "msg": "Invalid request"}, "id": request_id}))
                ]
            session.topics.update(t for t in topics if t)
            if len(session.topics) > self.max_streams:
                too_many = {"error": {"code": 2, "msg": "Too many streams"}, "id": request_id}
                return [self.reply(too_many, close_code=1008)]
            return [self.reply({"result": None, "id": request_id})]
        if method == "UNSUBSCRIBE":
            session.topics.difference_update(t for t in map(_topic_of, map(str, params)) if t)
            return [self.reply({"result": None, "id": request_id})]
        if method == "LIST_SUBSCRIPTIONS":
            return [self.reply({"result": sorted(session.topics), "id": request_id})]
        return [self.reply({"error": {"code": 2, "msg": "Invalid request"}, "id": request_id})]

    # --- streams --------------------------------------------------------------------------------

    def _frame(self, stream: str, data: dict[str, Any], channel: Channel, native: str) -> OutFrame:
        return self.frame({"stream": stream, "data": data}, _topic_of(stream) or stream, channel, native)

    def render(self, event: MarketEvent) -> list[OutFrame]:
        grid = event.grid
        native, lower = grid.native_symbol, grid.native_symbol.lower()
        when = ms(event.ts)
        if isinstance(event, BookChange):
            data = {
                "e": "depthUpdate",
                "E": when,
                "T": when,
                "s": native,
                **self.pair_fields(native),
                "U": event.first,
                "u": event.last,
                "pu": event.prev,
                "b": self.levels(grid, event.bids),
                "a": self.levels(grid, event.asks),
            }
            return [self._frame(f"{lower}@depth@100ms", data, Channel.BOOK, native)]
        if isinstance(event, TopOfBook):
            (bid, bid_lots), (ask, ask_lots) = event.bid, event.ask
            data = {
                "e": "bookTicker",
                "u": event.update_id,
                "s": native,
                **self.pair_fields(native),
                "b": self.px(grid, bid),
                "B": self.qty(grid, bid_lots),
                "a": self.px(grid, ask),
                "A": self.qty(grid, ask_lots),
                "T": when,
                "E": when,
            }
            return [self._frame(f"{lower}@bookTicker", data, Channel.BBO, native)]
        if isinstance(event, TradePrint):
            price, quantity = self.px(grid, event.price), self.qty(grid, event.lots)
            # m: the buyer is the maker, i.e. the taker sold.
            maker_buyer = event.taker is Side.SELL
            aggregated = {
                "e": "aggTrade",
                "E": when,
                "a": event.trade_id,
                "s": native,
                "p": price,
                "q": quantity,
                "f": event.trade_id,
                "l": event.trade_id,
                "T": when,
                "m": maker_buyer,
            }
            single = {
                "e": "trade",
                "E": when,
                "T": when,
                "s": native,
                "t": event.trade_id,
                "p": price,
                "q": quantity,
                "X": "MARKET",
                "m": maker_buyer,
            }
            return [
                self._frame(f"{lower}@aggTrade", aggregated, Channel.TRADES, native),
                self._frame(f"{lower}@trade", single, Channel.TRADES, native),
            ]
        if isinstance(event, FundingPrint):
            data = {
                "e": "markPriceUpdate",
                "E": when,
                "s": native,
                "p": self.px(grid, event.mark),
                "i": self.px(grid, event.index),
                "P": self.px(grid, event.mark),
                "r": self.decimal(event.rate),
                "T": ms(event.next_funding_ts),
            }
            return [self._frame(f"{lower}@markPrice@1s", data, Channel.FUNDING, native)]
        if isinstance(event, LiquidationPrint):
            price, quantity = self.px(grid, event.price), self.qty(grid, event.lots)
            order = {
                "s": native,
                **self.pair_fields(native),
                "S": "SELL" if event.side is Side.SELL else "BUY",
                "o": "LIMIT",
                "f": "IOC",
                "q": quantity,
                "p": price,
                "ap": price,
                "X": "FILLED",
                "l": quantity,
                "z": quantity,
                "T": when,
            }
            return [
                self._frame(
                    f"{lower}@forceOrder",
                    {"e": "forceOrder", "E": when, "o": order},
                    Channel.LIQUIDATIONS,
                    native,
                )
            ]
        return []  # open interest: REST only on Binance

    # --- REST -----------------------------------------------------------------------------------

    def rest(self, request: HttpRequest, now_ns: int) -> HttpReply:
        prefix = self.rest_prefix
        if not request.path.startswith(prefix + "/"):
            return HttpReply.json({"code": -1000, "msg": f"unknown path {request.path}"}, 404)
        path = request.path[len(prefix) :]
        if path == "/depth":
            return self._depth(request, now_ns)
        if path == "/openInterest":
            grid = self.grids.get(request.query.get("symbol", ""))
            if grid is None:
                return self._invalid_symbol()
            lots = self.market.open_interest_lots(self.exchange, grid.native_symbol)
            return HttpReply.json(
                self.open_interest_payload(grid, lots, now_ns),
                carries=((Channel.OPEN_INTEREST, 1),),
                native_symbol=grid.native_symbol,
            )
        if path == "/exchangeInfo":
            return HttpReply.json(self._exchange_info(now_ns))
        if path == "/time":
            return HttpReply.json({"serverTime": ms(now_ns)})
        if path == "/ping":
            return HttpReply.json({})
        return HttpReply.json({"code": -1000, "msg": f"unknown path {request.path}"}, 404)

    def open_interest_payload(self, grid: Grid, lots: int, now_ns: int) -> dict[str, Any]:
        return {"openInterest": self.qty(grid, lots), "symbol": grid.native_symbol, "time": ms(now_ns)}

    def _invalid_symbol(self) -> HttpReply:
        return HttpReply.json({"code": -1121, "msg": "Invalid symbol."}, 400)

    def _depth(self, request: HttpRequest, now_ns: int) -> HttpReply:
        grid = self.grids.get(request.query.get("symbol", ""))
        if grid is None:
            return self._invalid_symbol()
        try:
            limit = int(request.query.get("limit", "500"))
        except ValueError:
            limit = 0
        if limit not in _DEPTH_LIMITS:
            return HttpReply.json(
                {"code": -1100, "msg": "Illegal characters found in parameter 'limit'"}, 400
            )
        book = self.book_view(grid.native_symbol, limit, now_ns)
        payload = {
            "lastUpdateId": book.last,
            "E": ms(now_ns),
            "T": ms(now_ns),
            "bids": self.levels(grid, book.bids),
            "asks": self.levels(grid, book.asks),
        }
        return HttpReply.json(payload, carries=((Channel.BOOK, 1),), native_symbol=grid.native_symbol)

    def _exchange_info(self, now_ns: int) -> dict[str, Any]:
        return {
            "timezone": "UTC",
            "serverTime": ms(now_ns),
            "symbols": [self.symbol_info(grid) for grid in self.grids.values()],
        }

    def symbol_info(self, grid: Grid) -> dict[str, Any]:
        prefix = "" if grid.multiplier == 1 else format(grid.multiplier, "f")
        return {
            "symbol": grid.native_symbol,
            "pair": grid.native_symbol,
            "contractType": "PERPETUAL",
            "status": "TRADING",
            "baseAsset": f"{prefix}{grid.base}",
            "quoteAsset": grid.symbol.split("-")[1],
            "filters": [
                {"filterType": "PRICE_FILTER", "tickSize": format(grid.tick, "f")},
                {"filterType": "LOT_SIZE", "stepSize": format(grid.lot, "f")},
            ],
        }
