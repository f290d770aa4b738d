"""Gate.io USDT-settled perpetual futures: WebSocket v4 channels and the REST book snapshot.

Docs (checked 2026): https://www.gate.io/docs/developers/futures/ws/en/ (futures.trades,
futures.book_ticker, futures.order_book_update, futures.tickers, futures.public_liquidates,
futures.ping), https://www.gate.io/docs/developers/apiv4/en/#futures-order-book and
https://www.gate.io/docs/developers/apiv4/en/#list-all-futures-contracts.

Frames are ``{"time", "time_ms", "channel", "event", "result"}``. Sizes are CONTRACTS of
``quanto_multiplier`` base coin (BTC_USDT: 0.0001 BTC) and signed like orders: positive = buy,
negative = sell (for trades the taker's side, for public liquidations the liquidation order's).
Sizes may be integers or, with the ``X-Gate-Size-Decimal`` header, decimal strings.

Book sequence: ``first`` = ``U``, ``last`` = ``u``. The book bootstraps from GET
/futures/usdt/order_book?with_id=true whose ``id`` is the snapshot's update id: drop updates
with ``u <= id``, the first applied one has ``U <= id + 1 <= u``, then each ``U`` is the
previous ``u + 1``.
"""

import time
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
    NS_PER_S,
    as_frame_rejected,
    base_levels,
    event_ids,
    finite_decimal,
    ms_to_ns,
    plain_decimal,
    split_multiplier_prefix,
    strict_int,
    trade_amounts,
)
from services.ingest.venue import Channel, RateLimit, RestRequest
from services.ingest.venue_defaults import EVERY_CHANNEL, AdapterDefaults, NormalizerDefaults
from services.instruments.catalog import Instrument, InstrumentCatalog


class GateioNormalizer(NormalizerDefaults):
    exchange = ExchangeId.GATEIO

    def normalize(self, frame: JsonObject, receive_ts: int) -> list[InstrumentEvent]:
        if not isinstance(frame, dict):
            raise FrameRejected("malformed", "frame is not an object")
        if frame.get("error"):
            raise FrameRejected("venue_error", f"{frame.get('channel')}: {frame['error']}")
        channel, event = frame.get("channel"), frame.get("event")
        if channel == "futures.pong" or event in ("subscribe", "unsubscribe"):
            return []
        if event not in ("update", "all"):
            raise FrameRejected("unknown_event", f"unsupported event {event!r} on {channel!r}")
        with as_frame_rejected(channel):
            result = frame["result"]
            if channel == "futures.trades":
                return [self._trade(row, receive_ts) for row in result]
            if channel == "futures.order_book_update":
                return [self._book_update(result, receive_ts)]
            if channel == "futures.book_ticker":
                return self._book_ticker(result, receive_ts)
            if channel == "futures.tickers":
                return [e for row in result for e in self._ticker(row, frame, receive_ts)]
            if channel == "futures.public_liquidates":
                return [self._liquidation(row, receive_ts) for row in result]
        raise FrameRejected("unknown_event", f"unsupported channel {channel!r}")

    def normalize_rest_snapshot(
        self, payload: JsonObject, native_symbol: str, receive_ts: int
    ) -> list[InstrumentEvent]:
        """GET /futures/usdt/order_book?with_id=true: ``{"id", "current", "update", "asks", "bids"}``."""
        with as_frame_rejected("order book snapshot"):
            instrument = self._catalog.get(self.exchange, native_symbol)
            # "update" is the book's last change time in (fractional) seconds.
            seconds = finite_decimal(payload.get("update") or payload["current"])
            return [
                BookSnapshot(
                    **event_ids(instrument, int(seconds * NS_PER_S), receive_ts),
                    sequence=BookSequence(last=strict_int(payload["id"])),
                    bids=self._levels(instrument, payload["bids"]),
                    asks=self._levels(instrument, payload["asks"]),
                )
            ]

    # --- channels --------------------------------------------------------------------------

    def _levels(self, instrument: Instrument, levels: Any) -> list[tuple[Decimal, Decimal]]:
        return base_levels(instrument, levels, price="p", size="s")  # {"p", "s": contracts}

    def _trade(self, row: JsonObject, receive_ts: int) -> Trade:
        instrument = self._catalog.get(self.exchange, row["contract"])
        price, signed = finite_decimal(row["price"]), finite_decimal(row["size"])
        if signed == 0:
            raise FrameRejected("out_of_range", "trade of size 0")
        contracts = abs(signed)
        # create_time_ms came later; older pushes carry only create_time, in whole seconds
        # (gate.io/docs/developers/futures/ws/en, "Trades notification": both fields documented).
        ts = (
            ms_to_ns(row["create_time_ms"])
            if "create_time_ms" in row
            else strict_int(row["create_time"]) * NS_PER_S
        )
        return Trade(
            **event_ids(instrument, ts, receive_ts),
            trade_id=str(row["id"]),
            side=Side.BUY if signed > 0 else Side.SELL,
            **trade_amounts(instrument, price, contracts),
        )

    def _book_update(self, result: JsonObject, receive_ts: int) -> BookDelta:
        instrument = self._catalog.get(self.exchange, result["s"])
        return BookDelta(
            **event_ids(instrument, ms_to_ns(result["t"]), receive_ts),
            sequence=BookSequence(first=strict_int(result["U"]), last=strict_int(result["u"])),
            bids=self._levels(instrument, result["b"]),
            asks=self._levels(instrument, result["a"]),
        )

    def _book_ticker(self, result: JsonObject, receive_ts: int) -> list[InstrumentEvent]:
        instrument = self._catalog.get(self.exchange, result["s"])
        if not result.get("b") or not result.get("a"):
            return []  # an empty side is sent as "": no top of book to publish
        (bid_price, bid_qty), (ask_price, ask_qty) = self._levels(
            instrument, [{"p": result["b"], "s": result["B"]}, {"p": result["a"], "s": result["A"]}]
        )
        return [
            BestBidOffer(
                **event_ids(instrument, ms_to_ns(result["t"]), receive_ts),
                bid_price=bid_price,
                bid_quantity=bid_qty,
                ask_price=ask_price,
                ask_quantity=ask_qty,
                sequence=strict_int(result["u"]),
            )
        ]

    def _ticker(self, row: JsonObject, frame: JsonObject, receive_ts: int) -> list[InstrumentEvent]:
        instrument = self._catalog.get(self.exchange, row["contract"])
        ids = event_ids(instrument, ms_to_ns(row.get("t") or frame["time_ms"]), receive_ts)
        mark = finite_decimal(row["mark_price"]) if row.get("mark_price") else None
        events: list[InstrumentEvent] = []
        if row.get("funding_rate") not in (None, "") and row.get("funding_next_apply"):
            events.append(
                Funding(
                    **ids,
                    rate=finite_decimal(row["funding_rate"]),
                    interval_s=strict_int(row.get("funding_interval") or instrument.funding_interval_s),
                    next_funding_ts=strict_int(row["funding_next_apply"]) * NS_PER_S,
                    mark_price=mark,
                    index_price=finite_decimal(row["index_price"]) if row.get("index_price") else None,
                )
            )
        if row.get("total_size") not in (None, ""):
            # total_size is the open interest in contracts.
            base = instrument.base_quantity(finite_decimal(row["total_size"]), Decimal(1))
            events.append(
                OpenInterest(
                    **ids,
                    open_interest=base,
                    open_interest_notional=base * mark if mark is not None else None,
                )
            )
        return events

    def _liquidation(self, row: JsonObject, receive_ts: int) -> Liquidation:
        instrument = self._catalog.get(self.exchange, row["contract"])
        price, signed = finite_decimal(row["price"]), finite_decimal(row["size"])
        if signed == 0:
            raise FrameRejected("out_of_range", "liquidation of size 0")
        contracts = abs(signed)
        # "time" is in ms since 2026-08; older pushes carried time_ms (and time in seconds).
        ms = row["time_ms"] if "time_ms" in row else row["time"]
        return Liquidation(
            **event_ids(instrument, ms_to_ns(ms), receive_ts),
            side=Side.BUY if signed > 0 else Side.SELL,
            **trade_amounts(instrument, price, contracts),
        )


_CHANNELS: dict[Channel, str] = {
    Channel.TRADES: "futures.trades",
    Channel.BBO: "futures.book_ticker",
    Channel.FUNDING: "futures.tickers",
    Channel.OPEN_INTEREST: "futures.tickers",
    Channel.LIQUIDATIONS: "futures.public_liquidates",
}
_BOOK_CHANNEL = "futures.order_book_update"
_BOOK_INTERVAL, _BOOK_LEVELS = "100ms", "100"
_SNAPSHOT_LIMIT = "100"  # the REST snapshot must cover the 100 levels the update channel tracks


class GateioAdapter(AdapterDefaults):
    """Protocol facts of Gate.io USDT futures WebSocket v4.

    The client keeps the connection alive with ``{"channel": "futures.ping"}`` (answered by
    ``futures.pong``); every request carries a ``time`` in seconds. ``futures.order_book_update``
    takes one contract per request (``[contract, interval, levels]``), other channels a list.
    No per-connection subscription limit is documented; 200 keeps resubscription short.
    REST: public futures endpoints allow 200 requests per 10 s per endpoint and IP.
    """

    exchange = ExchangeId.GATEIO
    ws_url = "wss://fx-ws.gateio.ws/v4/ws/usdt"
    rest_url = "https://api.gateio.ws"
    capabilities = EVERY_CHANNEL
    max_subscriptions_per_connection = 200
    ping_interval_s: float | None = 15.0
    rest_rate_limit = RateLimit(capacity=200, per_second=20)

    def __init__(self, catalog: InstrumentCatalog) -> None:
        self.normalizer = GateioNormalizer(catalog)

    def subscribe_frames(self, channels: frozenset[Channel], native_symbols: list[str]) -> list[str]:
        now = int(time.time())
        wanted = channels & self.capabilities
        frames = [
            {"time": now, "channel": name, "event": "subscribe", "payload": list(native_symbols)}
            for name in sorted({_CHANNELS[c] for c in wanted if c in _CHANNELS})
        ]
        if Channel.BOOK in wanted:
            frames += [
                {
                    "time": now,
                    "channel": _BOOK_CHANNEL,
                    "event": "subscribe",
                    "payload": [symbol, _BOOK_INTERVAL, _BOOK_LEVELS],
                }
                for symbol in native_symbols
            ]
        return [orjson.dumps(frame).decode() for frame in frames]

    def ping_frame(self) -> str | None:
        return orjson.dumps({"time": int(time.time()), "channel": "futures.ping"}).decode()

    def is_control_frame(self, frame: Any) -> bool:
        # A frame with an "error" is not a control frame: the normalizer reports it.
        return (
            isinstance(frame, dict)
            and not frame.get("error")
            and (frame.get("channel") == "futures.pong" or frame.get("event") in ("subscribe", "unsubscribe"))
        )

    def book_snapshot_request(self, native_symbol: str) -> RestRequest | None:
        return RestRequest(
            "/api/v4/futures/usdt/order_book",
            {"contract": native_symbol, "limit": _SNAPSHOT_LIMIT, "with_id": "true"},
        )

    def instruments_request(self) -> RestRequest:
        return RestRequest("/api/v4/futures/usdt/contracts")

    def parse_instruments(self, payload: Any) -> list[Instrument]:
        instruments = []
        for entry in payload:
            if entry.get("in_delisting") or entry.get("type") not in ("direct", "inverse"):
                continue
            prefixed_base, quote = entry["name"].split("_", 1)
            base, multiplier = split_multiplier_prefix(prefixed_base)
            instruments.append(
                Instrument(
                    exchange=self.exchange,
                    native_symbol=entry["name"],
                    base=base,
                    quote=quote,
                    tick_size=plain_decimal(Decimal(str(entry["order_price_round"]))),
                    lot_size=plain_decimal(Decimal(str(entry["order_size_min"]))),
                    contract_size=plain_decimal(Decimal(str(entry["quanto_multiplier"]))),
                    inverse=entry["type"] == "inverse",
                    multiplier=multiplier,
                    funding_interval_s=int(entry.get("funding_interval") or 8 * 3600),
                )
            )
        return instruments
