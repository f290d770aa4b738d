"""Deribit perpetuals (inverse BTC/ETH-PERPETUAL, linear *_USDC-PERPETUAL): JSON-RPC WebSocket v2.

Docs (checked 2026): https://docs.deribit.com/ (subscriptions: trades.{instrument}.{interval},
book.{instrument}.{interval}, quote.{instrument}, ticker.{instrument}.{interval};
public/set_heartbeat and public/test; public/get_instruments; rate limits),
https://support.deribit.com/hc/en-us/articles/31424939178397-Funding-Specifications.

Notifications are ``{"method": "subscription", "params": {"channel", "data"}}``; times are ms.
Quantities are Deribit's ``amount``: USD for inverse perpetuals (BTC-PERPETUAL trades in
10 USD contracts), base coin for linear ones. The instrument snapshot therefore records a
contract size of 1 unit of ``amount`` and base = amount / price for inverse instruments.
Unauthenticated connections may not use ``raw`` channels, so this module subscribes ``100ms``.

Book sequence: ``last`` = ``change_id``, ``prev`` = ``prev_change_id`` (absent on a snapshot);
a change applies when its ``prev_change_id`` equals the book's ``change_id``.

Funding: Deribit funds continuously (every millisecond) and quotes the rate as an 8-hour rate
(``funding_8h``). There is no discrete settlement time, so ``next_funding_ts`` is the ticker's
own timestamp: the next accrual is now.

Liquidations: Deribit has no public liquidation channel; a trade caused by a liquidation carries
``liquidation`` = "M" (maker side liquidated), "T" (taker side) or "MT" (both). Each liquidated
side becomes a ``Liquidation`` whose side is that party's order side.
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
from services.ingest.normalizer import FrameRejected, JsonObject
from services.ingest.parsing import (
    NS_PER_MS,
    as_frame_rejected,
    event_ids,
    finite_decimal,
    parse_side,
    plain_decimal,
    strict_int,
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

_FUNDING_WINDOW_S = 8 * 3600
_HEARTBEAT_S = 30


def _json_int(value: Any) -> int:
    """Deribit sends ids and times as JSON integers: a digit string there means a broken frame."""
    return strict_int(value, allow_str=False)


class DeribitNormalizer(NormalizerDefaults):
    exchange = ExchangeId.DERIBIT

    def normalize(self, frame: JsonObject, receive_ts: int) -> list[InstrumentEvent]:
        if not isinstance(frame, dict):
            raise FrameRejected("malformed", "frame is not an object")
        if "error" in frame:
            error = frame["error"]
            detail = f"{error.get('code')}: {error.get('message')}" if isinstance(error, dict) else error
            raise FrameRejected("venue_error", str(detail))
        if "result" in frame or frame.get("method") == "heartbeat":
            return []  # RPC replies (subscribe, set_heartbeat, test) and heartbeats
        params = frame.get("params")
        if frame.get("method") != "subscription" or not isinstance(params, dict):
            raise FrameRejected("unknown_event", f"unsupported method {frame.get('method')!r}")
        channel = params.get("channel")
        if not isinstance(channel, str):
            raise FrameRejected("malformed", "subscription without a channel")
        kind = channel.partition(".")[0]
        with as_frame_rejected(kind):
            data = params["data"]
            if kind == "trades":
                return [e for row in data for e in self._trade(row, receive_ts)]
            if kind == "book":
                return [self._book(data, receive_ts)]
            if kind == "quote":
                return self._quote(data, receive_ts)
            if kind == "ticker":
                return self._ticker(data, receive_ts)
        raise FrameRejected("unknown_event", f"unsupported channel {channel!r}")

    # --- channels --------------------------------------------------------------------------

    def _ids(self, instrument: Instrument, ms: Any, receive_ts: int) -> dict[str, Any]:
        return event_ids(instrument, _json_int(ms) * NS_PER_MS, receive_ts)

    def _trade(self, row: JsonObject, receive_ts: int) -> list[InstrumentEvent]:
        instrument = self._catalog.get(self.exchange, row["instrument_name"])
        price, amount = finite_decimal(row["price"]), finite_decimal(row["amount"])
        ids = self._ids(instrument, row["timestamp"], receive_ts)
        taker = parse_side(row["direction"])
        fields = trade_amounts(instrument, price, amount)
        events: list[InstrumentEvent] = [Trade(**ids, trade_id=str(row["trade_id"]), side=taker, **fields)]
        liquidated = row.get("liquidation") or ""
        if not isinstance(liquidated, str) or set(liquidated) - {"M", "T"}:
            raise FrameRejected("malformed", f"unknown liquidation flag {liquidated!r}")
        if "T" in liquidated:
            events.append(Liquidation(**ids, side=taker, **fields))
        if "M" in liquidated:
            maker = Side.SELL if taker is Side.BUY else Side.BUY
            events.append(Liquidation(**ids, side=maker, **fields))
        return events

    def _levels(self, instrument: Instrument, levels: Any) -> list[tuple[Decimal, Decimal]]:
        out = []
        for action, price_value, amount_value in levels:
            if action not in ("new", "change", "delete"):
                raise ValueError(f"unknown book action {action!r}")
            price = finite_decimal(price_value)
            amount = Decimal(0) if action == "delete" else finite_decimal(amount_value)
            out.append(instrument.base_level(price, amount))
        return out

    def _book(self, data: JsonObject, receive_ts: int) -> BookSnapshot | BookDelta:
        instrument = self._catalog.get(self.exchange, data["instrument_name"])
        ids = self._ids(instrument, data["timestamp"], receive_ts)
        bids, asks = self._levels(instrument, data["bids"]), self._levels(instrument, data["asks"])
        kind = data.get("type")
        if kind == "snapshot":
            return BookSnapshot(
                **ids, sequence=BookSequence(last=_json_int(data["change_id"])), bids=bids, asks=asks
            )
        if kind == "change":
            sequence = BookSequence(last=_json_int(data["change_id"]), prev=_json_int(data["prev_change_id"]))
            return BookDelta(**ids, sequence=sequence, bids=bids, asks=asks)
        raise FrameRejected("malformed", f"book notification of type {kind!r}")

    def _quote(self, data: JsonObject, receive_ts: int) -> list[InstrumentEvent]:
        instrument = self._catalog.get(self.exchange, data["instrument_name"])
        if not data.get("best_bid_price") or not data.get("best_ask_price"):
            return []  # an empty side is sent as price 0 / null: no top of book to publish
        bid, ask = finite_decimal(data["best_bid_price"]), finite_decimal(data["best_ask_price"])
        return [
            BestBidOffer(
                **self._ids(instrument, data["timestamp"], receive_ts),
                bid_price=instrument.base_price(bid),
                bid_quantity=instrument.base_quantity(finite_decimal(data["best_bid_amount"]), bid),
                ask_price=instrument.base_price(ask),
                ask_quantity=instrument.base_quantity(finite_decimal(data["best_ask_amount"]), ask),
            )
        ]

    def _ticker(self, data: JsonObject, receive_ts: int) -> list[InstrumentEvent]:
        instrument = self._catalog.get(self.exchange, data["instrument_name"])
        ids = self._ids(instrument, data["timestamp"], receive_ts)
        mark = finite_decimal(data["mark_price"])
        index = data.get("index_price")
        events: list[InstrumentEvent] = []
        if data.get("funding_8h") is not None:
            events.append(
                Funding(
                    **ids,
                    rate=finite_decimal(data["funding_8h"]),
                    interval_s=_FUNDING_WINDOW_S,
                    next_funding_ts=ids["exchange_ts"],  # continuous funding: see the module doc
                    mark_price=instrument.base_price(mark),
                    index_price=instrument.base_price(finite_decimal(index)) if index else None,
                )
            )
        if data.get("open_interest") is not None:
            amount = finite_decimal(data["open_interest"])  # USD (inverse) or base coin (linear)
            events.append(
                OpenInterest(
                    **ids,
                    open_interest=instrument.base_quantity(amount, mark),
                    open_interest_notional=instrument.notional(amount, mark),
                )
            )
        return events


_CHANNELS: dict[Channel, str] = {
    Channel.TRADES: "trades.{}.100ms",
    Channel.LIQUIDATIONS: "trades.{}.100ms",  # liquidations are flagged trades
    Channel.BOOK: "book.{}.100ms",
    Channel.BBO: "quote.{}",
    Channel.FUNDING: "ticker.{}.100ms",
    Channel.OPEN_INTEREST: "ticker.{}.100ms",
}
_CHANNELS_PER_REQUEST = 100


class DeribitAdapter(AdapterDefaults):
    """Protocol facts of Deribit's JSON-RPC WebSocket.

    After connecting the client calls ``public/set_heartbeat`` (interval >= 10 s, 30 here); the
    server then sends ``heartbeat`` notifications, and those of type ``test_request`` must be
    answered with ``public/test`` or the connection is closed. The connector's periodic ping is
    that ``public/test`` call, every 10 s, well inside the 30 s interval. No per-connection
    channel limit is documented; 200 keeps a resubscription to two requests. REST: non-matching
    engine requests are credit based, about 20 per second sustained with bursts of 100.
    """

    exchange = ExchangeId.DERIBIT
    ws_url = "wss://www.deribit.com/ws/api/v2"
    rest_url = "https://www.deribit.com"
    capabilities = EVERY_CHANNEL
    max_subscriptions_per_connection = 200
    ping_interval_s: float | None = 10.0
    rest_rate_limit = RateLimit(capacity=100, per_second=20)

    def __init__(self, catalog: InstrumentCatalog) -> None:
        self.normalizer = DeribitNormalizer(catalog)

    def subscribe_frames(self, channels: frozenset[Channel], native_symbols: list[str]) -> list[str]:
        templates = sorted({_CHANNELS[c] for c in channels & self.capabilities})
        names = [template.format(symbol) for symbol in native_symbols for template in templates]
        frames = [
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "public/set_heartbeat",
                "params": {"interval": _HEARTBEAT_S},
            }
        ]
        frames += [
            {
                "jsonrpc": "2.0",
                "id": 2 + i // _CHANNELS_PER_REQUEST,
                "method": "public/subscribe",
                "params": {"channels": names[i : i + _CHANNELS_PER_REQUEST]},
            }
            for i in range(0, len(names), _CHANNELS_PER_REQUEST)
        ]
        return [orjson.dumps(frame).decode() for frame in frames]

    def ping_frame(self) -> str | None:
        return '{"jsonrpc":"2.0","id":0,"method":"public/test","params":{}}'

    def book_resubscribe_frames(self, native_symbol: str) -> list[str]:
        """``public/unsubscribe`` then ``public/subscribe`` of the book channel: its first
        notification after a subscribe is a full snapshot."""
        request = {
            "jsonrpc": "2.0",
            "id": 9,
            "params": {"channels": [_CHANNELS[Channel.BOOK].format(native_symbol)]},
        }
        return resubscribe_pair(request, "method", ("public/unsubscribe", "public/subscribe"))

    def is_control_frame(self, frame: Any) -> bool:
        # An RPC "error" is not a control frame: the normalizer reports it.
        return (
            isinstance(frame, dict)
            and "error" not in frame
            and ("result" in frame or frame.get("method") == "heartbeat")
        )

    def instruments_request(self) -> RestRequest:
        return RestRequest("/api/v2/public/get_instruments", {"currency": "any", "kind": "future"})

    def parse_instruments(self, payload: JsonObject) -> list[Instrument]:
        instruments = []
        for entry in payload["result"]:
            if entry.get("settlement_period") != "perpetual" or not entry.get("is_active", True):
                continue
            kind = entry.get("instrument_type") or entry.get("future_type")
            # Older responses lack the type: USD-quoted Deribit perpetuals are all inverse.
            inverse = kind == "reversed" if kind else entry["quote_currency"] == "USD"
            instruments.append(
                Instrument(
                    exchange=self.exchange,
                    native_symbol=entry["instrument_name"],
                    base=entry["base_currency"],
                    quote=entry["quote_currency"],
                    tick_size=plain_decimal(Decimal(str(entry["tick_size"]))),
                    lot_size=plain_decimal(Decimal(str(entry["min_trade_amount"]))),
                    # Quantities are "amount" (USD or coin), not contracts: one unit each.
                    contract_size=Decimal(1),
                    inverse=inverse,
                    funding_interval_s=_FUNDING_WINDOW_S,
                )
            )
        return instruments
