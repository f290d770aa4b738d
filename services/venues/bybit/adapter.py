"""Bybit v5 linear (USDT/USDC perpetuals): public WebSocket topics and the instrument endpoint.

Docs (checked 2026): https://bybit-exchange.github.io/docs/v5/ws/connect,
https://bybit-exchange.github.io/docs/v5/websocket/public/orderbook,
https://bybit-exchange.github.io/docs/v5/websocket/public/trade,
https://bybit-exchange.github.io/docs/v5/websocket/public/ticker,
https://bybit-exchange.github.io/docs/v5/websocket/public/all-liquidation,
https://bybit-exchange.github.io/docs/v5/market/instrument,
https://bybit-exchange.github.io/docs/v5/rate-limit.

Frames are ``{"topic", "type", "ts", "data", ...}``; times are milliseconds. Linear quantities
are already in base coin (a prefixed contract such as 1000PEPEUSDT is scaled by the instrument's
multiplier).

Book sequence: ``BookSequence.last`` is ``u``, the update id of the ``orderbook.{depth}`` topic,
which grows by one per message of that topic; a ``snapshot`` (Bybit resends one after a service
restart, then with ``u = 1``) replaces the book. ``seq`` is the matching engine's cross sequence,
shared by every topic of a symbol (``publicTrade`` carries it too). ``u`` counts per depth topic,
so the BBO taken from ``orderbook.1`` carries ``seq`` as its ``sequence``: that is the only id
comparable with the book built from ``orderbook.50`` and with trades.

Tickers: the first ``tickers`` frame is a snapshot, later ones are deltas holding only the
fields that changed. The normalizer keeps no state, so a ``Funding`` event is emitted only when
a frame holds both ``fundingRate`` and ``nextFundingTime`` (every snapshot, and the deltas at
each funding rollover), and an ``OpenInterest`` event whenever ``openInterest`` is present.
"""

from decimal import Decimal
from typing import Any

import orjson

from schemas.common import ExchangeId, InstrumentEvent, Side
from schemas.market_data import (
    BestBidOffer,
    BookDelta,
    BookSequence,
    BookSnapshot,
    Funding,
    Liquidation,
    OpenInterest,
    Trade,
)
from schemas.trusted import assemble
from services.ingest import trusted
from services.ingest.normalizer import FrameRejected, JsonObject
from services.ingest.parsing import (
    NS_PER_MS,
    base_levels,
    event_ids,
    finite_decimal,
    frame_rejection,
    parse_side,
    plain_decimal,
    trade_amounts,
)
from services.ingest.venue import Channel, RateLimit, RestRequest
from services.ingest.venue_defaults import (
    EVERY_CHANNEL,
    AdapterDefaults,
    NormalizerDefaults,
    resubscribe_pair,
)
from services.instruments.catalog import Instrument, InstrumentCatalog

_BBO_DEPTH = "1"
_BOOK_DEPTH = "50"
_BOOK_KINDS: dict[str, type[BookSnapshot] | type[BookDelta]] = {"snapshot": BookSnapshot, "delta": BookDelta}
_SEQUENCE_GIVEN = frozenset({"last"})
_BOOK_GIVEN = trusted.fields_given(BookDelta, "type", "checksum")
_BBO_GIVEN = trusted.fields_given(BestBidOffer)
_TRADE_GIVEN = trusted.fields_given(Trade)
_TAKER_SIDES = {"Buy": Side.BUY, "Sell": Side.SELL}
_LISTED = trusted.LISTED
# What odd wire values raise on the trusted path; it then leaves the frame to the validated path,
# which raises the error the frame deserves.
_ODD_VALUES = (LookupError, TypeError, ValueError, ArithmeticError)


def _ms_to_ns(ms: Any) -> int:
    if isinstance(ms, bool):
        raise TypeError("timestamp is a boolean")
    return int(ms) * NS_PER_MS


class BybitNormalizer(NormalizerDefaults):
    """Book, top-of-book and trade frames of exactly-unit instruments (linear, contract size and
    multiplier 1) with plain decimal texts are built on the trusted path (``services.ingest.trusted``);
    anything else, and tickers and liquidations, the validated way. Both give the same events."""

    exchange = ExchangeId.BYBIT

    def __init__(self, catalog: InstrumentCatalog) -> None:
        super().__init__(catalog)
        self._instruments = trusted.TrustedInstruments(catalog, self.exchange)
        self._prices = trusted.DecimalCache(positive=True, capacity=16_384)
        self._quantities = trusted.DecimalCache()

    def normalize(self, frame: JsonObject, receive_ts: int) -> list[InstrumentEvent]:
        if not isinstance(frame, dict):
            raise FrameRejected("malformed", "frame is not an object")
        if "op" in frame:
            # Acks and pongs: {"success": true, "op": "subscribe" | "ping" | "pong", ...}.
            if frame.get("success") is False:
                raise FrameRejected("venue_error", f"{frame.get('op')}: {frame.get('ret_msg')}")
            return []
        topic = frame.get("topic")
        if not isinstance(topic, str):
            raise FrameRejected("malformed", "frame has no topic")
        kind, _, rest = topic.partition(".")
        # as_frame_rejected, without a context manager per frame (a hot parser).
        try:
            if kind == "orderbook":
                depth = rest.partition(".")[0]
                if depth == _BBO_DEPTH:
                    return self._bbo(frame, receive_ts)
                return [self._book(frame, receive_ts)]
            if kind == "publicTrade":
                return [self._trade(row, receive_ts) for row in frame["data"]]
            if kind == "tickers":
                return self._ticker(frame, receive_ts)
            if kind == "allLiquidation":
                return [self._liquidation(row, receive_ts) for row in frame["data"]]
            if kind == "liquidation":
                return [self._liquidation(_older_liquidation(frame["data"]), receive_ts)]
        except FrameRejected:
            raise
        except Exception as exc:
            raise frame_rejection(exc, kind) from None
        raise FrameRejected("unknown_event", f"unsupported topic {topic!r}")

    # --- topics ----------------------------------------------------------------------------

    def _ids(self, instrument: Instrument, ms: Any, receive_ts: int) -> dict[str, Any]:
        return event_ids(instrument, _ms_to_ns(ms), receive_ts)

    def _trade(self, row: JsonObject, receive_ts: int) -> Trade:
        instrument, head = self._instruments[row["s"]]
        if head is not None:
            try:
                numbers = trusted.trade_numbers(row["p"], row["v"], self._prices, self._quantities)
                exchange_ts, trade_id, side = _ms_to_ns(row["T"]), str(row["i"]), _TAKER_SIDES[row["S"]]
            except _ODD_VALUES:  # the validated path below rejects it, in its own order
                numbers = None
            if numbers is not None and trade_id and exchange_ts >= 0 and receive_ts >= 0:
                price, quantity = numbers
                state = {
                    "exchange": head[0],
                    "symbol": head[1],
                    "native_symbol": head[2],
                    "exchange_ts": exchange_ts,
                    "receive_ts": receive_ts,
                    "instrument_provenance": _LISTED,
                    "trade_id": trade_id,
                    "side": side,  # S is the taker's side
                    "price": price,
                    "quantity": quantity,
                    "notional": quantity * price,
                }
                return assemble(Trade, state, _TRADE_GIVEN)
        price, quantity = finite_decimal(row["p"]), finite_decimal(row["v"])
        return Trade(
            **self._ids(instrument, row["T"], receive_ts),
            trade_id=str(row["i"]),
            side=parse_side(row["S"], buy="Buy", sell="Sell"),  # S is the taker's side
            **trade_amounts(instrument, price, quantity),
        )

    def _book(self, frame: JsonObject, receive_ts: int) -> BookSnapshot | BookDelta:
        data = frame["data"]
        instrument, head = self._instruments[data["s"]]
        # cts is the matching-engine time of the book, ts the push time.
        exchange_ts = _ms_to_ns(frame.get("cts") or frame["ts"])
        last = int(data["u"])
        kind = frame.get("type")
        event_class = _BOOK_KINDS.get(kind) if type(kind) is str else None
        if head is not None and event_class is not None and exchange_ts >= 0 and receive_ts >= 0:
            bids = trusted.levels(data["b"], self._prices, self._quantities)
            asks = trusted.levels(data["a"], self._prices, self._quantities)
            if bids is not None and asks is not None:
                state = {
                    "exchange": head[0],
                    "symbol": head[1],
                    "native_symbol": head[2],
                    "exchange_ts": exchange_ts,
                    "receive_ts": receive_ts,
                    "instrument_provenance": _LISTED,
                    "type": kind,
                    "sequence": assemble(
                        BookSequence, {"first": None, "last": last, "prev": None}, _SEQUENCE_GIVEN
                    ),
                    "bids": bids,
                    "asks": asks,
                    "checksum": None,
                }
                return assemble(event_class, state, _BOOK_GIVEN)
        fields = {
            **event_ids(instrument, exchange_ts, receive_ts),
            "sequence": BookSequence(last=last),
            "bids": base_levels(instrument, data["b"]),
            "asks": base_levels(instrument, data["a"]),
        }
        if kind == "snapshot":
            return BookSnapshot(**fields)
        if kind == "delta":
            return BookDelta(**fields)
        raise FrameRejected("malformed", f"orderbook frame of type {kind!r}")

    def _bbo(self, frame: JsonObject, receive_ts: int) -> list[InstrumentEvent]:
        data = frame["data"]
        instrument, head = self._instruments[data["s"]]
        if head is not None:
            bids = trusted.levels(data["b"], self._prices, self._quantities)
            asks = trusted.levels(data["a"], self._prices, self._quantities)
            if bids is not None and asks is not None:
                if not bids or not asks:
                    return []  # one side of the book is empty: there is no top of book to publish
                exchange_ts = _ms_to_ns(frame.get("cts") or frame["ts"])
                if exchange_ts >= 0 and receive_ts >= 0:
                    (bid_price, bid_quantity), (ask_price, ask_quantity) = bids[0], asks[0]
                    state = {
                        "exchange": head[0],
                        "symbol": head[1],
                        "native_symbol": head[2],
                        "exchange_ts": exchange_ts,
                        "receive_ts": receive_ts,
                        "instrument_provenance": _LISTED,
                        "bid_price": bid_price,
                        "bid_quantity": bid_quantity,
                        "ask_price": ask_price,
                        "ask_quantity": ask_quantity,
                        "sequence": int(data["seq"]),
                    }
                    return [assemble(BestBidOffer, state, _BBO_GIVEN)]
        bids, asks = base_levels(instrument, data["b"]), base_levels(instrument, data["a"])
        if not bids or not asks:
            return []  # one side of the book is empty: there is no top of book to publish
        return [
            BestBidOffer(
                **self._ids(instrument, frame.get("cts") or frame["ts"], receive_ts),
                bid_price=bids[0][0],
                bid_quantity=bids[0][1],
                ask_price=asks[0][0],
                ask_quantity=asks[0][1],
                sequence=int(data["seq"]),
            )
        ]

    def _ticker(self, frame: JsonObject, receive_ts: int) -> list[InstrumentEvent]:
        data = frame["data"]
        instrument = self._catalog.get(self.exchange, data["symbol"])
        ids = self._ids(instrument, frame["ts"], receive_ts)
        events: list[InstrumentEvent] = []
        if data.get("fundingRate") and data.get("nextFundingTime"):
            hours = data.get("fundingIntervalHour")
            events.append(
                Funding(
                    **ids,
                    rate=finite_decimal(data["fundingRate"]),
                    interval_s=int(hours) * 3600 if hours else instrument.funding_interval_s,
                    next_funding_ts=int(data["nextFundingTime"]) * NS_PER_MS,
                    mark_price=self._price(instrument, data.get("markPrice")),
                    index_price=self._price(instrument, data.get("indexPrice")),
                )
            )
        if data.get("openInterest"):
            value = data.get("openInterestValue")
            events.append(
                OpenInterest(
                    **ids,
                    # Linear open interest is counted in base coin, like trade sizes.
                    open_interest=instrument.base_quantity(finite_decimal(data["openInterest"]), Decimal(1)),
                    open_interest_notional=finite_decimal(value) if value else None,
                )
            )
        return events

    def _price(self, instrument: Instrument, text: Any) -> Decimal | None:
        return instrument.base_price(finite_decimal(text)) if text else None

    def _liquidation(self, row: JsonObject, receive_ts: int) -> Liquidation:
        instrument = self._catalog.get(self.exchange, row["s"])
        price, quantity = finite_decimal(row["p"]), finite_decimal(row["v"])
        # S is the side of the liquidated POSITION: "Buy" means a long was liquidated, which the
        # venue closes with a sell order.
        position = parse_side(row["S"], buy="Buy", sell="Sell")
        return Liquidation(
            **self._ids(instrument, row["T"], receive_ts),
            side=Side.SELL if position is Side.BUY else Side.BUY,
            **trade_amounts(instrument, price, quantity),
        )


def _older_liquidation(data: JsonObject) -> JsonObject:
    """The ``liquidation.{symbol}`` topic that ``allLiquidation`` replaced, still in older captures:
    one object ``{"updatedTime", "symbol", "side", "size", "price"}`` whose ``side`` is, as in
    ``allLiquidation``, the liquidated position's (bybit-exchange.github.io/docs/v5/websocket/public/liquidation).
    Returned in ``allLiquidation``'s row shape."""
    if not isinstance(data, dict):
        raise TypeError("liquidation data is not an object")
    return {
        "T": data["updatedTime"],
        "s": data["symbol"],
        "S": data["side"],
        "v": data["size"],
        "p": data["price"],
    }


_TOPICS: dict[Channel, tuple[str, ...]] = {
    Channel.TRADES: ("publicTrade",),
    Channel.BOOK: (f"orderbook.{_BOOK_DEPTH}",),
    Channel.BBO: (f"orderbook.{_BBO_DEPTH}",),
    Channel.FUNDING: ("tickers",),
    Channel.OPEN_INTEREST: ("tickers",),
    Channel.LIQUIDATIONS: ("allLiquidation",),
}
_ARGS_PER_REQUEST = 10  # the documented per-request cap on spot; kept on linear for uniformity

_MULTIPLIER_PREFIXES = ("1000000", "100000", "10000", "1000", "100")


def split_multiplier(base_coin: str) -> tuple[str, Decimal]:
    """``1000PEPE`` -> (PEPE, 1000); ``SHIB1000`` -> (SHIB, 1000); ``BTC`` -> (BTC, 1)."""
    for prefix in _MULTIPLIER_PREFIXES:
        if base_coin.startswith(prefix) and base_coin[len(prefix) :].isalpha():
            return base_coin[len(prefix) :], Decimal(prefix)
        if base_coin.endswith(prefix) and base_coin[: -len(prefix)].isalpha():
            return base_coin[: -len(prefix)], Decimal(prefix)
    return base_coin, Decimal(1)


class BybitAdapter(AdapterDefaults):
    """Protocol facts of Bybit v5 linear.

    Public linear stream at ``/v5/public/linear``. The docs ask for an application ping
    ``{"op": "ping"}`` every 20 s. One public connection may carry at most 21,000 characters of
    ``args``: at about 25 characters a topic that is ~800 topics, so 500 leaves headroom for long
    symbols. REST: 600 requests per 5 s per IP. Every channel here is a WebSocket topic; the
    order book arrives as a WS snapshot followed by deltas, so no REST bootstrap is needed.
    """

    exchange = ExchangeId.BYBIT
    ws_url = "wss://stream.bybit.com/v5/public/linear"
    rest_url = "https://api.bybit.com"
    capabilities = EVERY_CHANNEL
    max_subscriptions_per_connection = 500
    ping_interval_s: float | None = 20.0
    rest_rate_limit = RateLimit(capacity=600, per_second=120)

    def __init__(self, catalog: InstrumentCatalog) -> None:
        self.normalizer = BybitNormalizer(catalog)

    def subscribe_frames(self, channels: frozenset[Channel], native_symbols: list[str]) -> list[str]:
        prefixes = sorted({p for c in channels & self.capabilities for p in _TOPICS[c]})
        topics = [f"{prefix}.{symbol}" for symbol in native_symbols for prefix in prefixes]
        return [
            orjson.dumps(
                {
                    "op": "subscribe",
                    "req_id": str(i // _ARGS_PER_REQUEST + 1),
                    "args": topics[i : i + _ARGS_PER_REQUEST],
                }
            ).decode()
            for i in range(0, len(topics), _ARGS_PER_REQUEST)
        ]

    def ping_frame(self) -> str | None:
        return '{"op":"ping"}'

    def book_resubscribe_frames(self, native_symbol: str) -> list[str]:
        """Unsubscribe then subscribe the symbol's ``orderbook`` topic: Bybit answers with a snapshot."""
        request = {"req_id": "resync", "args": [f"{p}.{native_symbol}" for p in _TOPICS[Channel.BOOK]]}
        return resubscribe_pair(request, "op", ("unsubscribe", "subscribe"))

    def is_control_frame(self, frame: Any) -> bool:
        # A refused subscription is not a control frame: the normalizer reports it.
        return isinstance(frame, dict) and "op" in frame and frame.get("success") is not False

    def instruments_request(self) -> RestRequest:
        return RestRequest("/v5/market/instruments-info", {"category": "linear", "limit": "1000"})

    def parse_instruments(self, payload: JsonObject) -> list[Instrument]:
        instruments = []
        for entry in payload["result"]["list"]:
            if entry.get("contractType") != "LinearPerpetual" or entry.get("status") != "Trading":
                continue
            base, multiplier = split_multiplier(entry["baseCoin"])
            minutes = entry.get("fundingInterval")
            instruments.append(
                Instrument(
                    exchange=self.exchange,
                    native_symbol=entry["symbol"],
                    base=base,
                    quote=entry["quoteCoin"],
                    tick_size=plain_decimal(Decimal(entry["priceFilter"]["tickSize"])),
                    lot_size=plain_decimal(Decimal(entry["lotSizeFilter"]["qtyStep"])),
                    contract_size=Decimal(1),
                    inverse=False,
                    multiplier=multiplier,
                    funding_interval_s=int(minutes) * 60 if minutes else 8 * 3600,
                )
            )
        return instruments
