"""Bitget USDT-M perpetuals (public WebSocket API v2), as the simulator speaks it.

Protocol (https://www.bitget.com/api-doc/common/websocket-intro, .../contract/websocket/public/
Order-Book-Channel, Tickers-Channel, New-Trades-Channel, .../contract/market/Get-All-Symbols-
Contracts): ``{"op": "subscribe", "args": [{"instType": "USDT-FUTURES", "channel", "instId"}]}``
is acknowledged per argument with ``{"event": "subscribe", "arg"}`` (``{"event": "error", "code",
"msg"}`` for an unknown one); the client sends the text ``ping`` and gets ``pong``, and a
connection without a ping for two minutes is closed. Pushes are ``{"action": "snapshot" |
"update", "arg", "data": [...], "ts"}`` with number strings and millisecond times.

``books`` opens with a full ``snapshot`` and continues with ``update`` frames whose ``pseq`` is
the previous ``seq``; every push carries the CRC32 ``checksum`` of the top 25 levels of the book
after it (``interleaved_crc32``, OKX's algorithm, over the strings sent). ``books1`` is the top of book, pushed whole.
``trade`` opens with a snapshot of recent trades (which a subscriber receives again after every
resubscription), then updates. ``ticker`` carries the funding rate, next funding time, mark and
index prices and ``holdingAmount`` (open interest in coin). No public liquidation channel.

The newer public WebSocket (UTA, ``wss://ws.bitget.com/v3/ws/public``; bitget.com/api-doc/uta/
websocket/public/New-Trades-Channel and .../Order-Book-Channel) is spoken too, per subscription:
an argument ``{"instType": "usdt-futures", "topic": "publicTrade" | "books" | "books1", "symbol"}``
gets the same pushes in that format: ``arg {instType, topic, symbol}``, trade rows ``{i, p, v, S,
T}``, book rows ``{a, b, checksum, seq, pseq, ts}``. Its ticker is not simulated.
"""

from collections import deque
from decimal import Decimal
from typing import Any

import orjson

from schemas.common import ExchangeId, Side
from services.book_builder.core.checksum import interleaved_crc32
from services.ingest.venue import Channel
from services.simulator.dialect import BaseDialect, HttpReply, HttpRequest, OutFrame, Session, ms
from services.simulator.model import (
    BookChange,
    BookView,
    FundingPrint,
    Grid,
    MarketEvent,
    TopOfBook,
    TradePrint,
)

_INST_TYPE = "USDT-FUTURES"
_CHANNELS = ("books", "books1", "trade", "ticker")
_CHECKSUM_DEPTH = 25
_RECENT_TRADES = 5
_IDLE_CLOSE_NS = 120 * 1_000_000_000
_UTA_INST_TYPE = "usdt-futures"
_UTA_TOPICS = {"publicTrade": "trade", "books": "books", "books1": "books1"}
"""UTA topic -> the v2 channel whose pushes it carries."""
_UTA_TOPIC_OF = {channel: topic for topic, channel in _UTA_TOPICS.items()}


class BitgetDialect(BaseDialect):
    exchange = ExchangeId.BITGET

    def __init__(self) -> None:
        super().__init__()
        self._recent_trades: dict[str, deque[dict[str, str]]] = {}
        self._uta_topics: set[str] = set()
        """UTA subscriptions ever made: only those pushes are rendered in the UTA format too."""

    def open_session(self, session: Session, now_ns: int) -> list[OutFrame]:
        session.extra["last_ping"] = now_ns
        return []

    def heartbeat(self, session: Session, now_ns: int) -> list[OutFrame]:
        if now_ns - session.extra.get("last_ping", now_ns) > _IDLE_CLOSE_NS:
            return [OutFrame("", close_code=1000)]
        return []

    def on_message(self, session: Session, text: str, now_ns: int) -> list[OutFrame]:
        if text == "ping":
            session.extra["last_ping"] = now_ns
            return [OutFrame("pong")]
        try:
            request = orjson.loads(text)
            op, args = request["op"], request["args"]
            if not isinstance(args, list) or not all(isinstance(a, dict) for a in args):
                raise TypeError("args must be a list of objects")
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return [self.reply({"event": "error", "code": 30012, "msg": "Invalid op or args"})]
        if op not in ("subscribe", "unsubscribe"):
            return [self.reply({"event": "error", "code": 30004, "msg": f"op {op} not supported"})]
        frames: list[OutFrame] = []
        for arg in args:
            uta = "topic" in arg
            if uta:
                channel, symbol = _UTA_TOPICS.get(str(arg.get("topic"))), arg.get("symbol")
                known_type = arg.get("instType") == _UTA_INST_TYPE
            else:
                channel, symbol = arg.get("channel"), arg.get("instId")
                known_type = arg.get("instType") == _INST_TYPE
            if not known_type or channel not in _CHANNELS or symbol not in self.grids:
                message = f"instType:{arg.get('instType')},channel:{channel},instId:{symbol} doesn't exist"
                frames.append(
                    self.reply({"event": "error", "arg": arg, "code": 30001, "msg": message, "op": op})
                )
                continue
            frames.append(self.reply({"event": op, "arg": arg}))
            topic = f"{'uta:' if uta else ''}{channel}:{symbol}"
            if op == "unsubscribe":
                session.topics.discard(topic)
            elif topic not in session.topics:
                session.topics.add(topic)
                if uta:
                    self._uta_topics.add(topic)
                initial = self._initial(str(channel), self.grids[str(symbol)], now_ns)
                frames.extend([self._as_uta(f) for f in initial] if uta else initial)
        return frames

    # --- pushes ---------------------------------------------------------------------------------

    @staticmethod
    def _arg(channel: str, native: str) -> dict[str, str]:
        return {"instType": _INST_TYPE, "channel": channel, "instId": native}

    def _push(
        self,
        action: str,
        channel: str,
        rows: list[Any],
        ts: int,
        native: str,
        carries: tuple[tuple[Channel, int], ...],
    ) -> OutFrame:
        payload = {"action": action, "arg": self._arg(channel, native), "data": rows, "ts": ms(ts)}
        return OutFrame(self.dumps(payload), f"{channel}:{native}", carries, native)

    def _pushes(
        self,
        action: str,
        channel: str,
        rows: list[Any],
        ts: int,
        native: str,
        carries: tuple[tuple[Channel, int], ...],
    ) -> list[OutFrame]:
        """The v2 push, and its UTA twin when a session subscribed to that UTA topic."""
        v2 = self._push(action, channel, rows, ts, native, carries)
        return [v2, self._as_uta(v2)] if f"uta:{v2.topic}" in self._uta_topics else [v2]

    def _as_uta(self, frame: OutFrame) -> OutFrame:
        """A v2 push (``_push``) in the UTA format, for the sessions subscribed to its UTA topic."""
        payload = orjson.loads(frame.text)
        arg = payload["arg"]
        channel = arg["channel"]
        if channel == "trade":
            rows = [
                {"i": r["tradeId"], "p": r["price"], "v": r["size"], "S": r["side"], "T": r["ts"]}
                for r in payload["data"]
            ]
        else:
            rows = [
                {"a": r["asks"], "b": r["bids"], **{k: v for k, v in r.items() if k not in ("asks", "bids")}}
                for r in payload["data"]
            ]
        uta_arg = {"instType": _UTA_INST_TYPE, "topic": _UTA_TOPIC_OF[channel], "symbol": arg["instId"]}
        uta = {"data": rows, "arg": uta_arg, "action": payload["action"], "ts": payload["ts"]}
        return OutFrame(self.dumps(uta), f"uta:{frame.topic}", frame.carries, frame.native_symbol)

    def _checksum(self, grid: Grid, book: BookView) -> int:
        return interleaved_crc32(self.levels(grid, book.bids), self.levels(grid, book.asks))

    def _initial(self, channel: str, grid: Grid, now_ns: int) -> list[OutFrame]:
        native = grid.native_symbol
        if channel == "books":
            book = self.book_view(native, None, now_ns)
            row = {
                "asks": self.levels(grid, book.asks),
                "bids": self.levels(grid, book.bids),
                "checksum": self._checksum(grid, self.book_view(native, _CHECKSUM_DEPTH, now_ns)),
                "seq": book.last,
                "pseq": 0,
                "ts": str(ms(now_ns)),
            }
            return [self._push("snapshot", "books", [row], now_ns, native, ((Channel.BOOK, 1),))]
        if channel == "trade":
            # Newest first, as Bitget lists them.
            rows = list(reversed(self._recent_trades.get(native, ())))
            return [self._push("snapshot", "trade", rows, now_ns, native, ((Channel.TRADES, len(rows)),))]
        return []

    def render(self, event: MarketEvent) -> list[OutFrame]:
        grid = event.grid
        native = grid.native_symbol
        if isinstance(event, BookChange):
            top = self.book_view(native, _CHECKSUM_DEPTH, event.ts)
            row: dict[str, Any] = {
                "asks": self.levels(grid, event.asks),
                "bids": self.levels(grid, event.bids),
                "checksum": self._checksum(grid, top),
                "seq": event.last,
                "pseq": event.prev,
                "ts": str(ms(event.ts)),
            }
            return self._pushes("update", "books", [row], event.ts, native, ((Channel.BOOK, 1),))
        if isinstance(event, TopOfBook):
            row = {
                "asks": self.levels(grid, [event.ask]),
                "bids": self.levels(grid, [event.bid]),
                "checksum": 0,
                "seq": event.update_id,
                "ts": str(ms(event.ts)),
            }
            return self._pushes("snapshot", "books1", [row], event.ts, native, ((Channel.BBO, 1),))
        if isinstance(event, TradePrint):
            trade = {
                "ts": str(ms(event.ts)),
                "price": self.px(grid, event.price),
                "size": self.qty(grid, event.lots),
                "side": "buy" if event.taker is Side.BUY else "sell",
                "tradeId": str(1_471_400_000_000_000_000 + event.trade_id),
            }
            self._recent_trades.setdefault(native, deque(maxlen=_RECENT_TRADES)).append(trade)
            return self._pushes("update", "trade", [trade], event.ts, native, ((Channel.TRADES, 1),))
        if isinstance(event, FundingPrint):
            mark, index = self.px(grid, event.mark), self.px(grid, event.index)
            lots = self.market.open_interest_lots(self.exchange, native)
            row = {
                "instId": native,
                "lastPr": mark,
                "markPrice": mark,
                "indexPrice": index,
                "fundingRate": self.decimal(event.rate),
                "nextFundingTime": str(ms(event.next_funding_ts)),
                "holdingAmount": self.qty(grid, lots),
                "symbolType": "1",
                "ts": str(ms(event.ts)),
            }
            carries = ((Channel.FUNDING, 1), (Channel.OPEN_INTEREST, 1))
            return [self._push("snapshot", "ticker", [row], event.ts, native, carries)]
        return []  # open interest rides on the ticker; no liquidation channel

    # --- REST -----------------------------------------------------------------------------------

    def rest(self, request: HttpRequest, now_ns: int) -> HttpReply:
        if request.path == "/api/v2/mix/market/contracts":
            if request.query.get("productType", "").upper() != _INST_TYPE:
                return HttpReply.json(
                    {"code": "40019", "msg": "Parameter productType error", "requestTime": ms(now_ns)}, 400
                )
            rows = [self._contract(grid) for grid in self.grids.values()]
            return HttpReply.json(
                {"code": "00000", "msg": "success", "requestTime": ms(now_ns), "data": rows}
            )
        if request.path == "/api/v2/public/time":
            return HttpReply.json(
                {"code": "00000", "msg": "success", "data": {"serverTime": str(ms(now_ns))}}
            )
        return HttpReply.json(
            {"code": "40404", "msg": "Request URL NOT FOUND", "requestTime": ms(now_ns)}, 404
        )

    def _contract(self, grid: Grid) -> dict[str, Any]:
        base, quote = grid.symbol.split("-")[:2]
        exponent = grid.tick.normalize().as_tuple().exponent
        price_place = max(0, -exponent) if isinstance(exponent, int) else 0
        prefix = "" if grid.multiplier == 1 else format(grid.multiplier, "f")
        return {
            "symbol": grid.native_symbol,
            "baseCoin": f"{prefix}{base}",
            "quoteCoin": quote,
            "symbolType": "perpetual",
            "symbolStatus": "normal",
            "pricePlace": str(price_place),
            "priceEndStep": format((grid.tick * Decimal(10) ** price_place).normalize(), "f"),
            "sizeMultiplier": format(grid.lot, "f"),
            "fundInterval": str(grid.funding_interval_s // 3600),
        }
