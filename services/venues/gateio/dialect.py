"""Gate.io USDT-settled perpetual futures (WebSocket v4), as the simulator speaks it.

Protocol (https://www.gate.io/docs/developers/futures/ws/en/ and
https://www.gate.io/docs/developers/apiv4/en/#futures-order-book): requests are ``{"time",
"channel", "event": "subscribe", "payload"}``, answered ``{"time", "time_ms", "id", "conn_id",
"channel", "event": "subscribe", "payload", "result": {"status": "success"}}`` (an ``error`` object
instead for an unknown contract); ``{"time", "channel": "futures.ping"}`` is answered on
``futures.pong``. ``futures.order_book_update`` takes one ``[contract, interval, levels]`` per
request and pushes ``{"t", "s", "U", "u", "b", "a"}`` with levels ``{"p", "s"}`` (size 0 deletes);
a book starts from ``GET /api/v4/futures/usdt/order_book?with_id=true`` whose ``id`` is the last
update it contains (apply the update with ``U <= id + 1 <= u``). Other channels:
``futures.trades`` (size signed by the taker's side), ``futures.book_ticker``,
``futures.tickers`` (``funding_rate``, ``funding_next_apply`` in seconds, ``total_size`` = open
interest in contracts) and ``futures.public_liquidates`` (size signed by the liquidation order's
side). Sizes are contracts of ``quanto_multiplier`` coin.
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

_LIST_CHANNELS = ("futures.trades", "futures.book_ticker", "futures.tickers", "futures.public_liquidates")
_BOOK_CHANNEL = "futures.order_book_update"
_BOOK_OPTIONS = {("20ms", "20"), ("100ms", "100"), ("100ms", "50"), ("100ms", "20")}
_S = 1_000_000_000


class GateioDialect(BaseDialect):
    exchange = ExchangeId.GATEIO

    def _head(self, channel: str, event: str, now_ns: int) -> dict[str, Any]:
        return {"time": now_ns // _S, "time_ms": ms(now_ns), "channel": channel, "event": event}

    @staticmethod
    def contracts(grid: Grid, lots: int) -> int:
        return int(lots * grid.lot)

    def on_message(self, session: Session, text: str, now_ns: int) -> list[OutFrame]:
        try:
            request = orjson.loads(text)
            channel, event = request["channel"], request.get("event")
            payload = request.get("payload") or []
            if not isinstance(payload, list):
                raise TypeError("payload must be a list")
        except (orjson.JSONDecodeError, KeyError, TypeError):
            error = {"time": now_ns // _S, "error": {"code": 1, "message": "invalid request"}, "result": None}
            return [self.reply(error)]
        if channel == "futures.ping":
            return [self.reply({**self._head("futures.pong", "", now_ns), "result": None})]
        answer = {**self._head(channel, str(event), now_ns), "id": request.get("id"), "payload": payload}
        answer["conn_id"] = f"sim{session.id:012x}"
        if event not in ("subscribe", "unsubscribe"):
            return [
                self.reply(
                    {**answer, "error": {"code": 1, "message": f"unknown event {event}"}, "result": None}
                )
            ]
        if channel == _BOOK_CHANNEL:
            if (
                len(payload) != 3
                or payload[0] not in self.grids
                or (str(payload[1]), str(payload[2])) not in _BOOK_OPTIONS
            ):
                error = {"code": 2, "message": f"invalid argument: {payload}"}
                return [self.reply({**answer, "error": error, "result": {"status": "failed"}})]
            topics = {f"{_BOOK_CHANNEL}:{payload[0]}"}
        elif channel in _LIST_CHANNELS:
            unknown = [c for c in payload if c not in self.grids]
            if unknown or not payload:
                error = {"code": 2, "message": f"unknown contract {unknown[0] if unknown else ''}"}
                return [self.reply({**answer, "error": error, "result": {"status": "failed"}})]
            topics = {f"{channel}:{contract}" for contract in payload}
        else:
            error = {"code": 2, "message": f"unknown channel {channel}"}
            return [self.reply({**answer, "error": error, "result": {"status": "failed"}})]
        if event == "subscribe":
            session.topics.update(topics)
        else:
            session.topics.difference_update(topics)
        return [self.reply({**answer, "result": {"status": "success"}})]

    # --- streams --------------------------------------------------------------------------------

    def _push(
        self, channel: str, result: Any, ts: int, native: str, carries: tuple[tuple[Channel, int], ...]
    ) -> OutFrame:
        payload = {**self._head(channel, "update", ts), "result": result}
        return OutFrame(self.dumps(payload), f"{channel}:{native}", carries, native)

    def _levels(self, grid: Grid, levels: Any) -> list[dict[str, Any]]:
        return [{"p": self.px(grid, p), "s": self.contracts(grid, q)} for p, q in levels]

    def render(self, event: MarketEvent) -> list[OutFrame]:
        grid = event.grid
        native = grid.native_symbol
        if isinstance(event, BookChange):
            result = {
                "t": ms(event.ts),
                "s": native,
                "U": event.first,
                "u": event.last,
                "b": self._levels(grid, event.bids),
                "a": self._levels(grid, event.asks),
                "l": "100",
            }
            return [self._push(_BOOK_CHANNEL, result, event.ts, native, ((Channel.BOOK, 1),))]
        if isinstance(event, TopOfBook):
            (bid, bid_lots), (ask, ask_lots) = event.bid, event.ask
            result = {
                "t": ms(event.ts),
                "u": event.update_id,
                "s": native,
                "b": self.px(grid, bid),
                "B": self.contracts(grid, bid_lots),
                "a": self.px(grid, ask),
                "A": self.contracts(grid, ask_lots),
            }
            return [self._push("futures.book_ticker", result, event.ts, native, ((Channel.BBO, 1),))]
        if isinstance(event, TradePrint):
            size = self.contracts(grid, event.lots)
            row = {
                "size": size if event.taker is Side.BUY else -size,
                "id": event.trade_id,
                "create_time": event.ts // _S,
                "create_time_ms": ms(event.ts),
                "price": self.px(grid, event.price),
                "contract": native,
            }
            return [self._push("futures.trades", [row], event.ts, native, ((Channel.TRADES, 1),))]
        if isinstance(event, FundingPrint):
            lots = self.market.open_interest_lots(self.exchange, native)
            mark = self.px(grid, event.mark)
            row = {
                "contract": native,
                "last": mark,
                "total_size": str(self.contracts(grid, lots)),
                "mark_price": mark,
                "index_price": self.px(grid, event.index),
                "funding_rate": self.decimal(event.rate),
                "funding_rate_indicative": self.decimal(event.rate),
                "funding_interval": grid.funding_interval_s,
                "funding_next_apply": event.next_funding_ts // _S,
                "quanto_base_rate": "",
            }
            carries = ((Channel.FUNDING, 1), (Channel.OPEN_INTEREST, 1))
            return [self._push("futures.tickers", [row], event.ts, native, carries)]
        if isinstance(event, LiquidationPrint):
            size = self.contracts(grid, event.lots)
            row = {
                "price": self.number(grid, event.price),
                "size": size if event.side is Side.BUY else -size,
                "time_ms": ms(event.ts),
                "contract": native,
            }
            return [
                self._push("futures.public_liquidates", [row], event.ts, native, ((Channel.LIQUIDATIONS, 1),))
            ]
        return []  # open interest rides on futures.tickers

    # --- REST -----------------------------------------------------------------------------------

    def rest(self, request: HttpRequest, now_ns: int) -> HttpReply:
        if request.path == "/api/v4/futures/usdt/order_book":
            return self._order_book(request, now_ns)
        if request.path == "/api/v4/futures/usdt/contracts":
            return HttpReply.json([self._contract(grid) for grid in self.grids.values()])
        return HttpReply.json({"label": "NOT_FOUND", "message": f"unknown path {request.path}"}, 404)

    def _order_book(self, request: HttpRequest, now_ns: int) -> HttpReply:
        grid = self.grids.get(request.query.get("contract", ""))
        if grid is None:
            return HttpReply.json({"label": "CONTRACT_NOT_FOUND", "message": "Contract not found"}, 400)
        try:
            limit = int(request.query.get("limit", "10"))
        except ValueError:
            limit = 0
        if not 1 <= limit <= 300:
            return HttpReply.json({"label": "INVALID_PARAM_VALUE", "message": "invalid limit"}, 400)
        book = self.book_view(grid.native_symbol, limit, now_ns)
        payload: dict[str, Any] = {
            "current": now_ns / _S,
            "update": book.ts / _S if book.ts else now_ns / _S,
            "asks": self._levels(grid, book.asks),
            "bids": self._levels(grid, book.bids),
        }
        if request.query.get("with_id") == "true":
            payload = {"id": book.last, **payload}
        return HttpReply.json(payload, carries=((Channel.BOOK, 1),), native_symbol=grid.native_symbol)

    def _contract(self, grid: Grid) -> dict[str, Any]:
        return {
            "name": grid.native_symbol,
            "type": "inverse" if grid.inverse else "direct",
            "quanto_multiplier": format(grid.contract_size, "f"),
            "order_price_round": format(grid.tick, "f"),
            "order_size_min": int(grid.lot),
            "funding_interval": grid.funding_interval_s,
            "in_delisting": False,
            "leverage_max": "100",
        }
