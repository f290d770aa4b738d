"""KuCoin Futures, as the simulator speaks it.

Protocol (https://www.kucoin.com/docs/websocket/basic-info/apply-connect-token/public-token-no-authentication-required-,
.../basic-info/ping, .../futures-trading/public-channels/{match-execution-data,
level2-market-data,get-ticker-v2}, .../rest/futures-trading/market-data/*): a connection needs a
token from ``POST /api/v1/bullet-public``, which also names the endpoint and the server's
``pingInterval`` (ms); the socket opens with ``{"id": connectId, "type": "welcome"}`` (an unknown
token gets an ``error`` and the socket is closed). Subscriptions are
``{"id", "type": "subscribe", "topic": "/contractMarket/level2:XBTUSDTM,ETHUSDTM", "response":
true}`` answered ``{"id", "type": "ack"}``, at most 100 topics per session (error 509);
``{"id", "type": "ping"}`` is answered ``{"id", "type": "pong", "timestamp"}``.

Streams: ``level2`` carries ONE level change per message, ``"change": "price,side,size"``, whose
``sequence`` is the previous one + 1, continuing from the REST ``/api/v1/level2/snapshot``
``sequence`` (numbered here from the model's count of level changes); ``match`` (trades, ``ts``
in ns, taker ``side``) and ``tickerV2`` (best bid/ask, ``ts`` in ns). Funding and open interest
are served by the contract detail ``/api/v1/contracts/{symbol}`` only; there is no liquidation
feed. Sizes are lots (contracts).
"""

import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from schemas.common import ExchangeId, Side
from services.ingest.venue import Channel
from services.simulator.dialect import BaseDialect, HttpReply, HttpRequest, OutFrame, Session, ms
from services.simulator.model import BookChange, Grid, MarketEvent, TopOfBook, TradePrint

_TOPICS = (
    "/contractMarket/execution",
    "/contractMarket/level2",
    "/contractMarket/tickerV2",
    "/contract/instrument",
)
"""``/contract/instrument`` (funding rate, mark/index) is acknowledged but not pushed here: the
simulated funding is served by the contract detail, which alone carries the settlement time."""
_MAX_TOPICS = 100
_SEQUENCE_BASE = 1_700_000_000
"""KuCoin's level2 sequences are large; the model counts level changes from 0."""
_OK = "200000"
_BASE_NAMES = {"BTC": "XBT"}


class KucoinFuturesDialect(BaseDialect):
    exchange = ExchangeId.KUCOIN_FUTURES
    ping_interval_ms = 18_000
    """What the token answer announces as ``pingInterval`` (tests shorten it)."""
    ping_timeout_ms = 10_000

    def __init__(self) -> None:
        super().__init__()
        self.tokens: set[str] = set()

    # --- connection -----------------------------------------------------------------------------

    def open_session(self, session: Session, now_ns: int) -> list[OutFrame]:
        query = parse_qs(urlsplit(session.path).query)
        connect_id = (query.get("connectId") or [f"sim-{session.id}"])[0]
        session.extra["connect_id"] = connect_id
        token = (query.get("token") or [""])[0]
        if token not in self.tokens:
            error = {"id": connect_id, "type": "error", "code": 401, "data": "token is invalid"}
            return [self.reply(error, close_code=1008)]
        return [self.reply({"id": connect_id, "type": "welcome"})]

    def on_message(self, session: Session, text: str, now_ns: int) -> list[OutFrame]:
        try:
            request = orjson.loads(text)
            kind, request_id = request["type"], str(request.get("id", ""))
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return [self.reply({"id": "", "type": "error", "code": 400, "data": "invalid request"})]
        if kind == "ping":
            return [self.reply({"id": request_id, "type": "pong", "timestamp": ms(now_ns)})]
        if kind not in ("subscribe", "unsubscribe"):
            return [
                self.reply({"id": request_id, "type": "error", "code": 400, "data": f"unknown type {kind}"})
            ]
        prefix, _, symbols = str(request.get("topic", "")).partition(":")
        names = [s for s in symbols.split(",") if s]
        if prefix not in _TOPICS or not names or any(s not in self.grids for s in names):
            error = {
                "id": request_id,
                "type": "error",
                "code": 404,
                "data": f"topic {request.get('topic')} is not found",
            }
            return [self.reply(error)]
        topics = {f"{prefix}:{symbol}" for symbol in names}
        if kind == "unsubscribe":
            session.topics.difference_update(topics)
        else:
            if len(session.topics | topics) > _MAX_TOPICS:
                error = {
                    "id": request_id,
                    "type": "error",
                    "code": 509,
                    "data": f"exceed max subscription count limitation of {_MAX_TOPICS} per session",
                }
                return [self.reply(error)]
            session.topics.update(topics)
        return [self.reply({"id": request_id, "type": "ack"})] if request.get("response") else []

    # --- streams --------------------------------------------------------------------------------

    def _message(
        self, topic: str, subject: str, sn: int, data: dict[str, Any], channel: Channel, native: str
    ) -> OutFrame:
        payload = {"topic": topic, "type": "message", "subject": subject, "sn": sn, "data": data}
        return self.frame(payload, topic, channel, native)

    def render(self, event: MarketEvent) -> list[OutFrame]:
        grid = event.grid
        native = grid.native_symbol
        if isinstance(event, BookChange):
            topic = f"/contractMarket/level2:{native}"
            frames = []
            for n, (is_bid, price, lots) in enumerate(self.one_by_one(event), start=1):
                sequence = _SEQUENCE_BASE + event.level_changes_before + n
                change = f"{self.px(grid, price)},{'buy' if is_bid else 'sell'},{lots}"
                data = {"sequence": sequence, "change": change, "timestamp": ms(event.ts)}
                frames.append(self._message(topic, "level2", sequence, data, Channel.BOOK, native))
            return frames
        if isinstance(event, TopOfBook):
            (bid, bid_lots), (ask, ask_lots) = event.bid, event.ask
            data = {
                "symbol": native,
                "sequence": event.update_id,
                "bestBidSize": bid_lots,
                "bestBidPrice": self.px(grid, bid),
                "bestAskPrice": self.px(grid, ask),
                "bestAskSize": ask_lots,
                "ts": event.ts,
            }
            return [
                self._message(
                    f"/contractMarket/tickerV2:{native}",
                    "tickerV2",
                    event.update_id,
                    data,
                    Channel.BBO,
                    native,
                )
            ]
        if isinstance(event, TradePrint):
            trade_id = str(event.trade_id)
            data = {
                "symbol": native,
                "sequence": event.trade_id,
                "side": "buy" if event.taker is Side.BUY else "sell",
                "size": event.lots,
                "price": self.px(grid, event.price),
                "takerOrderId": f"t{trade_id}",
                "makerOrderId": f"m{trade_id}",
                "tradeId": trade_id,
                "ts": event.ts,
            }
            return [
                self._message(
                    f"/contractMarket/execution:{native}",
                    "match",
                    event.trade_id,
                    data,
                    Channel.TRADES,
                    native,
                )
            ]
        return []  # funding and open interest: the REST contract detail; no liquidation feed

    # --- REST -----------------------------------------------------------------------------------

    def rest(self, request: HttpRequest, now_ns: int) -> HttpReply:
        path = request.path
        if path == "/api/v1/bullet-public":
            if request.method != "POST":
                return HttpReply.json({"code": "405000", "msg": "method not allowed"}, 405)
            return self._bullet()
        if path == "/api/v1/level2/snapshot":
            return self._snapshot(request.query.get("symbol", ""), now_ns)
        if path == "/api/v1/contracts/active":
            return self._ok([self._detail(grid, now_ns) for grid in self.grids.values()])
        if path.startswith("/api/v1/contracts/"):
            grid = self.grids.get(path.rsplit("/", 1)[1])
            if grid is None:
                return HttpReply.json({"code": "300000", "msg": "Contract does not exist"})
            return HttpReply.json(
                {"code": _OK, "data": self._detail(grid, now_ns)},
                carries=((Channel.OPEN_INTEREST, 1), (Channel.FUNDING, 1)),
                native_symbol=grid.native_symbol,
            )
        if path == "/api/v1/timestamp":
            return self._ok(ms(now_ns))
        return HttpReply.json({"code": "404000", "msg": "Url Not Found."}, 404)

    @staticmethod
    def _ok(data: Any) -> HttpReply:
        return HttpReply.json({"code": _OK, "data": data})

    def _bullet(self) -> HttpReply:
        token = secrets.token_urlsafe(24)
        self.tokens.add(token)
        server = {
            "endpoint": self.endpoints.ws_url,
            "encrypt": self.endpoints.ws_url.startswith("wss"),
            "protocol": "websocket",
            "pingInterval": self.ping_interval_ms,
            "pingTimeout": self.ping_timeout_ms,
        }
        return self._ok({"token": token, "instanceServers": [server]})

    def _snapshot(self, native: str, now_ns: int) -> HttpReply:
        grid = self.grids.get(native)
        if grid is None:
            return HttpReply.json({"code": "300000", "msg": "Contract does not exist"})
        book = self.book_view(native, None, now_ns)
        data = {
            "symbol": native,
            "sequence": _SEQUENCE_BASE + book.level_changes,
            # The full snapshot writes prices as numbers and sizes as integer lots.
            "asks": [[self.number(grid, p), q] for p, q in book.asks],
            "bids": [[self.number(grid, p), q] for p, q in book.bids],
            "ts": now_ns,
        }
        return HttpReply.json({"code": _OK, "data": data}, carries=((Channel.BOOK, 1),), native_symbol=native)

    def _detail(self, grid: Grid, now_ns: int) -> dict[str, Any]:
        market = self.market
        native = grid.native_symbol
        mid = market.mid_price(self.exchange, native)
        mark = float(round(mid / float(grid.tick)) * grid.tick)
        interval_ms = grid.funding_interval_s * 1000
        base, quote = grid.symbol.split("-")[:2]
        return {
            "symbol": native,
            "rootSymbol": quote,
            "type": "FFWCSX",
            "status": "Open",
            "baseCurrency": _BASE_NAMES.get(base, base),
            "quoteCurrency": quote,
            "settleCurrency": base if grid.inverse else quote,
            "isInverse": grid.inverse,
            # Inverse lots are 1 USD paid in coin, which KuCoin writes as multiplier -1.
            "multiplier": -float(grid.contract_size) if grid.inverse else float(grid.contract_size),
            "tickSize": float(grid.tick),
            "lotSize": float(grid.lot),
            "markPrice": mark,
            "indexPrice": float(round(market.fair_price(grid.base), 2)),
            "openInterest": str(market.open_interest_lots(self.exchange, native)),
            "fundingFeeRate": float(market.funding_rate(self.exchange, native)),
            "nextFundingRateTime": interval_ms - ms(now_ns) % interval_ms,
            "fundingRateGranularity": interval_ms,
        }
