"""Binance USD-M futures: WebSocket market streams and the REST depth snapshot.

Frames arrive either bare or wrapped as combined streams (``{"stream": ..., "data": {...}}``).
Times are milliseconds; ``T`` (matching-engine time) is preferred over ``E`` (push time).
USD-M contracts are linear with contract size 1, so quantities are already in base units
(a prefix like 1000PEPE is scaled by the instrument's multiplier).
"""

from decimal import Decimal, Overflow
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
    as_frame_rejected,
    event_ids,
    frame_rejection,
    split_multiplier_prefix,
    trade_amounts,
)
from services.ingest.venue import Channel, RateLimit, RestRequest
from services.ingest.venue_defaults import EVERY_CHANNEL, AdapterDefaults, NormalizerDefaults
from services.instruments.catalog import Instrument, InstrumentCatalog

# Numbers that parse but cannot be used: 9E+999999, an infinite time, a zero inverse price.
_OUT_OF_RANGE = (Overflow, OverflowError, ZeroDivisionError)
_SEQUENCE_GIVEN = trusted.fields_given(BookSequence)
_DELTA_GIVEN = trusted.fields_given(BookDelta, "type", "checksum")
_BBO_GIVEN = trusted.fields_given(BestBidOffer)
_TRADE_GIVEN = trusted.fields_given(Trade)
_LISTED = trusted.LISTED


def _unit(instrument: Instrument) -> bool:
    """Wire quantities are base units and prices need no scaling: levels are the wire's numbers."""
    return instrument.multiplier == 1 and instrument.contract_size == 1 and not instrument.inverse


class BinanceUsdmNormalizer(NormalizerDefaults):
    exchange = ExchangeId.BINANCE_USDM

    def __init__(self, catalog: InstrumentCatalog) -> None:
        super().__init__(catalog)
        self._instruments = trusted.TrustedInstruments(catalog, self.exchange)
        self._prices = trusted.DecimalCache(positive=True, capacity=16_384)
        self._quantities = trusted.DecimalCache()

    def normalize(self, frame: Any, receive_ts: int) -> list[InstrumentEvent]:
        if not isinstance(frame, dict):
            raise FrameRejected("malformed", "frame is not an object")
        data = frame.get("data", frame) if "stream" in frame else frame
        if not isinstance(data, dict):
            raise FrameRejected("malformed", "frame data is not an object")
        if "result" in data and "id" in data:
            return []  # subscription acknowledgement
        kind = data.get("e")
        # as_frame_rejected, without a context manager per frame (this is the hottest parser).
        try:
            if kind == "bookTicker":
                return [self._book_ticker(data, receive_ts)]
            if kind == "trade":
                return [self._trade(data, receive_ts, trade_id=str(data["t"]))]
            if kind == "depthUpdate":
                return [self._depth_update(data, receive_ts)]
            if kind == "aggTrade":
                return [self._trade(data, receive_ts, trade_id=f"a{data['a']}")]
            if kind == "markPriceUpdate":
                return [self._mark_price(data, receive_ts)]
            if kind == "forceOrder":
                return [self._force_order(data["o"], receive_ts)]
        except FrameRejected:
            raise
        except Exception as exc:
            raise frame_rejection(exc, kind, out_of_range=_OUT_OF_RANGE) from None
        raise FrameRejected("unknown_event", f"unsupported event type {kind!r}")

    def normalize_rest_snapshot(
        self, payload: JsonObject, native_symbol: str, receive_ts: int
    ) -> list[InstrumentEvent]:
        """GET /fapi/v1/depth: ``{"lastUpdateId", "E", "T", "bids", "asks"}``."""
        with as_frame_rejected("depth snapshot", out_of_range=_OUT_OF_RANGE):
            instrument = self._catalog.get(self.exchange, native_symbol)
            return [
                BookSnapshot(
                    **self._ids(instrument, payload.get("T") or payload.get("E") or 0, receive_ts),
                    sequence=BookSequence(last=int(payload["lastUpdateId"])),
                    bids=self._levels(instrument, payload["bids"]),
                    asks=self._levels(instrument, payload["asks"]),
                )
            ]

    def normalize_open_interest(
        self, payload: JsonObject, receive_ts: int, mark_price: Decimal | None = None
    ) -> list[InstrumentEvent]:
        """GET /fapi/v1/openInterest: ``{"openInterest", "symbol", "time"}`` (REST only on Binance).

        Open interest is in contracts; converting inverse contracts to base units needs a price,
        so the caller passes the latest mark price (required for inverse instruments).
        """
        with as_frame_rejected("open interest", out_of_range=_OUT_OF_RANGE):
            instrument = self._catalog.get(self.exchange, payload["symbol"])
            contracts = Decimal(payload["openInterest"])
            if instrument.inverse and (mark_price is None or mark_price <= 0):
                raise FrameRejected("missing_price", "inverse open interest needs a mark price to convert")
            price = mark_price if mark_price is not None else Decimal(1)
            notional = instrument.notional(contracts, price) if mark_price is not None else None
            return [
                OpenInterest(
                    **self._ids(instrument, payload["time"], receive_ts),
                    open_interest=instrument.base_quantity(contracts, price),
                    open_interest_notional=notional,
                )
            ]

    # --- streams ---------------------------------------------------------------------------

    def _ids(self, instrument: Instrument, ms: Any, receive_ts: int) -> dict[str, Any]:
        return event_ids(instrument, int(ms) * NS_PER_MS, receive_ts)

    def _levels(self, instrument: Instrument, levels: list[list[str]]) -> list[tuple[Decimal, Decimal]]:
        if _unit(instrument):
            return [(Decimal(price), Decimal(quantity)) for price, quantity in levels]
        return [instrument.base_level(Decimal(p), Decimal(q)) for p, q in levels]

    def _depth_update(self, data: JsonObject, receive_ts: int) -> BookDelta:
        instrument, head = self._instruments[data["s"]]
        exchange_ts = int(data.get("T") or data["E"]) * NS_PER_MS
        first, last, prev = int(data["U"]), int(data["u"]), int(data["pu"])
        if head is not None and exchange_ts >= 0 and receive_ts >= 0:
            bids = trusted.levels(data["b"], self._prices, self._quantities)
            asks = trusted.levels(data["a"], self._prices, self._quantities)
            if bids is not None and asks is not None:
                sequence = assemble(
                    BookSequence, {"first": first, "last": last, "prev": prev}, _SEQUENCE_GIVEN
                )
                state = {
                    "exchange": head[0],
                    "symbol": head[1],
                    "native_symbol": head[2],
                    "exchange_ts": exchange_ts,
                    "receive_ts": receive_ts,
                    "instrument_provenance": _LISTED,
                    "type": "delta",
                    "sequence": sequence,
                    "bids": bids,
                    "asks": asks,
                    "checksum": None,
                }
                return assemble(BookDelta, state, _DELTA_GIVEN)
        return BookDelta(
            **event_ids(instrument, exchange_ts, receive_ts),
            sequence=BookSequence(first=first, last=last, prev=prev),
            bids=self._levels(instrument, data["b"]),
            asks=self._levels(instrument, data["a"]),
        )

    def _book_ticker(self, data: JsonObject, receive_ts: int) -> BestBidOffer:
        instrument, head = self._instruments[data["s"]]
        exchange_ts = int(data.get("T") or data["E"]) * NS_PER_MS
        bid, bid_qty, ask, ask_qty = data["b"], data["B"], data["a"], data["A"]
        if head is not None and exchange_ts >= 0 and receive_ts >= 0:
            prices, quantities = self._prices, self._quantities
            try:
                bid_price, bid_quantity = prices[bid], quantities[bid_qty]
                ask_price, ask_quantity = prices[ask], quantities[ask_qty]
            except trusted.UNTRUSTED:
                bid_price = None
            if bid_price is not None:
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
                    "sequence": int(data["u"]),
                }
                return assemble(BestBidOffer, state, _BBO_GIVEN)
        (bid_price, bid_quantity), (ask_price, ask_quantity) = self._levels(
            instrument, [[bid, bid_qty], [ask, ask_qty]]
        )
        return BestBidOffer(
            **event_ids(instrument, exchange_ts, receive_ts),
            bid_price=bid_price,
            bid_quantity=bid_quantity,
            ask_price=ask_price,
            ask_quantity=ask_quantity,
            sequence=int(data["u"]),
        )

    def _trade(self, data: JsonObject, receive_ts: int, *, trade_id: str) -> Trade:
        instrument, head = self._instruments[data["s"]]
        price_text, quantity_text = data["p"], data["q"]
        if head is not None and trade_id:
            numbers = trusted.trade_numbers(price_text, quantity_text, self._prices, self._quantities)
            if numbers is not None:
                exchange_ts = int(data["T"]) * NS_PER_MS
                if exchange_ts >= 0 and receive_ts >= 0:
                    price, quantity = numbers
                    state = {
                        "exchange": head[0],
                        "symbol": head[1],
                        "native_symbol": head[2],
                        "exchange_ts": exchange_ts,
                        "receive_ts": receive_ts,
                        "instrument_provenance": _LISTED,
                        "trade_id": trade_id,
                        "side": Side.SELL if data["m"] else Side.BUY,
                        "price": price,
                        "quantity": quantity,
                        "notional": quantity * price,
                    }
                    return assemble(Trade, state, _TRADE_GIVEN)
        price, quantity = Decimal(price_text), Decimal(quantity_text)
        if price <= 0:
            raise FrameRejected("out_of_range", f"trade price {price}")
        return Trade(
            **event_ids(instrument, int(data["T"]) * NS_PER_MS, receive_ts),
            trade_id=trade_id,
            # m: the buyer was the maker, so the taker sold.
            side=Side.SELL if data["m"] else Side.BUY,
            **trade_amounts(instrument, price, quantity),
        )

    def _mark_price(self, data: JsonObject, receive_ts: int) -> Funding:
        instrument = self._catalog.get(self.exchange, data["s"])
        return Funding(
            **self._ids(instrument, data["E"], receive_ts),
            rate=Decimal(data["r"]),
            interval_s=instrument.funding_interval_s,
            next_funding_ts=int(data["T"]) * NS_PER_MS,
            mark_price=instrument.base_price(Decimal(data["p"])),
            index_price=instrument.base_price(Decimal(data["i"])) if data.get("i") else None,
        )

    def _force_order(self, order: JsonObject, receive_ts: int) -> Liquidation:
        instrument = self._catalog.get(self.exchange, order["s"])
        # ap/z (average price, filled quantity) describe what was actually liquidated.
        price = Decimal(order.get("ap") or order["p"])
        quantity = Decimal(order.get("z") or order["q"])
        if quantity <= 0 or price <= 0:
            raise FrameRejected("out_of_range", f"liquidation with price {price} quantity {quantity}")
        return Liquidation(
            **self._ids(instrument, order["T"], receive_ts),
            side=Side.BUY if order["S"] == "BUY" else Side.SELL,
            **trade_amounts(instrument, price, quantity),
        )


_STREAM_SUFFIX: dict[Channel, tuple[str, ...]] = {
    Channel.TRADES: ("aggTrade",),
    Channel.BOOK: ("depth@100ms",),
    Channel.BBO: ("bookTicker",),
    Channel.FUNDING: ("markPrice@1s",),
    Channel.LIQUIDATIONS: ("forceOrder",),
}


class BinanceUsdmAdapter(AdapterDefaults):
    """Protocol facts of Binance USD-M (developers.binance.com, derivatives/usds-margined-futures).

    Combined streams at ``/stream``, subscribed with ``SUBSCRIBE``; the server pings every
    3 minutes and the websockets library answers, so no application ping is needed. Open
    interest has no stream on Binance: it is polled over REST (``/fapi/v1/openInterest``).
    """

    exchange = ExchangeId.BINANCE_USDM
    ws_url = "wss://fstream.binance.com/stream"
    rest_url = "https://fapi.binance.com"
    capabilities = EVERY_CHANNEL
    max_subscriptions_per_connection = 200
    # 2,400 request weight per minute; a 1000-level depth snapshot weighs 20.
    rest_rate_limit = RateLimit(capacity=2400, per_second=40)
    polled_channels = frozenset({Channel.OPEN_INTEREST})
    """No open interest stream: ``open_interest_request`` is polled."""

    def __init__(self, catalog: InstrumentCatalog) -> None:
        self.normalizer = BinanceUsdmNormalizer(catalog)

    def subscribe_frames(self, channels: frozenset[Channel], native_symbols: list[str]) -> list[str]:
        streams = [
            f"{symbol.lower()}@{suffix}"
            for symbol in native_symbols
            for channel in sorted(channels & self.capabilities)
            for suffix in _STREAM_SUFFIX.get(channel, ())
        ]
        # Binance accepts at most 10 incoming messages per second; one SUBSCRIBE per 50 streams.
        return [
            orjson.dumps({"method": "SUBSCRIBE", "params": streams[i : i + 50], "id": i // 50 + 1}).decode()
            for i in range(0, len(streams), 50)
        ]

    def is_control_frame(self, frame: Any) -> bool:
        return isinstance(frame, dict) and "id" in frame and "result" in frame

    def book_snapshot_request(self, native_symbol: str) -> RestRequest | None:
        return RestRequest("/fapi/v1/depth", {"symbol": native_symbol, "limit": "1000"}, weight=20)

    def open_interest_request(self, native_symbol: str) -> RestRequest:
        return RestRequest("/fapi/v1/openInterest", {"symbol": native_symbol}, weight=1)

    def instruments_request(self) -> RestRequest:
        return RestRequest("/fapi/v1/exchangeInfo", weight=1)

    def parse_instruments(self, payload: JsonObject) -> list[Instrument]:
        instruments = []
        for entry in payload["symbols"]:
            if entry.get("contractType") != "PERPETUAL" or entry.get("status") != "TRADING":
                continue
            filters = {f["filterType"]: f for f in entry["filters"]}
            native = entry["symbol"]
            base, multiplier = split_multiplier_prefix(entry["baseAsset"])
            instruments.append(
                Instrument(
                    exchange=self.exchange,
                    native_symbol=native,
                    base=base,
                    quote=entry["quoteAsset"],
                    tick_size=Decimal(filters["PRICE_FILTER"]["tickSize"]).normalize(),
                    lot_size=Decimal(filters["LOT_SIZE"]["stepSize"]).normalize(),
                    contract_size=Decimal(1),
                    inverse=False,
                    multiplier=multiplier,
                )
            )
        return instruments
