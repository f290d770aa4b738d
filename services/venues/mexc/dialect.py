"""MEXC USDT-M perpetual futures ("contract" API), as the simulator speaks it.

Protocol (https://www.mexc.com/api-docs/futures/websocket-api and .../market-endpoints):
``{"method": "sub.<x>", "param": {"symbol", ...}, "gzip": false}`` is acknowledged on
``rs.sub.<x>`` (``"data": "success"``), errors on ``rs.error``; the client sends
``{"method": "ping"}`` (answered on ``pong``) every 10-20 s, and a connection that sent nothing
for a minute is closed. Pushes are ``{"channel": "push.<x>", "data", "symbol", "ts"}`` with JSON
numbers: ``push.deal`` (``T`` 1 = taker bought, 2 = sold; no trade id), ``push.depth`` (one
``version`` per push, the next must be ``version + 1``, from ``GET /api/v1/contract/depth/{symbol}``'s
``version``; levels ``[price, contracts, orders]``, 0 contracts deletes), ``push.funding.rate``
and ``push.ticker`` (``holdVol`` = open interest in contracts, valued at ``fairPrice``). MEXC
publishes no BBO with sizes and no liquidations. Sizes are contracts of ``contractSize`` coin.
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
    MarketEvent,
    OpenInterestPrint,
    TradePrint,
)

_SUBSCRIPTIONS = {
    "sub.deal": "push.deal",
    "sub.depth": "push.depth",
    "sub.funding.rate": "push.funding.rate",
    "sub.ticker": "push.ticker",
}
_VERSION_BASE = 28_000_000_000
"""MEXC's depth versions are large; the model numbers its updates from 1."""
_IDLE_CLOSE_NS = 60 * 1_000_000_000


class MexcDialect(BaseDialect):
    exchange = ExchangeId.MEXC

    @staticmethod
    def contracts(grid: Grid, lots: int) -> int:
        return int(lots * grid.lot)

    def _levels(self, grid: Grid, levels: Any) -> list[list[float | int]]:
        return [[self.number(grid, p), self.contracts(grid, q), 1 if q else 0] for p, q in levels]

    def open_session(self, session: Session, now_ns: int) -> list[OutFrame]:
        session.extra["last_heard"] = now_ns
        return []

    def heartbeat(self, session: Session, now_ns: int) -> list[OutFrame]:
        if now_ns - session.extra.get("last_heard", now_ns) > _IDLE_CLOSE_NS:
            return [OutFrame("", close_code=1000)]  # no ping for a minute
        return []

    def on_message(self, session: Session, text: str, now_ns: int) -> list[OutFrame]:
        session.extra["last_heard"] = now_ns
        try:
            request = orjson.loads(text)
            method = request["method"]
            param = request.get("param") or {}
            if not isinstance(param, dict):
                raise TypeError("param must be an object")
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return [self.reply({"channel": "rs.error", "data": "invalid request", "ts": ms(now_ns)})]
        if method == "ping":
            return [self.reply({"channel": "pong", "data": ms(now_ns)})]
        subscribing = method.startswith("sub.")
        key = method if subscribing else "sub." + method.removeprefix("unsub.")
        channel = _SUBSCRIPTIONS.get(key)
        symbol = param.get("symbol")
        if channel is None or symbol not in self.grids:
            return [
                self.reply(
                    {
                        "channel": "rs.error",
                        "data": f"unknown method or symbol: {method} {symbol}",
                        "ts": ms(now_ns),
                    }
                )
            ]
        topic = f"{channel}:{symbol}"
        if subscribing:
            session.topics.add(topic)
        else:
            session.topics.discard(topic)
        return [self.reply({"channel": f"rs.{method}", "data": "success", "ts": ms(now_ns)})]

    # --- pushes ---------------------------------------------------------------------------------

    def _push(
        self, channel: str, data: Any, ts: int, native: str, carries: tuple[tuple[Channel, int], ...]
    ) -> OutFrame:
        payload = {"channel": channel, "data": data, "symbol": native, "ts": ms(ts)}
        return OutFrame(self.dumps(payload), f"{channel}:{native}", carries, native)

    def render(self, event: MarketEvent) -> list[OutFrame]:
        grid = event.grid
        native = grid.native_symbol
        if isinstance(event, BookChange):
            data = {
                "asks": self._levels(grid, event.asks),
                "bids": self._levels(grid, event.bids),
                "version": _VERSION_BASE + event.update_no,
            }
            return [self._push("push.depth", data, event.ts, native, ((Channel.BOOK, 1),))]
        if isinstance(event, TradePrint):
            deal = {
                "p": self.number(grid, event.price),
                "v": self.contracts(grid, event.lots),
                "T": 1 if event.taker is Side.BUY else 2,
                "O": 3,
                "M": 2,
                "t": ms(event.ts),
            }
            return [self._push("push.deal", [deal], event.ts, native, ((Channel.TRADES, 1),))]
        if isinstance(event, FundingPrint):
            data = {"rate": float(event.rate), "symbol": native, "nextSettleTime": ms(event.next_funding_ts)}
            return [self._push("push.funding.rate", data, event.ts, native, ((Channel.FUNDING, 1),))]
        if isinstance(event, OpenInterestPrint):
            price = self.number(grid, event.price)
            data = {
                "symbol": native,
                "lastPrice": price,
                "fairPrice": price,
                "indexPrice": price,
                "fundingRate": float(self.market.funding_rate(self.exchange, native)),
                "holdVol": self.contracts(grid, event.lots),
                "timestamp": ms(event.ts),
            }
            return [self._push("push.ticker", data, event.ts, native, ((Channel.OPEN_INTEREST, 1),))]
        return []  # no BBO with sizes, no liquidation stream

    # --- REST -----------------------------------------------------------------------------------

    def rest(self, request: HttpRequest, now_ns: int) -> HttpReply:
        path = request.path
        if path.startswith("/api/v1/contract/depth/"):
            return self._depth(path.rsplit("/", 1)[1], request, now_ns)
        if path == "/api/v1/contract/detail":
            wanted = request.query.get("symbol")
            if wanted:
                grid = self.grids.get(wanted)
                if grid is None:
                    return self._fail(1001, "contract not exists")
                return self._ok(self._detail(grid))
            return self._ok([self._detail(grid) for grid in self.grids.values()])
        if path == "/api/v1/contract/ping":
            return self._ok(ms(now_ns))
        return HttpReply.json({"success": False, "code": 404, "message": f"unknown path {path}"}, 404)

    @staticmethod
    def _ok(data: Any, **kwargs: Any) -> HttpReply:
        return HttpReply.json({"success": True, "code": 0, "data": data}, **kwargs)

    @staticmethod
    def _fail(code: int, message: str) -> HttpReply:
        return HttpReply.json({"success": False, "code": code, "message": message})

    def _depth(self, native: str, request: HttpRequest, now_ns: int) -> HttpReply:
        grid = self.grids.get(native)
        if grid is None:
            return self._fail(1001, "contract not exists")
        try:
            limit = int(request.query.get("limit", "1000") or 1000)
        except ValueError:
            return self._fail(600, "invalid limit")
        book = self.book_view(native, limit, now_ns)
        data = {
            "asks": self._levels(grid, book.asks),
            "bids": self._levels(grid, book.bids),
            "version": _VERSION_BASE + book.update_no,
            "timestamp": ms(now_ns),
        }
        return self._ok(data, carries=((Channel.BOOK, 1),), native_symbol=native)

    def _detail(self, grid: Grid) -> dict[str, Any]:
        base, quote = grid.symbol.split("-")[:2]
        return {
            "symbol": grid.native_symbol,
            "displayNameEn": f"{grid.native_symbol} PERPETUAL",
            "baseCoin": base,
            "quoteCoin": quote,
            "settleCoin": quote,
            "contractSize": float(grid.contract_size),
            "priceUnit": float(grid.tick),
            "volUnit": int(grid.lot),
            "state": 0,
            "futureType": 1,
        }
