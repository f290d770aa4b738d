"""BitMEX perpetuals (inverse XBTUSD, linear XBTUSDT/ETHUSDT): realtime WebSocket and instruments.

Docs (checked 2026): https://www.bitmex.com/app/wsAPI (subscriptions, tables, heartbeats),
https://www.bitmex.com/api/explorer/ (orderBookL2, trade, quote, instrument, liquidation),
https://www.bitmex.com/app/restAPI (rate limits),
https://support.bitmex.com/hc/en-gb/articles/16797952159261 (contract size from /instrument),
https://www.bitmex.com/app/inversePerpetualsGuide, https://www.bitmex.com/app/linearPerpetualsGuide.

Frames are ``{"table", "action": partial|insert|update|delete, "data": [rows]}``; row times are
ISO-8601 strings. Sizes are CONTRACTS: XBTUSD is inverse, one contract = 1 USD, so
base = contracts / price and notional = contracts USD; a linear contract is
1 / ``underlyingToPositionMultiplier`` base coin (XBTUSDT: 0.000001 XBT). Quanto contracts
(ETHUSD, 2021's *USDT quantos) pay a fixed amount of XBT per point and have no base-unit size:
they are left out of the instrument snapshot. XBT is published as BTC.

Order book (``orderBookL2``): levels are keyed by ``id``; ``partial`` is the snapshot, then
``insert`` adds levels, ``update`` changes their size and ``delete`` removes them, and those two
may omit ``price``. The normalizer therefore keeps, per symbol, the id -> price map of the live
levels (its only state); an update or delete for an unknown id is rejected, and a rejected frame
leaves the map untouched. BitMEX sends no sequence numbers: ``BookSequence.last`` is 0 on every
book event, and the book builder cannot check continuity for this venue.

Trades: the ``partial`` of ``trade`` repeats trades made before subscribing, so only ``insert``
rows are published (a reconnect would otherwise duplicate them). Liquidations: each ``insert``
of the ``liquidation`` table is a new liquidation order (side, price, ``leavesQty``); updates
only shrink what is left of it. ``instrument`` rows are partial updates: funding is published
when a row carries ``fundingRate`` and ``fundingTimestamp`` (the next funding), open interest
when it carries ``openInterest`` and a price to convert inverse contracts with.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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
from services.ingest.normalizer import FrameRejected, JsonObject
from services.ingest.parsing import (
    as_frame_rejected,
    event_ids,
    finite_decimal,
    parse_side,
    plain_decimal,
    trade_amounts,
)
from services.ingest.venue import Channel, RateLimit, RestRequest
from services.ingest.venue_defaults import EVERY_CHANNEL, AdapterDefaults, NormalizerDefaults
from services.instruments.catalog import Instrument, InstrumentCatalog

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_INTERVAL_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # fundingInterval "2000-01-01T08:00" = 8 h
_NO_SEQUENCE = BookSequence(last=0)
_BASE_ALIASES = {"XBT": "BTC"}
_PERPETUAL = "FFWCSX"


def _datetime(value: Any) -> datetime:
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO-8601 time, got {type(value).__name__}")
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"time without a zone: {value!r}")
    return moment


def _ns(value: Any) -> int:
    return (_datetime(value) - _EPOCH) // timedelta(microseconds=1) * 1000


@dataclass
class _Levels:
    bids: list[tuple[Decimal, Decimal]]
    asks: list[tuple[Decimal, Decimal]]
    newest_ns: int | None = None


class BitmexNormalizer(NormalizerDefaults):
    exchange = ExchangeId.BITMEX

    def __init__(self, catalog: InstrumentCatalog) -> None:
        super().__init__(catalog)
        # symbol -> {level id -> price}: update/delete rows may carry no price.
        self._level_prices: dict[str, dict[int, Decimal]] = {}

    def normalize(self, frame: JsonObject, receive_ts: int) -> list[InstrumentEvent]:
        if not isinstance(frame, dict):
            raise FrameRejected("malformed", "frame is not an object")
        if "error" in frame:
            raise FrameRejected("venue_error", str(frame["error"]))
        if "table" not in frame:
            if "info" in frame or "success" in frame or "subscribe" in frame:
                return []  # welcome, subscription acks
            raise FrameRejected("unknown_event", "frame without a table")
        table, action = frame["table"], frame.get("action")
        if action not in ("partial", "insert", "update", "delete"):
            raise FrameRejected("malformed", f"unknown action {action!r}")
        with as_frame_rejected(table):
            rows = frame["data"]
            if not isinstance(rows, list):
                raise TypeError("data is not a list")
            if table == "orderBookL2":
                return self._order_book(frame, action, rows, receive_ts)
            if table == "trade":
                return [self._trade(row, receive_ts) for row in rows] if action == "insert" else []
            if table == "quote":
                return [e for row in rows for e in self._quote(row, receive_ts)]
            if table == "instrument":
                return [e for row in rows for e in self._instrument(row, receive_ts)]
            if table == "liquidation":
                return [self._liquidation(row, receive_ts) for row in rows] if action == "insert" else []
        raise FrameRejected("unknown_event", f"unsupported table {table!r}")

    # --- tables ----------------------------------------------------------------------------

    def _order_book(
        self, frame: JsonObject, action: str, rows: list[Any], receive_ts: int
    ) -> list[InstrumentEvent]:
        by_symbol: dict[str, list[JsonObject]] = {}
        for row in rows:
            by_symbol.setdefault(row["symbol"], []).append(row)
        if action == "partial" and not rows:
            # An empty book still replaces ours: its symbol is only in the filter.
            by_symbol[frame["filter"]["symbol"]] = []
        # Stage every change and commit only when the whole frame parsed: a rejected frame
        # must not leave the id -> price map half updated.
        staged: dict[str, dict[int, Decimal]] = {}
        events: list[InstrumentEvent] = []
        for native_symbol, symbol_rows in by_symbol.items():
            instrument = self._catalog.get(self.exchange, native_symbol)
            prices = {} if action == "partial" else dict(self._level_prices.get(native_symbol, {}))
            if action != "partial" and native_symbol not in self._level_prices:
                raise FrameRejected(
                    "no_snapshot", f"orderBookL2 {action} for {native_symbol} before its partial"
                )
            levels = _Levels(bids=[], asks=[])
            for row in symbol_rows:
                self._apply_level(instrument, action, row, prices, levels)
            staged[native_symbol] = prices
            ids = event_ids(instrument, levels.newest_ns or receive_ts, receive_ts)
            if action == "partial":
                levels.bids.sort(reverse=True)
                levels.asks.sort()
                events.append(BookSnapshot(**ids, sequence=_NO_SEQUENCE, bids=levels.bids, asks=levels.asks))
            else:
                events.append(BookDelta(**ids, sequence=_NO_SEQUENCE, bids=levels.bids, asks=levels.asks))
        self._level_prices.update(staged)
        return events

    def _apply_level(
        self,
        instrument: Instrument,
        action: str,
        row: JsonObject,
        prices: dict[int, Decimal],
        levels: _Levels,
    ) -> None:
        level_id = row["id"]
        if isinstance(level_id, bool) or not isinstance(level_id, int):
            raise TypeError("level id is not an integer")
        if "price" in row and row["price"] is not None:
            price = finite_decimal(row["price"])
        elif level_id in prices:
            price = prices[level_id]
        else:
            raise FrameRejected(
                "unknown_level", f"{instrument.native_symbol} level id {level_id} is not in the book"
            )
        if action == "delete":
            if level_id not in prices:
                raise FrameRejected(
                    "unknown_level", f"{instrument.native_symbol} level id {level_id} is not in the book"
                )
            del prices[level_id]
            contracts = Decimal(0)
        else:
            if action == "update" and level_id not in prices:
                raise FrameRejected(
                    "unknown_level", f"{instrument.native_symbol} level id {level_id} is not in the book"
                )
            prices[level_id] = price
            contracts = finite_decimal(row["size"])
        if row.get("timestamp"):
            ns = _ns(row["timestamp"])
            levels.newest_ns = max(levels.newest_ns or 0, ns)
        level = instrument.base_level(price, contracts)
        side = parse_side(row["side"], buy="Buy", sell="Sell")
        (levels.bids if side is Side.BUY else levels.asks).append(level)

    def _trade(self, row: JsonObject, receive_ts: int) -> Trade:
        instrument = self._catalog.get(self.exchange, row["symbol"])
        price, contracts = finite_decimal(row["price"]), finite_decimal(row["size"])
        return Trade(
            **event_ids(instrument, _ns(row["timestamp"]), receive_ts),
            trade_id=str(row["trdMatchID"]),
            side=parse_side(row["side"], buy="Buy", sell="Sell"),  # the taker's side
            **trade_amounts(instrument, price, contracts),
        )

    def _quote(self, row: JsonObject, receive_ts: int) -> list[InstrumentEvent]:
        instrument = self._catalog.get(self.exchange, row["symbol"])
        if not row.get("bidPrice") or not row.get("askPrice"):
            return []  # an empty side: no top of book to publish
        bid, ask = finite_decimal(row["bidPrice"]), finite_decimal(row["askPrice"])
        return [
            BestBidOffer(
                **event_ids(instrument, _ns(row["timestamp"]), receive_ts),
                bid_price=instrument.base_price(bid),
                bid_quantity=instrument.base_quantity(finite_decimal(row["bidSize"]), bid),
                ask_price=instrument.base_price(ask),
                ask_quantity=instrument.base_quantity(finite_decimal(row["askSize"]), ask),
            )
        ]

    def _instrument(self, row: JsonObject, receive_ts: int) -> list[InstrumentEvent]:
        instrument = self._catalog.get(self.exchange, row["symbol"])
        ids = event_ids(instrument, _ns(row["timestamp"]) if row.get("timestamp") else receive_ts, receive_ts)
        mark = finite_decimal(row["markPrice"]) if row.get("markPrice") else None
        events: list[InstrumentEvent] = []
        if row.get("fundingRate") is not None and row.get("fundingTimestamp"):
            interval = row.get("fundingInterval")
            interval_s = (
                int((_datetime(interval) - _INTERVAL_EPOCH).total_seconds())
                if interval
                else instrument.funding_interval_s
            )
            events.append(
                Funding(
                    **ids,
                    rate=finite_decimal(row["fundingRate"]),
                    interval_s=interval_s,
                    next_funding_ts=_ns(row["fundingTimestamp"]),
                    mark_price=instrument.base_price(mark) if mark is not None else None,
                )
            )
        price = (
            mark if mark is not None else (finite_decimal(row["lastPrice"]) if row.get("lastPrice") else None)
        )
        if row.get("openInterest") is not None and (price is not None or not instrument.inverse):
            contracts = finite_decimal(row["openInterest"])
            events.append(
                OpenInterest(
                    **ids,
                    open_interest=instrument.base_quantity(contracts, price or Decimal(1)),
                    open_interest_notional=instrument.notional(contracts, price)
                    if price is not None
                    else None,
                )
            )
        return events

    def _liquidation(self, row: JsonObject, receive_ts: int) -> Liquidation:
        instrument = self._catalog.get(self.exchange, row["symbol"])
        price, contracts = finite_decimal(row["price"]), finite_decimal(row["leavesQty"])
        return Liquidation(
            # Liquidation rows carry no time: the receive time is the best available.
            **event_ids(instrument, receive_ts, receive_ts),
            side=parse_side(row["side"], buy="Buy", sell="Sell"),  # side of the liquidation order
            **trade_amounts(instrument, price, contracts),
        )


_TABLES: dict[Channel, str] = {
    Channel.TRADES: "trade",
    Channel.BOOK: "orderBookL2",
    Channel.BBO: "quote",
    Channel.FUNDING: "instrument",
    Channel.OPEN_INTEREST: "instrument",
    Channel.LIQUIDATIONS: "liquidation",
}
_ARGS_PER_REQUEST = 50


class BitmexAdapter(AdapterDefaults):
    """Protocol facts of the BitMEX realtime API.

    Subscriptions are ``{"op": "subscribe", "args": ["table:SYMBOL", ...]}``. BitMEX asks clients
    to send the text ``ping`` (answered by ``pong``) when nothing arrived for 5 s; a ping every
    5 s meets that. No per-connection subscription limit is documented; 200 keeps a
    resubscription to a few requests. REST: 30 requests per minute without an API key.
    """

    exchange = ExchangeId.BITMEX
    ws_url = "wss://ws.bitmex.com/realtime"
    rest_url = "https://www.bitmex.com"
    capabilities = EVERY_CHANNEL
    max_subscriptions_per_connection = 200
    ping_interval_s: float | None = 5.0
    rest_rate_limit = RateLimit(capacity=30, per_second=0.5)

    def __init__(self, catalog: InstrumentCatalog) -> None:
        self.normalizer = BitmexNormalizer(catalog)

    def subscribe_frames(self, channels: frozenset[Channel], native_symbols: list[str]) -> list[str]:
        tables = sorted({_TABLES[c] for c in channels & self.capabilities})
        args = [f"{table}:{symbol}" for symbol in native_symbols for table in tables]
        return [
            orjson.dumps({"op": "subscribe", "args": args[i : i + _ARGS_PER_REQUEST]}).decode()
            for i in range(0, len(args), _ARGS_PER_REQUEST)
        ]

    def ping_frame(self) -> str | None:
        return "ping"

    def is_control_frame(self, frame: Any) -> bool:
        if frame in ("pong", b"pong"):
            return True
        # An "error" frame is not a control frame: the normalizer reports it.
        return (
            isinstance(frame, dict)
            and "table" not in frame
            and "error" not in frame
            and ("info" in frame or "success" in frame)
        )

    def instruments_request(self) -> RestRequest:
        return RestRequest("/api/v1/instrument/active")

    def parse_instruments(self, payload: Any) -> list[Instrument]:
        instruments = []
        for entry in payload:
            if entry.get("typ") != _PERPETUAL or entry.get("state") != "Open" or entry.get("isQuanto"):
                continue
            inverse = bool(entry.get("isInverse"))
            if inverse:
                contract_size = Decimal(str(entry["multiplier"])) / Decimal(
                    str(entry["underlyingToSettleMultiplier"])
                )
            else:
                contract_size = 1 / Decimal(str(entry["underlyingToPositionMultiplier"]))
            interval = entry.get("fundingInterval")
            base = entry["underlying"]
            instruments.append(
                Instrument(
                    exchange=self.exchange,
                    native_symbol=entry["symbol"],
                    base=_BASE_ALIASES.get(base, base),
                    quote=entry["quoteCurrency"],
                    tick_size=plain_decimal(Decimal(str(entry["tickSize"]))),
                    lot_size=plain_decimal(Decimal(str(entry["lotSize"]))),
                    contract_size=plain_decimal(contract_size),
                    inverse=inverse,
                    funding_interval_s=int((_datetime(interval) - _INTERVAL_EPOCH).total_seconds())
                    if interval
                    else 8 * 3600,
                )
            )
        return instruments
