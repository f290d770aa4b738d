"""CoinDCX USDT-M futures: public Socket.IO channels, spoken as raw Engine.IO text frames.

Docs checked:
- https://docs.coindcx.com/#futures-sockets (Futures Sockets) — endpoint ``wss://stream.coindcx.com``
  (Socket.IO); join a channel with the event ``join`` and ``{"channelName": ...}``; channels
  ``<pair>@trades-futures`` (event ``new-trade``: ``T`` ms, ``p``, ``q``, ``m`` "is maker", ``s``
  pair), ``<pair>@orderbook@{10|20|50}-futures`` (event ``depth-snapshot``: ``ts``, ``vs``
  version, ``asks``/``bids`` as ``{price: quantity}`` maps), ``currentPrices@futures@rt`` (event
  ``currentPrices@futures#update``: ``prices`` keyed by pair with mark price ``mp``; the funding
  rate ``fr`` appears when it changes); the docs' client also emits an application ``ping`` every
  25 s.
- https://docs.coindcx.com/#get-instrument-details — ``GET /exchange/v1/derivatives/futures/data/
  active_instruments`` (pair names) and ``.../instrument?pair=`` (``price_increment``,
  ``quantity_increment``, ``unit_contract_value``, ``funding_frequency`` hours, ``is_inverse``).

Framing (Engine.IO v4 over WebSocket, ``/socket.io/?EIO=4&transport=websocket``; EIO=3 completes
the handshake but the server drops the socket about a second after the namespace ack):

- server ``0{"sid", "pingInterval", "pingTimeout"}`` opens; client ``40`` connects the default
  namespace, server answers ``40{"sid"}``;
- the SERVER pings with ``2`` and the client answers ``3`` (``control_reply``); an unsolicited
  ``3`` also clears the server's pending ping timeout, which is what ``ping_frame`` relies on when
  the connector does not answer pings itself;
- events are ``42["<event>", <payload>]``; ``42["join", {"channelName": ...}]`` subscribes.

The normalizer takes the decoded event, ``["<event>", <payload>]`` (``decode_frame`` turns a text
frame into it; the raw ``42...`` text is accepted too). Payloads arrive as
``{"event", "data": "<JSON text>"}`` (data is a JSON string, sometimes an object). Book snapshots
name their instrument by market symbol (``"s": "BTCUSDT"``) or only by ``channel``; trades by pair
(``"s": "B-BTC_USDT"``). Every futures pair is ``B-<BASE>_USDT`` with sizes in the base coin.

Channel use: ``new-trade`` -> Trade (``m`` true: the buyer was the maker, so the taker sold;
no trade id is sent, see ``_trade_id``); ``depth-snapshot`` -> BookSnapshot each time
(``BookSequence(last=vs)``); ``currentPrices@futures#update`` -> Funding when ``fr`` is present
(next funding = the next ``funding_frequency`` boundary, none is sent). Not offered over the socket:
BBO, open interest, liquidations.
"""

from collections.abc import Callable
from typing import Any

import orjson

from schemas.common import ExchangeId, InstrumentEvent, Side
from schemas.market_data import BookSequence, BookSnapshot, Funding, Trade
from services.ingest.normalizer import FrameRejected, JsonObject
from services.ingest.parsing import (
    NS_PER_MS,
    Level,
    as_frame_rejected,
    event_ids,
    finite_decimal,
    next_funding_boundary,
    plain_decimal,
    trade_amounts,
)
from services.ingest.venue import Channel, RateLimit, RestRequest
from services.ingest.venue_defaults import AdapterDefaults, NormalizerDefaults
from services.instruments.catalog import Instrument, InstrumentCatalog, UnknownInstrument

EVENT_PREFIX = "42"
CONNECT_ERROR_PREFIX = "44"
PAIR_PREFIX = "B-"
QUOTE = "USDT"
ORDER_BOOK_DEPTH = 50
CURRENT_PRICES_CHANNEL = "currentPrices@futures@rt"


def is_engine_io_control(text: str) -> bool:
    """Engine.IO/Socket.IO packets without market data: 0{...} open, 1 close, 2 ping, 3 pong,
    40/40{...} connect, 41 disconnect, 43 ack, 5 upgrade, 6 noop (``42`` is an event, ``44`` an error)."""
    return bool(text) and text[0] in "0123456" and not text.startswith((EVENT_PREFIX, CONNECT_ERROR_PREFIX))


def decode_frame(text: str) -> list[Any] | None:
    """``42["event", payload]`` -> ``["event", payload]``; Engine.IO control frames -> None.

    A capture that kept the Socket.IO event without its Engine.IO ``42`` prefix (``["event",
    payload]``) reads the same. Anything else is rejected with the reason: no frame is dropped
    silently.
    """
    if is_engine_io_control(text):
        return None
    if text.startswith(CONNECT_ERROR_PREFIX):
        raise FrameRejected(
            "venue_error", f"Socket.IO connect error: {text[len(CONNECT_ERROR_PREFIX) :][:200]}"
        )
    if text.startswith(EVENT_PREFIX):
        body = text[len(EVENT_PREFIX) :]
    elif text.lstrip().startswith("["):
        body = text
    else:
        raise FrameRejected("malformed", "neither an Engine.IO packet nor a Socket.IO event array")
    try:
        event = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise FrameRejected("malformed", f"Socket.IO event is not JSON: {exc}") from None
    if not isinstance(event, list) or not event or not isinstance(event[0], str):
        raise FrameRejected("malformed", "Socket.IO event is not [name, payload]")
    return event


def _integer(value: Any) -> int:
    """A time or a version; unlike ``strict_int``, a JSON float is truncated, not refused.

    Trade times come as floats at times (RT 1705516416271.6133); whole milliseconds are enough.
    """
    return int(finite_decimal(value))


def pair_from_market(market: str) -> str:
    """``BTCUSDT`` (the book's ``s``) -> ``B-BTC_USDT``: every futures pair is quoted in USDT."""
    if not market.endswith(QUOTE) or len(market) == len(QUOTE):
        raise ValueError(f"not a USDT futures market: {market!r}")
    return f"{PAIR_PREFIX}{market[: -len(QUOTE)]}_{QUOTE}"


class CoindcxNormalizer(NormalizerDefaults):
    exchange = ExchangeId.COINDCX

    def __init__(self, catalog: InstrumentCatalog) -> None:
        super().__init__(catalog)
        self._handlers: dict[str, Callable[[JsonObject, Any, int], list[InstrumentEvent]]] = {
            "new-trade": self._trade,
            "depth-snapshot": self._depth_snapshot,
            "currentPrices@futures#update": self._current_prices,
        }

    def normalize(self, frame: Any, receive_ts: int) -> list[InstrumentEvent]:
        """``frame`` is the decoded Socket.IO event ``["name", payload]`` (or its ``42`` text)."""
        if isinstance(frame, str):
            decoded = decode_frame(frame)
            if decoded is None:
                return []
            frame = decoded
        if not isinstance(frame, list) or not frame or not isinstance(frame[0], str):
            raise FrameRejected("malformed", "frame is not a Socket.IO event [name, payload]")
        name = frame[0]
        handler = self._handlers.get(name)
        if handler is None:
            raise FrameRejected("unknown_event", f"unsupported event {name!r}")
        with as_frame_rejected(name):
            envelope = frame[1]
            data = envelope.get("data", envelope) if isinstance(envelope, dict) else envelope
            if isinstance(data, str):
                data = orjson.loads(data)  # the payload is JSON inside a JSON string
            if not isinstance(data, dict):
                raise TypeError("event data is not an object")
            channel = envelope.get("channel") if isinstance(envelope, dict) else None
            return handler(data, channel or data.get("channel"), receive_ts)

    # --- events ----------------------------------------------------------------------------

    def _ids(self, instrument: Instrument, ms: Any, receive_ts: int) -> dict[str, Any]:
        return event_ids(instrument, _integer(ms) * NS_PER_MS, receive_ts)

    def _side(self, instrument: Instrument, levels: Any, descending: bool) -> list[Level]:
        if not isinstance(levels, dict):
            raise TypeError("book side is not a {price: quantity} map")
        # The maps are not in price order.
        parsed = sorted(
            ((finite_decimal(price), finite_decimal(quantity)) for price, quantity in levels.items()),
            key=lambda level: level[0],
            reverse=descending,
        )
        return [instrument.base_level(p, q) for p, q in parsed]

    def _trade(self, data: JsonObject, channel: Any, receive_ts: int) -> list[InstrumentEvent]:
        instrument = self._catalog.get(self.exchange, data["s"])
        price, quantity = finite_decimal(data["p"]), finite_decimal(data["q"])
        return [
            Trade(
                **self._ids(instrument, data["T"], receive_ts),
                trade_id=_trade_id(data),
                # m: the buyer was the maker (Binance-style), so the taker sold.
                side=Side.SELL if data["m"] else Side.BUY,
                **trade_amounts(instrument, price, quantity),
            )
        ]

    def _depth_snapshot(self, data: JsonObject, channel: Any, receive_ts: int) -> list[InstrumentEvent]:
        if isinstance(channel, str) and "@orderbook@" in channel:
            pair = channel.split("@", 1)[0]
        elif isinstance(data.get("s"), str):
            pair = pair_from_market(data["s"])
        else:
            raise FrameRejected("malformed", "depth-snapshot names no instrument (no channel, no s)")
        instrument = self._catalog.get(self.exchange, pair)
        return [
            BookSnapshot(
                **self._ids(instrument, data["ts"], receive_ts),
                sequence=BookSequence(last=_integer(data["vs"])),
                bids=self._side(instrument, data["bids"], descending=True),
                asks=self._side(instrument, data["asks"], descending=False),
            )
        ]

    def _current_prices(self, data: JsonObject, channel: Any, receive_ts: int) -> list[InstrumentEvent]:
        prices = data["prices"]
        if not isinstance(prices, dict):
            raise TypeError("prices is not an object")
        events: list[InstrumentEvent] = []
        for pair, entry in prices.items():
            try:
                instrument = self._catalog.get(self.exchange, pair)
            except UnknownInstrument:
                continue  # the channel carries every futures pair, not only ours
            if entry.get("fr") is None:
                continue  # fields are sent only when they change: no rate, no funding event
            ids = self._ids(instrument, data["ts"], receive_ts)
            mark = finite_decimal(entry["mp"]) if entry.get("mp") is not None else None
            events.append(
                Funding(
                    **ids,
                    rate=finite_decimal(entry["fr"]),
                    interval_s=instrument.funding_interval_s,
                    next_funding_ts=next_funding_boundary(ids["exchange_ts"], instrument.funding_interval_s),
                    mark_price=instrument.base_price(mark) if mark is not None else None,
                )
            )
        return events


def _trade_id(data: JsonObject) -> str:
    """CoinDCX sends no trade id (``t`` is used when present): time, price, size and side stand in."""
    if data.get("t") not in (None, ""):
        return str(data["t"])
    return f"{_integer(data['T'])}-{finite_decimal(data['p'])}-{finite_decimal(data['q'])}-{int(bool(data['m']))}"


_CHANNEL_NAMES: dict[Channel, str] = {
    Channel.TRADES: "{pair}@trades-futures",
    Channel.BOOK: "{pair}@orderbook@" + str(ORDER_BOOK_DEPTH) + "-futures",
}


def _event(name: str, payload: Any) -> str:
    return EVENT_PREFIX + orjson.dumps([name, payload]).decode()


class CoindcxAdapter(AdapterDefaults):
    """Protocol facts of CoinDCX futures (see the module docstring for the framing)."""

    exchange = ExchangeId.COINDCX
    ws_url = "wss://stream.coindcx.com/socket.io/?EIO=4&transport=websocket"
    rest_url = "https://api.coindcx.com"
    capabilities = frozenset({Channel.TRADES, Channel.BOOK, Channel.FUNDING})
    # No documented cap; each pair takes two channels plus one shared price channel.
    max_subscriptions_per_connection = 50
    # Below the default pingTimeout (20 s), see the module docstring.
    ping_interval_s: float | None = 10.0
    # No public REST limit is documented: stay polite.
    rest_rate_limit = RateLimit(capacity=10, per_second=2)

    def __init__(self, catalog: InstrumentCatalog) -> None:
        self.normalizer = CoindcxNormalizer(catalog)

    def subscribe_frames(self, channels: frozenset[Channel], native_symbols: list[str]) -> list[str]:
        """Everything one connection carrying all of ``native_symbols`` sends."""
        return self.symbol_frames(channels, native_symbols) + self.venue_wide_frames(channels, native_symbols)

    def symbol_frames(self, channels: frozenset[Channel], native_symbols: list[str]) -> list[str]:
        """The namespace connect and the per-pair joins of one connection."""
        wanted = channels & self.capabilities
        names = [
            template.format(pair=pair)
            for pair in native_symbols
            for channel, template in sorted(_CHANNEL_NAMES.items())
            if channel in wanted
        ]
        # "40" first: the default namespace must be connected before any event is accepted.
        return ["40", *(_event("join", {"channelName": name}) for name in names)]

    def venue_wide_frames(self, channels: frozenset[Channel], native_symbols: list[str]) -> list[str]:
        """``currentPrices@futures@rt`` carries every pair: joined on one connection per venue."""
        if Channel.FUNDING not in channels & self.capabilities:
            return []
        return [_event("join", {"channelName": CURRENT_PRICES_CHANNEL})]

    def handshake_reply(self, frame: str) -> str | None:
        """The reply to wait for before sending more: the server's ``40`` namespace ack."""
        return "40" if frame == "40" else None

    def ping_frame(self) -> str | None:
        return "3"

    def control_reply(self, frame: str) -> str | None:
        """The Engine.IO answer a raw text frame needs: a server ping ``2`` wants a pong ``3``."""
        return "3" if frame == "2" else None

    def decode_frame(self, text: str) -> list[Any] | None:
        return decode_frame(text)

    def is_control_frame(self, frame: Any) -> bool:
        if isinstance(frame, str):
            return is_engine_io_control(frame)
        # A connector that JSON-decodes every text frame turns "2", "3", "40" and "41" into numbers.
        return isinstance(frame, int) and not isinstance(frame, bool)

    def instruments_request(self) -> RestRequest:
        """The pair list; each pair's details come from ``instrument_details_request``."""
        return RestRequest(
            "/exchange/v1/derivatives/futures/data/active_instruments",
            {"margin_currency_short_name[]": QUOTE},
        )

    def instrument_details_request(self, pair: str) -> RestRequest:
        return RestRequest(
            "/exchange/v1/derivatives/futures/data/instrument",
            {"pair": pair, "margin_currency_short_name": QUOTE},
        )

    def parse_instruments(self, payload: Any) -> list[Instrument]:
        """Instrument details: ``{"instrument": {...}}``, or a list of those (or of bare details).

        A bare list of pair names (the ``active_instruments`` answer) has no tick or lot sizes
        and yields nothing: fetch each pair's details first.
        """
        entries = payload if isinstance(payload, list) else [payload]
        instruments = []
        for entry in entries:
            if isinstance(entry, str):
                continue
            details = entry.get("instrument", entry)
            if details.get("status") != "active" or details.get("kind", "perpetual") != "perpetual":
                continue
            instruments.append(
                Instrument(
                    exchange=self.exchange,
                    native_symbol=details["pair"],
                    base=details["underlying_currency_short_name"],
                    quote=details["quote_currency_short_name"],
                    tick_size=plain_decimal(finite_decimal(details["price_increment"])),
                    lot_size=plain_decimal(finite_decimal(details["quantity_increment"])),
                    contract_size=plain_decimal(finite_decimal(details.get("unit_contract_value", 1))),
                    inverse=bool(details.get("is_inverse", False)),
                    funding_interval_s=int(details.get("funding_frequency") or 8) * 3600,
                )
            )
        return instruments
