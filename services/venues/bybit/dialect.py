"""Bybit v5 linear perpetuals, as the simulator speaks it.

Protocol (https://bybit-exchange.github.io/docs/v5/ws/connect and the public topic pages):
``{"op": "subscribe", "req_id", "args": [topic, ...]}`` answered
``{"success": true, "ret_msg": "", "conn_id", "req_id", "op": "subscribe"}``; the client pings
with ``{"op": "ping"}``, answered ``{"success": true, "ret_msg": "pong", ..., "op": "ping"}``.
One connection's ``args`` may total at most 21,000 characters. Topics: ``orderbook.{depth}.S``
(a ``snapshot`` on subscribe, then ``delta`` frames whose ``u`` grows by one, ``seq`` the
cross sequence), ``orderbook.1.S`` (top of book), ``publicTrade.S``, ``tickers.S`` (a snapshot
with every field, then deltas holding only what changed) and ``allLiquidation.S`` (``S`` is the
side of the liquidated position). Times are milliseconds; no REST bootstrap is needed.
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
    OpenInterestPrint,
    TopOfBook,
    TradePrint,
)

_MAX_ARGS_CHARS = 21_000
_BOOK_DEPTHS = ("50", "200", "500", "1000")


class BybitDialect(BaseDialect):
    exchange = ExchangeId.BYBIT

    def _valid(self, topic: str) -> bool:
        kind, _, rest = topic.partition(".")
        if kind == "orderbook":
            depth, _, symbol = rest.partition(".")
            return symbol in self.grids and depth in ("1", *_BOOK_DEPTHS)
        return kind in ("publicTrade", "tickers", "allLiquidation") and rest in self.grids

    def on_message(self, session: Session, text: str, now_ns: int) -> list[OutFrame]:
        conn_id = f"sim-{session.id}"
        try:
            request = orjson.loads(text)
            op = request["op"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return [self.reply({"success": False, "ret_msg": "Invalid request", "conn_id": conn_id})]
        req_id = str(request.get("req_id", ""))
        if op == "ping":
            return [
                self.reply(
                    {"success": True, "ret_msg": "pong", "conn_id": conn_id, "req_id": req_id, "op": "ping"}
                )
            ]
        if op not in ("subscribe", "unsubscribe"):
            return [
                self.reply({"success": False, "ret_msg": f"unknown op {op}", "conn_id": conn_id, "op": op})
            ]
        args = [str(a) for a in request.get("args") or []]
        bad = [a for a in args if not self._valid(a)]
        if bad:
            message = f"error:handler not found,topic:{bad[0]}"
            return [
                self.reply(
                    {"success": False, "ret_msg": message, "conn_id": conn_id, "req_id": req_id, "op": op}
                )
            ]
        ack = self.reply({"success": True, "ret_msg": "", "conn_id": conn_id, "req_id": req_id, "op": op})
        if op == "unsubscribe":
            session.topics.difference_update(args)
            return [ack]
        new = [a for a in args if a not in session.topics]
        session.topics.update(args)
        if sum(len(t) for t in session.topics) > _MAX_ARGS_CHARS:
            limit = {
                "success": False,
                "ret_msg": "args size >21000",
                "conn_id": conn_id,
                "req_id": req_id,
                "op": op,
            }
            return [self.reply(limit, close_code=1008)]
        return [ack, *(f for topic in new for f in self._initial(topic, now_ns))]

    def _initial(self, topic: str, now_ns: int) -> list[OutFrame]:
        """What Bybit pushes right after a subscription: book and ticker snapshots."""
        kind, _, rest = topic.partition(".")
        if kind == "orderbook":
            depth, _, symbol = rest.partition(".")
            grid = self.grids[symbol]
            book = self.book_view(symbol, int(depth), now_ns)
            data = {
                "s": symbol,
                "b": self.levels(grid, book.bids),
                "a": self.levels(grid, book.asks),
                "u": book.update_no,
                "seq": book.last,
            }
            channel = Channel.BBO if depth == "1" else Channel.BOOK
            events = 1 if depth != "1" or (book.bids and book.asks) else 0
            payload = {"topic": topic, "type": "snapshot", "ts": ms(now_ns), "data": data, "cts": ms(now_ns)}
            return [self.frame(payload, topic, channel, symbol, events)]
        if kind == "tickers":
            grid = self.grids[rest]
            return [self._ticker_snapshot(grid, topic, now_ns)]
        return []

    def _ticker_snapshot(self, grid: Grid, topic: str, now_ns: int) -> OutFrame:
        market = self.market
        mid = market.mid_price(self.exchange, grid.native_symbol)
        mark = self.px(grid, max(1, round(mid / float(grid.tick))))
        lots = market.open_interest_lots(self.exchange, grid.native_symbol)
        interval_ns = grid.funding_interval_s * 1_000_000_000
        data = {
            "symbol": grid.native_symbol,
            "lastPrice": mark,
            "markPrice": mark,
            "indexPrice": mark,
            "openInterest": self.qty(grid, lots),
            "openInterestValue": f"{float(lots * grid.lot) * mid:.2f}",
            "fundingRate": self.decimal(market.funding_rate(self.exchange, grid.native_symbol)),
            "nextFundingTime": str(ms((now_ns // interval_ns + 1) * interval_ns)),
            "fundingIntervalHour": str(grid.funding_interval_s // 3600),
        }
        payload = {"topic": topic, "type": "snapshot", "data": data, "cs": 0, "ts": ms(now_ns)}
        return OutFrame(
            self.dumps(payload), topic, ((Channel.FUNDING, 1), (Channel.OPEN_INTEREST, 1)), grid.native_symbol
        )

    # --- streams --------------------------------------------------------------------------------

    def render(self, event: MarketEvent) -> list[OutFrame]:
        grid = event.grid
        symbol = grid.native_symbol
        when = ms(event.ts)
        if isinstance(event, BookChange):
            data = {
                "s": symbol,
                "b": self.levels(grid, event.bids),
                "a": self.levels(grid, event.asks),
                "u": event.update_no,
                "seq": event.last,
            }
            return [
                self.frame(
                    {"topic": topic, "type": "delta", "ts": when, "data": data, "cts": when},
                    topic,
                    Channel.BOOK,
                    symbol,
                )
                for topic in (f"orderbook.{depth}.{symbol}" for depth in _BOOK_DEPTHS)
            ]
        if isinstance(event, TopOfBook):
            topic = f"orderbook.1.{symbol}"
            data = {
                "s": symbol,
                "b": self.levels(grid, [event.bid]),
                "a": self.levels(grid, [event.ask]),
                "u": event.update_id,
                "seq": event.update_id,
            }
            payload = {"topic": topic, "type": "snapshot", "ts": when, "data": data, "cts": when}
            return [self.frame(payload, topic, Channel.BBO, symbol)]
        if isinstance(event, TradePrint):
            topic = f"publicTrade.{symbol}"
            row = {
                "T": when,
                "s": symbol,
                "S": "Buy" if event.taker is Side.BUY else "Sell",
                "v": self.qty(grid, event.lots),
                "p": self.px(grid, event.price),
                "L": "ZeroPlusTick",
                "i": f"sim-{symbol}-{event.trade_id}",
                "BT": False,
                "seq": event.trade_id,
            }
            return [
                self.frame(
                    {"topic": topic, "type": "snapshot", "ts": when, "data": [row]},
                    topic,
                    Channel.TRADES,
                    symbol,
                )
            ]
        if isinstance(event, FundingPrint):
            topic = f"tickers.{symbol}"
            data = {
                "symbol": symbol,
                "markPrice": self.px(grid, event.mark),
                "indexPrice": self.px(grid, event.index),
                "fundingRate": self.decimal(event.rate),
                "nextFundingTime": str(ms(event.next_funding_ts)),
            }
            payload = {"topic": topic, "type": "delta", "data": data, "cs": 0, "ts": when}
            return [self.frame(payload, topic, Channel.FUNDING, symbol)]
        if isinstance(event, OpenInterestPrint):
            topic = f"tickers.{symbol}"
            price = float(event.price * grid.tick)
            data = {
                "symbol": symbol,
                "openInterest": self.qty(grid, event.lots),
                "openInterestValue": f"{float(event.lots * grid.lot) * price:.2f}",
            }
            payload = {"topic": topic, "type": "delta", "data": data, "cs": 0, "ts": when}
            return [self.frame(payload, topic, Channel.OPEN_INTEREST, symbol)]
        if isinstance(event, LiquidationPrint):
            topic = f"allLiquidation.{symbol}"
            row = {
                "T": when,
                "s": symbol,
                # The side of the liquidated position: a sell order closes a long ("Buy").
                "S": "Buy" if event.side is Side.SELL else "Sell",
                "v": self.qty(grid, event.lots),
                "p": self.px(grid, event.price),
            }
            payload = {"topic": topic, "type": "snapshot", "ts": when, "data": [row]}
            return [self.frame(payload, topic, Channel.LIQUIDATIONS, symbol)]
        return []

    # --- REST -----------------------------------------------------------------------------------

    def rest(self, request: HttpRequest, now_ns: int) -> HttpReply:
        if request.path == "/v5/market/instruments-info":
            return self._ok(self._instruments(), now_ns)
        if request.path == "/v5/market/time":
            return self._ok({"timeSecond": str(now_ns // 1_000_000_000), "timeNano": str(now_ns)}, now_ns)
        if request.path == "/v5/market/orderbook":
            symbol = request.query.get("symbol", "")
            grid = self.grids.get(symbol)
            if grid is None:
                return HttpReply.json(
                    {"retCode": 10001, "retMsg": "params error: symbol invalid", "result": {}}
                )
            book = self.book_view(symbol, int(request.query.get("limit", "25") or 25), now_ns)
            result = {
                "s": symbol,
                "b": self.levels(grid, book.bids),
                "a": self.levels(grid, book.asks),
                "ts": ms(now_ns),
                "u": book.update_no,
                "seq": book.last,
                "cts": ms(now_ns),
            }
            return self._ok(result, now_ns)
        return HttpReply.json({"retCode": 10001, "retMsg": f"unknown path {request.path}"}, 404)

    @staticmethod
    def _ok(result: Any, now_ns: int) -> HttpReply:
        return HttpReply.json(
            {"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": ms(now_ns)}
        )

    def _instruments(self) -> dict[str, Any]:
        rows = []
        for grid in self.grids.values():
            prefix = "" if grid.multiplier == 1 else format(grid.multiplier, "f")
            rows.append(
                {
                    "symbol": grid.native_symbol,
                    "contractType": "LinearPerpetual",
                    "status": "Trading",
                    "baseCoin": f"{prefix}{grid.base}",
                    "quoteCoin": grid.symbol.split("-")[1],
                    "fundingInterval": grid.funding_interval_s // 60,
                    "priceFilter": {"tickSize": format(grid.tick, "f")},
                    "lotSizeFilter": {"qtyStep": format(grid.lot, "f")},
                }
            )
        return {"category": "linear", "list": rows, "nextPageCursor": ""}
