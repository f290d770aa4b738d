"""OKX v5 public WebSocket (perpetual swaps), as the simulator speaks it.

Protocol (https://www.okx.com/docs-v5/en/#overview-websocket): ``{"op": "subscribe", "args":
[{"channel", "instId"} | {"channel", "instType"}]}``, one ``{"event": "subscribe", "arg",
"connId"}`` ack per argument, ``{"event": "error", "code", "msg"}`` for a bad one; the client
sends the text ``ping`` and gets ``pong``. Channels: ``books`` (a ``snapshot`` on subscribe
with ``prevSeqId`` -1, then ``update`` frames whose ``prevSeqId`` is the previous ``seqId``),
``bbo-tbt``, ``books5``, ``trades``, ``funding-rate``, ``open-interest`` and
``liquidation-orders`` (per ``instType``, every swap at once). Sizes are contracts, times
millisecond strings. ``checksum`` is 0, as OKX sends it today (see ../shared/data/README.md).
"""

from decimal import Decimal
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

_INSTRUMENT_CHANNELS = {"books", "bbo-tbt", "books5", "trades", "funding-rate", "open-interest"}
_LIQUIDATIONS = "liquidation-orders"


def _trim(value: Decimal) -> str:
    """OKX writes numbers without trailing zeros ("100", "0.5")."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


class OkxDialect(BaseDialect):
    exchange = ExchangeId.OKX

    @staticmethod
    def px(grid: Grid, ticks: int) -> str:
        return _trim(ticks * grid.tick)

    @staticmethod
    def qty(grid: Grid, lots: int) -> str:
        return _trim(lots * grid.lot)

    def _levels4(self, grid: Grid, levels: Any) -> list[list[str]]:
        # [price, contracts, deprecated "0", number of orders]
        return [[self.px(grid, p), self.qty(grid, q), "0", str(1 + q % 7)] for p, q in levels]

    @staticmethod
    def _topic(arg: dict[str, Any]) -> str | None:
        channel = arg.get("channel")
        if channel in _INSTRUMENT_CHANNELS and isinstance(arg.get("instId"), str):
            return f"{channel}:{arg['instId']}"
        if channel == _LIQUIDATIONS and arg.get("instType") == "SWAP":
            return f"{_LIQUIDATIONS}:SWAP"
        return None

    def on_message(self, session: Session, text: str, now_ns: int) -> list[OutFrame]:
        conn_id = f"sim{session.id:06d}"
        if text == "ping":
            return [OutFrame("pong")]
        try:
            request = orjson.loads(text)
            op, args = request["op"], request["args"]
            if not isinstance(args, list) or not all(isinstance(a, dict) for a in args):
                raise TypeError("args must be a list of objects")
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return [
                self.reply(
                    {
                        "event": "error",
                        "code": "60012",
                        "msg": f"Invalid request: {text[:100]}",
                        "connId": conn_id,
                    }
                )
            ]
        if op not in ("subscribe", "unsubscribe"):
            return [
                self.reply(
                    {
                        "event": "error",
                        "code": "60018",
                        "msg": f"Wrong URL or channel:{op}",
                        "connId": conn_id,
                    }
                )
            ]
        frames: list[OutFrame] = []
        for arg in args:
            topic = self._topic(arg)
            symbol = arg.get("instId")
            if topic is None or (symbol is not None and symbol not in self.grids):
                message = f"Wrong URL or channel:{arg.get('channel')},instId:{symbol} doesn't exist"
                frames.append(
                    self.reply({"event": "error", "code": "60018", "msg": message, "connId": conn_id})
                )
                continue
            frames.append(self.reply({"event": op, "arg": arg, "connId": conn_id}))
            if op == "unsubscribe":
                session.topics.discard(topic)
                continue
            if topic not in session.topics:
                session.topics.add(topic)
                frames.extend(self._initial(topic, arg, now_ns))
        return frames

    def _initial(self, topic: str, arg: dict[str, Any], now_ns: int) -> list[OutFrame]:
        channel, _, symbol = topic.partition(":")
        if channel != "books":
            return []
        grid = self.grids[symbol]
        book = self.book_view(symbol, 400, now_ns)
        row = {
            "asks": self._levels4(grid, book.asks),
            "bids": self._levels4(grid, book.bids),
            "ts": str(ms(now_ns)),
            "checksum": 0,
            "prevSeqId": -1,
            "seqId": book.last,
        }
        payload = {"arg": {"channel": "books", "instId": symbol}, "action": "snapshot", "data": [row]}
        return [self.frame(payload, topic, Channel.BOOK, symbol)]

    # --- streams --------------------------------------------------------------------------------

    def render(self, event: MarketEvent) -> list[OutFrame]:
        grid = event.grid
        symbol = grid.native_symbol
        when = str(ms(event.ts))
        if isinstance(event, BookChange):
            row = {
                "asks": self._levels4(grid, event.asks),
                "bids": self._levels4(grid, event.bids),
                "ts": when,
                "checksum": 0,
                "prevSeqId": event.prev,
                "seqId": event.last,
            }
            payload = {"arg": {"channel": "books", "instId": symbol}, "action": "update", "data": [row]}
            return [self.frame(payload, f"books:{symbol}", Channel.BOOK, symbol)]
        if isinstance(event, TopOfBook):
            row = {
                "asks": self._levels4(grid, [event.ask]),
                "bids": self._levels4(grid, [event.bid]),
                "ts": when,
                "seqId": event.update_id,
            }
            return [
                self.frame(
                    {"arg": {"channel": channel, "instId": symbol}, "data": [row]},
                    f"{channel}:{symbol}",
                    Channel.BBO,
                    symbol,
                )
                for channel in ("bbo-tbt", "books5")
            ]
        if isinstance(event, TradePrint):
            row = {
                "instId": symbol,
                "tradeId": str(event.trade_id),
                "px": self.px(grid, event.price),
                "sz": self.qty(grid, event.lots),
                "side": "buy" if event.taker is Side.BUY else "sell",
                "ts": when,
                "count": "1",
                "source": "0",
                "seqId": event.trade_id,
            }
            payload = {"arg": {"channel": "trades", "instId": symbol}, "data": [row]}
            return [self.frame(payload, f"trades:{symbol}", Channel.TRADES, symbol)]
        if isinstance(event, FundingPrint):
            interval_ms = grid.funding_interval_s * 1000
            funding_ms = ms(event.next_funding_ts)
            row = {
                "instType": "SWAP",
                "instId": symbol,
                "method": "current_period",
                "fundingRate": _trim(event.rate) if event.rate else "0",
                "fundingTime": str(funding_ms),
                "nextFundingTime": str(funding_ms + interval_ms),
                "nextFundingRate": "",
                "ts": when,
            }
            payload = {"arg": {"channel": "funding-rate", "instId": symbol}, "data": [row]}
            return [self.frame(payload, f"funding-rate:{symbol}", Channel.FUNDING, symbol)]
        if isinstance(event, OpenInterestPrint):
            contracts = event.lots * grid.lot
            price = event.price * grid.tick
            if grid.inverse:
                base = contracts * grid.contract_size / price
            else:
                base = contracts * grid.contract_size * grid.multiplier
            row = {
                "instType": "SWAP",
                "instId": symbol,
                "oi": _trim(contracts),
                "oiCcy": _trim(base.quantize(Decimal("0.00000001"))),
                "oiUsd": _trim((base * price).quantize(Decimal("0.01"))),
                "ts": when,
            }
            payload = {"arg": {"channel": "open-interest", "instId": symbol}, "data": [row]}
            return [self.frame(payload, f"open-interest:{symbol}", Channel.OPEN_INTEREST, symbol)]
        if isinstance(event, LiquidationPrint):
            coin, quote = grid.symbol.split("-")[:2]
            detail = {
                "bkLoss": "0",
                "bkPx": self.px(grid, event.price),
                "ccy": "",
                "posSide": "long" if event.side is Side.SELL else "short",
                "side": "sell" if event.side is Side.SELL else "buy",
                "sz": self.qty(grid, event.lots),
                "ts": when,
            }
            row = {
                "details": [detail],
                "instFamily": f"{coin}-{quote}",
                "instId": symbol,
                "instType": "SWAP",
                "uly": f"{coin}-{quote}",
            }
            payload = {"arg": {"channel": _LIQUIDATIONS, "instType": "SWAP"}, "data": [row]}
            return [self.frame(payload, f"{_LIQUIDATIONS}:SWAP", Channel.LIQUIDATIONS, symbol)]
        return []

    # --- REST -----------------------------------------------------------------------------------

    def rest(self, request: HttpRequest, now_ns: int) -> HttpReply:
        if request.path == "/api/v5/public/instruments":
            return HttpReply.json({"code": "0", "msg": "", "data": self._instruments()})
        if request.path == "/api/v5/public/time":
            return HttpReply.json({"code": "0", "msg": "", "data": [{"ts": str(ms(now_ns))}]})
        if request.path == "/api/v5/market/books":
            symbol = request.query.get("instId", "")
            grid = self.grids.get(symbol)
            if grid is None:
                return HttpReply.json({"code": "51001", "msg": "Instrument ID does not exist.", "data": []})
            book = self.book_view(symbol, int(request.query.get("sz", "1") or 1), now_ns)
            row = {
                "asks": self._levels4(grid, book.asks),
                "bids": self._levels4(grid, book.bids),
                "ts": str(ms(now_ns)),
            }
            return HttpReply.json({"code": "0", "msg": "", "data": [row]})
        return HttpReply.json({"code": "50000", "msg": f"unknown path {request.path}"}, 404)

    def _instruments(self) -> list[dict[str, Any]]:
        rows = []
        for grid in self.grids.values():
            base, quote = grid.symbol.split("-")[:2]
            rows.append(
                {
                    "instType": "SWAP",
                    "instId": grid.native_symbol,
                    "state": "live",
                    "ctType": "inverse" if grid.inverse else "linear",
                    "ctVal": _trim(grid.contract_size),
                    "ctMult": "1",
                    "ctValCcy": quote if grid.inverse else base,
                    "settleCcy": base if grid.inverse else quote,
                    "tickSz": _trim(grid.tick),
                    "lotSz": _trim(grid.lot),
                    "uly": f"{base}-{quote}",
                }
            )
        return rows
