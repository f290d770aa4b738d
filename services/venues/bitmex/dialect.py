"""BitMEX realtime API (perpetual swaps), as the simulator speaks it.

Protocol (https://www.bitmex.com/app/wsAPI, https://www.bitmex.com/api/explorer/): the socket
opens with ``{"info": "Welcome to the BitMEX Realtime API.", ...}``; ``{"op": "subscribe",
"args": ["table:SYMBOL", ...]}`` is answered per argument with ``{"success": true, "subscribe":
arg, "request"}`` followed by the table's ``partial``; an unknown table or symbol gets
``{"status": 400, "error", "request"}``. Keepalive: the client sends the text ``ping``, answered
``pong``. Frames are ``{"table", "action": partial|insert|update|delete, "data": [rows]}`` with
ISO-8601 times.

``orderBookL2`` levels are keyed by ``id`` (one per side and price here); a ``partial`` is the
book, then ``delete``, ``update`` (size only, no price) and ``insert`` frames follow, in that
order so that no intermediate book is crossed. There are no sequence numbers. ``trade`` and
``liquidation`` rows are ``insert``ed; ``quote`` is the top of book; ``instrument`` updates carry
the funding rate, next funding time, mark price and open interest (contracts). Sizes are
contracts: 1 USD for the inverse XBTUSD, 1 / ``underlyingToPositionMultiplier`` coin for linear
contracts.
"""

import uuid
from collections import deque
from datetime import UTC, datetime
from typing import Any

import orjson

from schemas.common import ExchangeId, Side
from services.ingest.venue import Channel
from services.simulator.dialect import BaseDialect, HttpReply, HttpRequest, OutFrame, Session
from services.simulator.model import (
    BookChange,
    FundingPrint,
    Grid,
    LiquidationPrint,
    MarketEvent,
    TopOfBook,
    TradePrint,
)

_TABLES = ("orderBookL2", "trade", "quote", "instrument", "liquidation")
_SATOSHIS = 100_000_000
_RECENT_TRADES = 5
_IDS = uuid.UUID("6f1c3a52-9f0e-4a53-8d8e-0b5e3c6a7d21")
"""Namespace of the simulator's BitMEX trade and order ids (uuid5: the same trade, the same id)."""


def iso(ns: int) -> str:
    """BitMEX writes times as ``2021-07-22T22:36:10.014Z``."""
    moment = datetime.fromtimestamp(ns // 1_000_000 / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ns // 1_000_000 % 1000:03d}Z"


def level_id(ticks: int, is_bid: bool) -> int:
    """A level's id: fixed for its price and side, smaller for higher prices as on BitMEX."""
    return 88_000_000_000 - 2 * ticks - (0 if is_bid else 1)


def _side(is_bid: bool) -> str:
    return "Buy" if is_bid else "Sell"


class BitmexDialect(BaseDialect):
    exchange = ExchangeId.BITMEX

    def __init__(self) -> None:
        super().__init__()
        self._recent_trades: dict[str, deque[dict[str, Any]]] = {}

    @staticmethod
    def contracts(grid: Grid, lots: int) -> int:
        return int(lots * grid.lot)

    def open_session(self, session: Session, now_ns: int) -> list[OutFrame]:
        welcome = {
            "info": "Welcome to the BitMEX Realtime API.",
            "version": "2.0.0",
            "timestamp": iso(now_ns),
            "docs": "https://www.bitmex.com/app/wsAPI",
            "limit": {"remaining": 39},
        }
        return [self.reply(welcome)]

    def on_message(self, session: Session, text: str, now_ns: int) -> list[OutFrame]:
        if text == "ping":
            return [OutFrame("pong")]
        try:
            request = orjson.loads(text)
            op, args = request["op"], request["args"]
            if not isinstance(args, list):
                raise TypeError("args must be a list")
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return [self.reply({"status": 400, "error": "Unable to parse request.", "meta": {}})]
        if op not in ("subscribe", "unsubscribe"):
            return [self.reply({"status": 400, "error": f"Unknown op: {op}", "meta": {}, "request": request})]
        frames: list[OutFrame] = []
        for arg in map(str, args):
            table, _, symbol = arg.partition(":")
            if table not in _TABLES or symbol not in self.grids:
                error = f"Unknown table: {table}" if table not in _TABLES else f"Unknown symbol: {symbol}"
                frames.append(self.reply({"status": 400, "error": error, "meta": {}, "request": request}))
                continue
            frames.append(self.reply({"success": True, op: arg, "request": request}))
            if op == "unsubscribe":
                session.topics.discard(arg)
            elif arg not in session.topics:
                session.topics.add(arg)
                frames.append(self._partial(table, self.grids[symbol], now_ns))
        return frames

    # --- tables ---------------------------------------------------------------------------------

    def _table(
        self,
        table: str,
        action: str,
        rows: list[dict[str, Any]],
        grid: Grid,
        carries: tuple[tuple[Channel, int], ...],
    ) -> OutFrame:
        payload = {"table": table, "action": action, "data": rows}
        return OutFrame(self.dumps(payload), f"{table}:{grid.native_symbol}", carries, grid.native_symbol)

    def _partial(self, table: str, grid: Grid, now_ns: int) -> OutFrame:
        native = grid.native_symbol
        carries: tuple[tuple[Channel, int], ...] = ()
        if table == "orderBookL2":
            book = self.book_view(native, None, now_ns)
            when = iso(now_ns)
            rows = [self._level(grid, p, q, True, when) for p, q in book.bids]
            rows += [self._level(grid, p, q, False, when) for p, q in book.asks]
            # Ids descend with price: BitMEX sorts the partial by id.
            rows.sort(key=lambda row: row["id"])
            carries = ((Channel.BOOK, 1),)
        elif table == "trade":
            rows = list(self._recent_trades.get(native, ()))  # republished history: not published again
        elif table == "quote":
            view = self.book_view(native, 1, now_ns)
            rows = [self._quote(grid, view.bids[0], view.asks[0], now_ns)] if view.bids and view.asks else []
            carries = ((Channel.BBO, len(rows)),)
        elif table == "instrument":
            mid = self.market.mid_price(self.exchange, native)
            mark = max(1, round(mid / float(grid.tick)))
            rate = self.market.funding_rate(self.exchange, native)
            interval_ns = grid.funding_interval_s * 1_000_000_000
            next_ns = (now_ns // interval_ns + 1) * interval_ns
            rows = [self._instrument(grid, rate, mark, next_ns, now_ns)]
            carries = ((Channel.FUNDING, 1), (Channel.OPEN_INTEREST, 1))
        else:
            rows = []
        payload = {
            "table": table,
            "action": "partial",
            "keys": [],
            "filter": {"symbol": native},
            "data": rows,
        }
        return OutFrame(self.dumps(payload), f"{table}:{native}", carries, native)

    def _level(self, grid: Grid, ticks: int, lots: int, is_bid: bool, when: str) -> dict[str, Any]:
        return {
            "symbol": grid.native_symbol,
            "id": level_id(ticks, is_bid),
            "side": _side(is_bid),
            "size": self.contracts(grid, lots),
            "price": self.number(grid, ticks),
            "timestamp": when,
        }

    def _quote(self, grid: Grid, bid: tuple[int, int], ask: tuple[int, int], ts: int) -> dict[str, Any]:
        return {
            "timestamp": iso(ts),
            "symbol": grid.native_symbol,
            "bidSize": self.contracts(grid, bid[1]),
            "bidPrice": self.number(grid, bid[0]),
            "askPrice": self.number(grid, ask[0]),
            "askSize": self.contracts(grid, ask[1]),
        }

    def _instrument(self, grid: Grid, rate: Any, mark: int, next_ns: int, ts: int) -> dict[str, Any]:
        hours = grid.funding_interval_s // 3600
        return {
            "symbol": grid.native_symbol,
            "fundingRate": float(rate),
            "fundingTimestamp": iso(next_ns),
            "fundingInterval": f"2000-01-01T{hours:02d}:00:00.000Z",
            "markPrice": self.number(grid, mark),
            "openInterest": self.contracts(
                grid, self.market.open_interest_lots(self.exchange, grid.native_symbol)
            ),
            "timestamp": iso(ts),
        }

    def render(self, event: MarketEvent) -> list[OutFrame]:
        grid = event.grid
        native = grid.native_symbol
        when = iso(event.ts)
        if isinstance(event, BookChange):
            added = {(True, p) for p in event.added_bids} | {(False, p) for p in event.added_asks}
            actions: dict[str, list[dict[str, Any]]] = {"delete": [], "update": [], "insert": []}
            for is_bid, price, lots in self.one_by_one(event):
                ident = {"symbol": native, "id": level_id(price, is_bid), "side": _side(is_bid)}
                if not lots:
                    actions["delete"].append({**ident, "timestamp": when})
                elif (is_bid, price) in added:
                    actions["insert"].append(self._level(grid, price, lots, is_bid, when))
                else:
                    actions["update"].append({**ident, "size": self.contracts(grid, lots), "timestamp": when})
            return [
                self._table("orderBookL2", action, rows, grid, ((Channel.BOOK, 1),))
                for action, rows in actions.items()
                if rows
            ]
        if isinstance(event, TopOfBook):
            return [
                self._table(
                    "quote",
                    "insert",
                    [self._quote(grid, event.bid, event.ask, event.ts)],
                    grid,
                    ((Channel.BBO, 1),),
                )
            ]
        if isinstance(event, TradePrint):
            trade_price = self.number(grid, event.price)
            contracts = self.contracts(grid, event.lots)
            row: dict[str, Any] = {
                "timestamp": when,
                "symbol": native,
                "side": "Buy" if event.taker is Side.BUY else "Sell",
                "size": contracts,
                "price": trade_price,
                "tickDirection": "ZeroPlusTick",
                "trdMatchID": str(uuid.uuid5(_IDS, f"{native}:trade:{event.trade_id}")),
                "grossValue": round(contracts * trade_price),
                "trdType": "Regular",
            }
            self._recent_trades.setdefault(native, deque(maxlen=_RECENT_TRADES)).append(row)
            return [self._table("trade", "insert", [row], grid, ((Channel.TRADES, 1),))]
        if isinstance(event, FundingPrint):
            instrument = self._instrument(grid, event.rate, event.mark, event.next_funding_ts, event.ts)
            return [
                self._table(
                    "instrument",
                    "update",
                    [instrument],
                    grid,
                    ((Channel.FUNDING, 1), (Channel.OPEN_INTEREST, 1)),
                )
            ]
        if isinstance(event, LiquidationPrint):
            order: dict[str, Any] = {
                "orderID": str(
                    uuid.uuid5(_IDS, f"{native}:liquidation:{event.ts}:{event.price}:{event.lots}")
                ),
                "symbol": native,
                "side": "Sell" if event.side is Side.SELL else "Buy",
                "price": self.number(grid, event.price),
                "leavesQty": self.contracts(grid, event.lots),
            }
            return [self._table("liquidation", "insert", [order], grid, ((Channel.LIQUIDATIONS, 1),))]
        return []  # open interest rides on the instrument updates

    # --- REST -----------------------------------------------------------------------------------

    def rest(self, request: HttpRequest, now_ns: int) -> HttpReply:
        if request.path in ("/api/v1/instrument/active", "/api/v1/instrument"):
            return HttpReply.json([self._instrument_detail(grid) for grid in self.grids.values()])
        return HttpReply.json({"error": {"message": "Not Found", "name": "HTTPError"}}, 404)

    def _instrument_detail(self, grid: Grid) -> dict[str, Any]:
        base, quote = grid.symbol.split("-")[:2]
        underlying = "XBT" if base == "BTC" else base
        detail: dict[str, Any] = {
            "symbol": grid.native_symbol,
            "typ": "FFWCSX",
            "state": "Open",
            "isQuanto": False,
            "isInverse": grid.inverse,
            "underlying": underlying,
            "quoteCurrency": quote,
            "tickSize": float(grid.tick),
            "lotSize": int(grid.lot),
            "fundingInterval": f"2000-01-01T{grid.funding_interval_s // 3600:02d}:00:00.000Z",
        }
        if grid.inverse:
            detail["multiplier"] = -int(_SATOSHIS * grid.contract_size)
            detail["underlyingToSettleMultiplier"] = -_SATOSHIS
        else:
            detail["underlyingToPositionMultiplier"] = int(1 / grid.contract_size)
            detail["multiplier"] = 1
        return detail
