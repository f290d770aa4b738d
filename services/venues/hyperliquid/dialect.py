"""Hyperliquid perpetuals, as the simulator speaks it.

Protocol (https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/websocket,
.../websocket/subscriptions, .../websocket/timeouts-and-heartbeats, .../info-endpoint/perpetuals):
``{"method": "subscribe", "subscription": {"type", "coin"}}`` is acknowledged on
``subscriptionResponse`` (``{"channel": "error", "data"}`` for a bad one); ``{"method": "ping"}``
is answered ``{"channel": "pong"}`` and a connection that sent nothing for 60 s is closed.
Pushes are ``{"channel", "data"}``: ``l2Book`` (the WHOLE book, up to 20 levels a side, on every
change and on subscribe; no sequence id but its ``time``), ``bbo``, ``trades`` (``side`` "B" = the
taker bought, "A" = sold; ``tid``) and ``activeAssetCtx`` (``funding`` per hour,
``openInterest`` in coins, ``markPx``, ``oraclePx``; pushed on subscribe and on change). Sizes are
coins; ``k`` coins (kPEPE) are quoted per 1000. REST is ``POST /info`` with a JSON body:
``{"type": "meta"}`` (``universe`` of ``{"name", "szDecimals"}``) and ``{"type": "l2Book",
"coin"}``.
"""

from typing import Any

import orjson

from schemas.common import ExchangeId, Side
from services.ingest.venue import Channel
from services.simulator.dialect import BaseDialect, HttpReply, HttpRequest, OutFrame, Session, ms
from services.simulator.model import BookChange, FundingPrint, Grid, MarketEvent, TopOfBook, TradePrint

_TYPES = ("trades", "l2Book", "bbo", "activeAssetCtx")
_BOOK_LEVELS = 20
_IDLE_CLOSE_NS = 60 * 1_000_000_000


def _coin_name(grid: Grid) -> str:
    return grid.native_symbol


class HyperliquidDialect(BaseDialect):
    exchange = ExchangeId.HYPERLIQUID

    def _levels(self, grid: Grid, levels: Any) -> list[dict[str, Any]]:
        return [{"px": self.px(grid, p), "sz": self.qty(grid, q), "n": 1 + q % 5} for p, q in levels]

    def open_session(self, session: Session, now_ns: int) -> list[OutFrame]:
        session.extra["last_heard"] = now_ns
        return []

    def heartbeat(self, session: Session, now_ns: int) -> list[OutFrame]:
        if now_ns - session.extra.get("last_heard", now_ns) > _IDLE_CLOSE_NS:
            return [OutFrame("", close_code=1000)]
        return []

    def on_message(self, session: Session, text: str, now_ns: int) -> list[OutFrame]:
        session.extra["last_heard"] = now_ns
        try:
            request = orjson.loads(text)
            method = request["method"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return [
                self.reply(
                    {
                        "channel": "error",
                        "data": f"Error parsing JSON into valid websocket request: {text[:100]}",
                    }
                )
            ]
        if method == "ping":
            return [self.reply({"channel": "pong"})]
        subscription = request.get("subscription")
        if method not in ("subscribe", "unsubscribe") or not isinstance(subscription, dict):
            return [self.reply({"channel": "error", "data": f"Invalid method: {method}"})]
        kind, coin = subscription.get("type"), subscription.get("coin")
        if kind not in _TYPES or coin not in self.grids:
            return [
                self.reply({"channel": "error", "data": f"Invalid subscription {self.dumps(subscription)}"})
            ]
        topic = f"{kind}:{coin}"
        echoed = dict(subscription)
        if kind == "l2Book":
            echoed.update({"nSigFigs": None, "mantissa": None})
        ack = self.reply(
            {"channel": "subscriptionResponse", "data": {"method": method, "subscription": echoed}}
        )
        if method == "unsubscribe":
            session.topics.discard(topic)
            return [ack]
        if topic in session.topics:
            return [ack]
        session.topics.add(topic)
        grid = self.grids[str(coin)]
        if kind == "l2Book":
            view = self.book_view(grid.native_symbol, _BOOK_LEVELS, now_ns)
            return [ack, self._book(grid, view.bids, view.asks, now_ns)]
        if kind == "activeAssetCtx":
            market = self.market
            mid = market.mid_price(self.exchange, grid.native_symbol)
            mark = max(1, round(mid / float(grid.tick)))
            rate = market.funding_rate(self.exchange, grid.native_symbol)
            index = max(1, round(market.fair_price(grid.base) * float(grid.multiplier) / float(grid.tick)))
            return [ack, self._context(grid, rate, mark, index)]
        return [ack]

    # --- streams --------------------------------------------------------------------------------

    def _book(self, grid: Grid, bids: Any, asks: Any, ts: int) -> OutFrame:
        coin = _coin_name(grid)
        data = {"coin": coin, "time": ms(ts), "levels": [self._levels(grid, bids), self._levels(grid, asks)]}
        return self.frame({"channel": "l2Book", "data": data}, f"l2Book:{coin}", Channel.BOOK, coin)

    def _context(self, grid: Grid, rate: Any, mark: int, index: int) -> OutFrame:
        coin = _coin_name(grid)
        lots = self.market.open_interest_lots(self.exchange, grid.native_symbol)
        mark_px = self.px(grid, mark)
        context = {
            "funding": self.decimal(rate),
            "openInterest": self.qty(grid, lots),
            "prevDayPx": mark_px,
            "dayNtlVlm": "0.0",
            "premium": "0.0",
            "oraclePx": self.px(grid, index),
            "markPx": mark_px,
            "midPx": mark_px,
            "impactPxs": [mark_px, mark_px],
            "dayBaseVlm": "0.0",
        }
        payload = {"channel": "activeAssetCtx", "data": {"coin": coin, "ctx": context}}
        carries = ((Channel.FUNDING, 1), (Channel.OPEN_INTEREST, 1))
        return OutFrame(self.dumps(payload), f"activeAssetCtx:{coin}", carries, coin)

    def render(self, event: MarketEvent) -> list[OutFrame]:
        grid = event.grid
        coin = _coin_name(grid)
        if isinstance(event, BookChange):
            view = self.book_view(grid.native_symbol, _BOOK_LEVELS, event.ts)
            return [self._book(grid, view.bids, view.asks, event.ts)]
        if isinstance(event, TopOfBook):
            data = {"coin": coin, "time": ms(event.ts), "bbo": self._levels(grid, [event.bid, event.ask])}
            return [self.frame({"channel": "bbo", "data": data}, f"bbo:{coin}", Channel.BBO, coin)]
        if isinstance(event, TradePrint):
            trade = {
                "coin": coin,
                "side": "B" if event.taker is Side.BUY else "A",
                "px": self.px(grid, event.price),
                "sz": self.qty(grid, event.lots),
                "time": ms(event.ts),
                "hash": "0x" + f"{event.trade_id:064x}",
                "tid": event.trade_id,
                "users": ["0x" + "0" * 40, "0x" + "1" * 40],
            }
            return [
                self.frame({"channel": "trades", "data": [trade]}, f"trades:{coin}", Channel.TRADES, coin)
            ]
        if isinstance(event, FundingPrint):
            return [self._context(grid, event.rate, event.mark, event.index)]
        return []  # open interest rides on activeAssetCtx; no public liquidation stream

    # --- REST -----------------------------------------------------------------------------------

    def rest(self, request: HttpRequest, now_ns: int) -> HttpReply:
        if request.path != "/info":
            return HttpReply.json({"error": f"unknown path {request.path}"}, 404)
        if request.method != "POST":
            return HttpReply.json({"error": "use POST"}, 405)
        try:
            body = orjson.loads(request.body)
            kind = body["type"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return HttpReply(422, b"Failed to deserialize the JSON body into the target type")
        if kind == "meta":
            return HttpReply.json({"universe": [self._asset(grid) for grid in self.grids.values()]})
        if kind == "l2Book":
            grid = self.grids.get(str(body.get("coin")))
            if grid is None:
                return HttpReply.json(None)
            view = self.book_view(grid.native_symbol, _BOOK_LEVELS, now_ns)
            data = {
                "coin": grid.native_symbol,
                "time": ms(now_ns),
                "levels": [self._levels(grid, view.bids), self._levels(grid, view.asks)],
            }
            return HttpReply.json(data)
        return HttpReply(422, b"Failed to deserialize the JSON body into the target type")

    @staticmethod
    def _asset(grid: Grid) -> dict[str, Any]:
        exponent = grid.lot.normalize().as_tuple().exponent
        size_decimals = max(0, -exponent) if isinstance(exponent, int) else 0
        return {"name": grid.native_symbol, "szDecimals": size_decimals, "maxLeverage": 40}
