"""CoinDCX USDT-M futures, as the simulator speaks it: Socket.IO events over Engine.IO v4 frames.

Protocol (https://docs.coindcx.com/#futures-sockets, https://docs.coindcx.com/#get-instrument-details;
Engine.IO v4 / Socket.IO v5 framing): the server opens with ``0{"sid", "upgrades": [],
"pingInterval", "pingTimeout", "maxPayload"}``; the client connects the default namespace with
``40`` and the server acknowledges ``40{"sid"}`` (an event before that gets a ``44`` connect
error). The SERVER pings with ``2`` every ``pingInterval``; a client that has not sent ``3``
within ``pingTimeout`` is dropped. Events are ``42["<event>", <payload>]``: the client joins
with ``42["join", {"channelName"}]`` (no acknowledgement); the server pushes
``42["<event>", {"event", "data": "<JSON text>", "channel"?}]``.

Channels: ``<pair>@trades-futures`` (``new-trade``: ``T`` ms, ``p``, ``q`` base coin, ``m`` the
buyer was the maker, ``s`` pair; no trade id), ``<pair>@orderbook@{10|20|50}-futures``
(``depth-snapshot``: the whole top-N book every time as ``{price: size}`` maps, ``vs`` the
version), and the venue-wide ``currentPrices@futures@rt`` (``currentPrices@futures#update``:
``prices`` keyed by pair with mark price ``mp`` and, when it changed, funding rate ``fr``).
"""

import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from schemas.common import ExchangeId, Side
from services.ingest.venue import Channel
from services.simulator.dialect import BaseDialect, HttpReply, HttpRequest, OutFrame, Session, ms
from services.simulator.model import BookChange, FundingPrint, Grid, MarketEvent, TradePrint

_DEPTHS = ("10", "20", "50")
_CURRENT_PRICES = "currentPrices@futures@rt"
_EVENT = "42"


def _event(name: str, data: dict[str, Any], **envelope: str) -> str:
    payload = {"event": name, "data": orjson.dumps(data).decode(), **envelope}
    return _EVENT + orjson.dumps([name, payload]).decode()


class CoindcxDialect(BaseDialect):
    exchange = ExchangeId.COINDCX
    ping_interval_ms = 25_000
    """Engine.IO ``pingInterval`` announced in the open packet (tests shorten it)."""
    ping_timeout_ms = 20_000

    def __init__(self) -> None:
        super().__init__()
        self._prices_version = 29_000_000

    # --- Engine.IO ------------------------------------------------------------------------------

    def open_session(self, session: Session, now_ns: int) -> list[OutFrame]:
        version = (parse_qs(urlsplit(session.path).query).get("EIO") or [""])[0]
        sid = secrets.token_urlsafe(15)
        session.extra.update(sid=sid, next_ping=now_ns + self.ping_interval_ms * 1_000_000, ping_sent=None)
        if version != "4":
            return [OutFrame("", close_code=1002)]  # this server speaks Engine.IO v4 only
        opening = {
            "sid": sid,
            "upgrades": [],
            "pingInterval": self.ping_interval_ms,
            "pingTimeout": self.ping_timeout_ms,
            "maxPayload": 1_000_000,
        }
        return [OutFrame("0" + self.dumps(opening))]

    def heartbeat(self, session: Session, now_ns: int) -> list[OutFrame]:
        sent = session.extra.get("ping_sent")
        if sent is not None and now_ns - sent > self.ping_timeout_ms * 1_000_000:
            return [OutFrame("", close_code=1000)]  # ping timeout: Engine.IO closes the transport
        if now_ns < session.extra.get("next_ping", now_ns + 1):
            return []
        session.extra["next_ping"] = now_ns + self.ping_interval_ms * 1_000_000
        if sent is None:
            session.extra["ping_sent"] = now_ns
        return [OutFrame("2")]

    def on_message(self, session: Session, text: str, now_ns: int) -> list[OutFrame]:
        if text == "3":
            session.extra["ping_sent"] = None
            return []
        if text == "2":  # an Engine.IO v3 style client ping
            return [OutFrame("3")]
        if text.startswith("40"):
            session.extra["connected"] = True
            sid = session.extra.get("sid") or secrets.token_urlsafe(15)
            return [OutFrame("40" + self.dumps({"sid": sid}))]
        if text == "41":
            session.extra["connected"] = False
            session.topics.clear()
            return []
        if not text.startswith(_EVENT):
            return []  # other packet types: nothing to answer
        if not session.extra.get("connected"):
            return [OutFrame("44" + self.dumps({"message": "namespace not connected"}))]
        try:
            name, payload = orjson.loads(text[len(_EVENT) :])[:2]
            channel = payload["channelName"]
        except (orjson.JSONDecodeError, ValueError, KeyError, TypeError):
            return []  # Socket.IO servers ignore events they cannot read
        topic = self._topic(str(channel))
        if topic is None:
            return []
        if name == "leave":
            session.topics.discard(topic)
            return []
        if name != "join" or topic in session.topics:
            return []
        session.topics.add(topic)
        if "@orderbook@" in topic:
            pair = topic.split("@", 1)[0]
            view = self.book_view(pair, None, now_ns)
            return [self._depth(self.grids[pair], topic, view.last, view.bids, view.asks, now_ns)]
        return []

    def _topic(self, channel: str) -> str | None:
        if channel == _CURRENT_PRICES:
            return channel
        pair, _, rest = channel.partition("@")
        if pair not in self.grids:
            return None
        if rest == "trades-futures":
            return channel
        kind, _, depth = rest.partition("@")
        if kind == "orderbook" and depth.removesuffix("-futures") in _DEPTHS and depth.endswith("-futures"):
            return channel
        return None

    # --- streams --------------------------------------------------------------------------------

    def _depth(self, grid: Grid, topic: str, version: int, bids: Any, asks: Any, ts: int) -> OutFrame:
        data = {
            "ts": ms(ts),
            "vs": version,
            "asks": {self.px(grid, p): self.qty(grid, q) for p, q in asks},
            "bids": {self.px(grid, p): self.qty(grid, q) for p, q in bids},
            "pr": "futures",
        }
        return OutFrame(
            _event("depth-snapshot", data, channel=topic), topic, ((Channel.BOOK, 1),), grid.native_symbol
        )

    def render(self, event: MarketEvent) -> list[OutFrame]:
        grid = event.grid
        pair = grid.native_symbol
        if isinstance(event, BookChange):
            view = self.book_view(pair, None, event.ts)
            frames = []
            for depth in _DEPTHS:
                topic = f"{pair}@orderbook@{depth}-futures"
                n = int(depth)
                frames.append(self._depth(grid, topic, event.last, view.bids[:n], view.asks[:n], event.ts))
            return frames
        if isinstance(event, TradePrint):
            trade = {
                "T": ms(event.ts),
                "RT": ms(event.ts) + 0.5,
                "p": self.px(grid, event.price),
                "q": self.qty(grid, event.lots),
                # m: the buyer was the maker, i.e. the taker sold.
                "m": 1 if event.taker is Side.SELL else 0,
                "s": pair,
                "pr": "f",
            }
            topic = f"{pair}@trades-futures"
            return [OutFrame(_event("new-trade", trade), topic, ((Channel.TRADES, 1),), pair)]
        if isinstance(event, FundingPrint):
            self._prices_version += 1
            data = {
                "vs": self._prices_version,
                "ts": ms(event.ts),
                "pr": "futures",
                "pST": ms(event.ts),
                "prices": {
                    pair: {
                        "mp": self.number(grid, event.mark),
                        "fr": float(event.rate),
                        "bmST": ms(event.ts),
                        "cmRT": ms(event.ts),
                    }
                },
            }
            name = "currentPrices@futures#update"
            return [OutFrame(_event(name, data), _CURRENT_PRICES, ((Channel.FUNDING, 1),), pair)]
        return []  # no BBO, open interest or liquidation channel

    # --- REST -----------------------------------------------------------------------------------

    def rest(self, request: HttpRequest, now_ns: int) -> HttpReply:
        base = "/exchange/v1/derivatives/futures/data"
        if request.path == f"{base}/active_instruments":
            return HttpReply.json(list(self.grids))
        if request.path == f"{base}/instrument":
            grid = self.grids.get(request.query.get("pair", ""))
            if grid is None:
                return HttpReply.json({"code": 422, "message": "Invalid pair", "status": "error"}, 422)
            return HttpReply.json({"instrument": self._instrument(grid)})
        return HttpReply.json({"code": 404, "message": "Not found", "status": "error"}, 404)

    @staticmethod
    def _instrument(grid: Grid) -> dict[str, Any]:
        base, quote = grid.symbol.split("-")[:2]
        return {
            "pair": grid.native_symbol,
            "kind": "perpetual",
            "status": "active",
            "underlying_currency_short_name": base,
            "quote_currency_short_name": quote,
            "margin_currency_short_name": quote,
            "price_increment": float(grid.tick),
            "quantity_increment": float(grid.lot),
            "unit_contract_value": float(grid.contract_size),
            "funding_frequency": grid.funding_interval_s // 3600,
            "is_inverse": grid.inverse,
        }
