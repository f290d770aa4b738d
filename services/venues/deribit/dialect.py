"""Deribit perpetuals (JSON-RPC over WebSocket v2), as the simulator speaks it.

Protocol (https://docs.deribit.com/: public/subscribe, public/set_heartbeat, public/test,
subscriptions book.{instrument}.{interval}, trades.{instrument}.{interval}, quote.{instrument},
ticker.{instrument}.{interval}; public/get_instruments): every request
``{"jsonrpc": "2.0", "id", "method", "params"}`` is answered ``{"jsonrpc", "id", "result",
"usIn", "usOut", "usDiff", "testnet"}``; ``public/subscribe`` answers with the channels it
subscribed (unknown ones are left out). Anonymous connections may not use ``raw`` channels.
After ``public/set_heartbeat`` (interval >= 10 s) the server sends ``{"method": "heartbeat",
"params": {"type": "test_request"}}`` every interval and closes the connection when no
``public/test`` arrived since the previous one.

Notifications are ``{"jsonrpc", "method": "subscription", "params": {"channel", "data"}}``, times
in ms, quantities in ``amount`` (USD for the inverse perpetuals, coin for the USDC ones). A book
subscription opens with a ``snapshot`` (``change_id``); each ``change`` carries
``prev_change_id`` = the previous ``change_id`` and levels ``[action, price, amount]`` with action
``new``, ``change`` or ``delete``. Liquidations are flagged trades (``liquidation``: "T" when the
taker was liquidated); funding (``funding_8h``) and open interest ride on the ticker.
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
    TopOfBook,
    TradePrint,
)

_NS_PER_S = 1_000_000_000
_MIN_HEARTBEAT_S = 10
_INTERVALS = {
    "book": ("100ms", "agg2"),
    "trades": ("100ms", "agg2"),
    "ticker": ("100ms", "agg2"),
}
_ENVELOPE = {"jsonrpc": "2.0"}


class DeribitDialect(BaseDialect):
    exchange = ExchangeId.DERIBIT
    version = "1.2.26"

    def _answer(self, request_id: Any, now_ns: int, *, result: Any = None, error: Any = None) -> OutFrame:
        us = now_ns // 1000
        body: dict[str, Any] = {**_ENVELOPE, "id": request_id}
        if error is not None:
            body["error"] = error
        else:
            body["result"] = result
        body.update({"usIn": us, "usOut": us + 150, "usDiff": 150, "testnet": False})
        return self.reply(body)

    def _topic(self, channel: str) -> str | None:
        """The subscribable form of a channel name, or None (unknown, or raw for anonymous)."""
        kind, _, rest = channel.partition(".")
        if kind == "quote":
            return channel if rest in self.grids else None
        instrument, _, interval = rest.rpartition(".")
        if kind in _INTERVALS and instrument in self.grids and interval in _INTERVALS[kind]:
            return f"{kind}.{instrument}"
        return None

    def on_message(self, session: Session, text: str, now_ns: int) -> list[OutFrame]:
        try:
            request = orjson.loads(text)
            method, request_id = request["method"], request.get("id")
            params = request.get("params") or {}
            if not isinstance(params, dict):
                raise TypeError("params must be an object")
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return [self._answer(None, now_ns, error={"message": "Invalid Request", "code": -32600})]
        if method == "public/test":
            session.extra["tested"] = True
            return [self._answer(request_id, now_ns, result={"version": self.version})]
        if method == "public/set_heartbeat":
            interval = params.get("interval")
            if not isinstance(interval, int) or interval < _MIN_HEARTBEAT_S:
                error = {"message": "Invalid params", "code": -32602, "data": {"param": "interval"}}
                return [self._answer(request_id, now_ns, error=error)]
            session.extra["heartbeat_ns"] = interval * _NS_PER_S
            session.extra["next_heartbeat"] = now_ns + interval * _NS_PER_S
            session.extra["tested"] = True
            return [self._answer(request_id, now_ns, result="ok")]
        if method == "public/get_time":
            return [self._answer(request_id, now_ns, result=ms(now_ns))]
        if method not in ("public/subscribe", "public/unsubscribe"):
            error = {"message": "Method not found", "code": -32601}
            return [self._answer(request_id, now_ns, error=error)]
        channels = params.get("channels")
        if not isinstance(channels, list):
            error = {"message": "Invalid params", "code": -32602, "data": {"param": "channels"}}
            return [self._answer(request_id, now_ns, error=error)]
        accepted = [(str(c), topic) for c in channels if (topic := self._topic(str(c))) is not None]
        if method == "public/unsubscribe":
            session.topics.difference_update(topic for _, topic in accepted)
            return [self._answer(request_id, now_ns, result=[c for c, _ in accepted])]
        frames = [self._answer(request_id, now_ns, result=[c for c, _ in accepted])]
        for channel, topic in accepted:
            if topic in session.topics:
                continue
            session.topics.add(topic)
            if topic.startswith("book."):
                frames.append(self._book_snapshot(channel, topic, now_ns))
        return frames

    def heartbeat(self, session: Session, now_ns: int) -> list[OutFrame]:
        interval = session.extra.get("heartbeat_ns")
        if interval is None or now_ns < session.extra["next_heartbeat"]:
            return []
        session.extra["next_heartbeat"] = now_ns + interval
        if not session.extra.get("tested"):
            # No public/test since the last test_request: Deribit drops the connection.
            return [OutFrame("", close_code=1000)]
        session.extra["tested"] = False
        test_request = {**_ENVELOPE, "method": "heartbeat", "params": {"type": "test_request"}}
        return [self.reply(test_request)]

    # --- streams --------------------------------------------------------------------------------

    def _notification(
        self, channel: str, topic: str, data: Any, carries: tuple[tuple[Channel, int], ...], native: str
    ) -> OutFrame:
        payload = {**_ENVELOPE, "method": "subscription", "params": {"channel": channel, "data": data}}
        return OutFrame(self.dumps(payload), topic, carries, native)

    def _amount(self, grid: Grid, lots: int) -> float | int:
        amount = lots * grid.lot
        return int(amount) if amount == amount.to_integral_value() else float(amount)

    def _book_snapshot(self, channel: str, topic: str, now_ns: int) -> OutFrame:
        native = topic.partition(".")[2]
        grid = self.grids[native]
        book = self.book_view(native, None, now_ns)
        data = {
            "type": "snapshot",
            "timestamp": ms(now_ns),
            "instrument_name": native,
            "change_id": book.last,
            "bids": [["new", self.number(grid, p), self._amount(grid, q)] for p, q in book.bids],
            "asks": [["new", self.number(grid, p), self._amount(grid, q)] for p, q in book.asks],
        }
        return self._notification(channel, topic, data, ((Channel.BOOK, 1),), native)

    def render(self, event: MarketEvent) -> list[OutFrame]:
        grid = event.grid
        native = grid.native_symbol
        when = ms(event.ts)
        if isinstance(event, BookChange):

            def side(levels: tuple[tuple[int, int], ...], added: tuple[int, ...]) -> list[list[Any]]:
                return [
                    [
                        "delete" if not q else ("new" if p in added else "change"),
                        self.number(grid, p),
                        self._amount(grid, q),
                    ]
                    for p, q in levels
                ]

            data = {
                "type": "change",
                "timestamp": when,
                "instrument_name": native,
                "prev_change_id": event.prev,
                "change_id": event.last,
                "bids": side(event.bids, event.added_bids),
                "asks": side(event.asks, event.added_asks),
            }
            return [
                self._notification(
                    f"book.{native}.100ms", f"book.{native}", data, ((Channel.BOOK, 1),), native
                )
            ]
        if isinstance(event, TopOfBook):
            (bid, bid_lots), (ask, ask_lots) = event.bid, event.ask
            data = {
                "timestamp": when,
                "instrument_name": native,
                "best_bid_price": self.number(grid, bid),
                "best_bid_amount": self._amount(grid, bid_lots),
                "best_ask_price": self.number(grid, ask),
                "best_ask_amount": self._amount(grid, ask_lots),
            }
            return [
                self._notification(f"quote.{native}", f"quote.{native}", data, ((Channel.BBO, 1),), native)
            ]
        if isinstance(event, TradePrint):
            price = self.number(grid, event.price)
            row: dict[str, Any] = {
                "timestamp": when,
                "price": price,
                "direction": "buy" if event.taker is Side.BUY else "sell",
                "index_price": price,
                "trade_id": str(event.trade_id),
                "instrument_name": native,
                "trade_seq": event.trade_id,
                "amount": self._amount(grid, event.lots),
                "mark_price": price,
                "tick_direction": 1,
                "contracts": event.lots,
            }
            carries: tuple[tuple[Channel, int], ...] = ((Channel.TRADES, 1),)
            if event.forced:
                # The liquidated party's order was the taker.
                row["liquidation"] = "T"
                carries = ((Channel.TRADES, 1), (Channel.LIQUIDATIONS, 1))
            return [self._notification(f"trades.{native}.100ms", f"trades.{native}", [row], carries, native)]
        if isinstance(event, FundingPrint):
            lots = self.market.open_interest_lots(self.exchange, native)
            mark, index = self.number(grid, event.mark), self.number(grid, event.index)
            data = {
                "timestamp": when,
                "state": "open",
                "instrument_name": native,
                "index_price": index,
                "mark_price": mark,
                "last_price": mark,
                "open_interest": self._amount(grid, lots),
                "funding_8h": float(event.rate),
                "current_funding": float(event.rate),
                "interest_value": 0.0,
            }
            carries = ((Channel.FUNDING, 1), (Channel.OPEN_INTEREST, 1))
            return [self._notification(f"ticker.{native}.100ms", f"ticker.{native}", data, carries, native)]
        return []  # open interest rides on the ticker; liquidations on the trades

    # --- REST -----------------------------------------------------------------------------------

    def rest(self, request: HttpRequest, now_ns: int) -> HttpReply:
        us = now_ns // 1000
        stamps = {"usIn": us, "usOut": us + 150, "usDiff": 150, "testnet": False}
        if request.path == "/api/v2/public/get_instruments":
            return HttpReply.json({**_ENVELOPE, "result": self._instruments(), **stamps})
        if request.path == "/api/v2/public/test":
            return HttpReply.json({**_ENVELOPE, "result": {"version": self.version}, **stamps})
        if request.path == "/api/v2/public/get_time":
            return HttpReply.json({**_ENVELOPE, "result": ms(now_ns), **stamps})
        error = {"message": "Method not found", "code": -32601}
        return HttpReply.json({**_ENVELOPE, "error": error, **stamps}, 400)

    def _instruments(self) -> list[dict[str, Any]]:
        rows = []
        for grid in self.grids.values():
            base, quote = grid.symbol.split("-")[:2]
            rows.append(
                {
                    "instrument_name": grid.native_symbol,
                    "kind": "future",
                    "settlement_period": "perpetual",
                    "is_active": True,
                    "instrument_type": "reversed" if grid.inverse else "linear",
                    "base_currency": base,
                    "quote_currency": quote,
                    "settlement_currency": base if grid.inverse else quote,
                    "tick_size": float(grid.tick),
                    "min_trade_amount": float(grid.lot),
                    "contract_size": float(grid.lot),
                }
            )
        return rows
