"""Bitget USDT-M perpetuals, API v2: public WebSocket channels and the contracts endpoint.

Docs checked:
- https://www.bitget.com/api-doc/common/websocket-intro — ``wss://ws.bitget.com/v2/ws/public``; send
  the text ``ping`` every 30 s and expect ``pong`` (no ping for 2 min closes the socket); at most
  10 messages per second, 240 subscribe requests per hour, 1000 channels per connection with fewer
  than 50 recommended; the socket is closed every 24 h.
- https://www.bitget.com/api-doc/contract/websocket/public/Order-Book-Channel — ``books`` sends a
  full snapshot then updates (``seq``/``pseq`` and a CRC32 ``checksum`` over the top 25 levels);
  ``books1``/``books5``/``books15`` send a snapshot every time.
- https://www.bitget.com/api-doc/contract/websocket/public/Tickers-Channel and
  .../New-Trades-Channel; https://www.bitget.com/api-doc/contract/market/Get-All-Symbols-Contracts.

Frames are ``{"action": "snapshot" | "update", "arg": {"instType", "channel", "instId"},
"data": [...], "ts"}``; data times are milliseconds (as strings). USDT-M sizes are in the base coin,
so quantities need no contract conversion. Channel use:

- ``trade`` -> Trade (``side`` is the taker's side);
- ``books`` -> BookSnapshot then BookDelta, ``BookSequence(last=seq, prev=pseq)``, ``checksum``;
- ``books1`` -> BestBidOffer (the venue's own top of book, with sizes);
- ``ticker`` -> Funding (``fundingRate``, ``nextFundingTime``, ``markPrice``, ``indexPrice``) and
  OpenInterest (``holdingAmount``, base coin).

The public v2 WebSocket has no liquidation channel, so LIQUIDATIONS is not declared.
"""

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import orjson

from schemas.common import ExchangeId, InstrumentEvent
from schemas.market_data import (
    BestBidOffer,
    BookDelta,
    BookSequence,
    BookSnapshot,
    Funding,
    OpenInterest,
    Trade,
)
from services.ingest.normalizer import FrameRejected, JsonObject
from services.ingest.parsing import (
    Level,
    as_frame_rejected,
    event_ids,
    finite_decimal,
    ms_to_ns,
    parse_side,
    split_multiplier_prefix,
    strict_int,
    trade_amounts,
)
from services.ingest.venue import Channel, RateLimit, RestRequest
from services.ingest.venue_defaults import AdapterDefaults, NormalizerDefaults, resubscribe_pair
from services.instruments.catalog import Instrument, InstrumentCatalog

_INST_TYPE = "USDT-FUTURES"


def _text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        raise TypeError(f"not an identifier: {value!r}")
    return str(value)


# The newer (UTA, /v3/ws/public) topics, and the v2 channel each one reads as.
_UTA_TOPICS = {
    "publicTrade": "trade",
    "books": "books",
    "books1": "books1",
    "books5": "books5",
    "books50": "books50",
}
# Sizes are in the base coin on these; coin-futures count in the quote coin (uta/websocket/public/New-Trades-Channel).
_UTA_BASE_UNIT_TYPES = ("usdt-futures", "usdc-futures")


def _from_uta(frame: JsonObject, arg: JsonObject) -> JsonObject:
    """A frame of Bitget's newer public WebSocket (UTA, ``wss://ws.bitget.com/v3/ws/public``) in
    the v2 shape the handlers read: ``arg {instType, topic, symbol}`` becomes ``{instType,
    channel, instId}``, trade rows ``{i, p, v, S, T}`` become ``{tradeId, price, size, side, ts}``
    and book rows ``{a, b, seq, pseq, checksum, ts}`` become ``{asks, bids, ...}``
    (bitget.com/api-doc/uta/websocket/public/New-Trades-Channel and .../Order-Book-Channel).
    """
    topic, inst_type = arg.get("topic"), arg.get("instType")
    channel = _UTA_TOPICS.get(topic) if isinstance(topic, str) else None
    if channel is None:
        raise FrameRejected("unknown_event", f"unsupported UTA topic {topic!r}")
    if not isinstance(inst_type, str) or inst_type.lower() not in _UTA_BASE_UNIT_TYPES:
        raise FrameRejected(
            "unknown_event", f"unsupported UTA instType {inst_type!r} (USDT/USDC futures only)"
        )
    rows = frame["data"]
    if not isinstance(rows, list):
        raise TypeError("data is not a list")
    if channel == "trade":
        rows = [
            {"tradeId": r["i"], "price": r["p"], "size": r["v"], "side": r["S"], "ts": r["T"]} for r in rows
        ]
    else:
        rows = [{**r, "asks": r["a"], "bids": r["b"]} for r in rows]
    v2_arg = {"instType": inst_type, "channel": channel, "instId": arg["symbol"]}
    return {**frame, "arg": v2_arg, "data": rows}


class BitgetNormalizer(NormalizerDefaults):
    exchange = ExchangeId.BITGET

    def __init__(self, catalog: InstrumentCatalog) -> None:
        super().__init__(catalog)
        self._handlers: dict[
            str, Callable[[Instrument, JsonObject, list[Any], int], list[InstrumentEvent]]
        ] = {
            "trade": self._trades,
            "books": self._books,
            "books5": self._books,
            "books15": self._books,
            "books50": self._books,  # UTA's 50-level channel; like books5/15, whole every push
            "books1": self._best_bid_offer,
            "ticker": self._ticker,
        }

    def normalize(self, frame: Any, receive_ts: int) -> list[InstrumentEvent]:
        if frame == "pong":
            return []
        if not isinstance(frame, dict):
            raise FrameRejected("malformed", "frame is not an object")
        event = frame.get("event")
        if event == "error":
            raise FrameRejected("venue_error", f"{frame.get('code')}: {frame.get('msg')}")
        if event is not None:
            return []  # subscribe / unsubscribe acknowledgement
        arg = frame.get("arg")
        if not isinstance(arg, dict):
            raise FrameRejected("malformed", "frame has no arg object")
        if "topic" in arg and "channel" not in arg:
            with as_frame_rejected(arg.get("topic")):
                frame = _from_uta(frame, arg)
            arg = frame["arg"]
        channel = arg.get("channel")
        handler = self._handlers.get(channel) if isinstance(channel, str) else None
        if handler is None:
            raise FrameRejected("unknown_event", f"unsupported channel {channel!r}")
        with as_frame_rejected(channel):
            instrument = self._catalog.get(self.exchange, arg["instId"])
            rows = frame["data"]
            if not isinstance(rows, list):
                raise TypeError("data is not a list")
            return handler(instrument, frame, rows, receive_ts)

    # --- channels --------------------------------------------------------------------------

    def _ids(self, instrument: Instrument, ms: Any, receive_ts: int) -> dict[str, Any]:
        return event_ids(instrument, ms_to_ns(ms), receive_ts)

    def _levels(self, instrument: Instrument, levels: Any) -> list[Level]:
        if not isinstance(levels, list):
            raise TypeError("levels are not a list")
        parsed = [(finite_decimal(level[0]), finite_decimal(level[1])) for level in levels]
        if instrument.contract_size == 1 and instrument.multiplier == 1 and not instrument.inverse:
            # Keep the venue's spelling: the checksum is computed over these very strings.
            return parsed
        return [instrument.base_level(p, q) for p, q in parsed]

    def _trades(
        self, instrument: Instrument, frame: JsonObject, rows: list[Any], receive_ts: int
    ) -> list[InstrumentEvent]:
        trades: list[InstrumentEvent] = []
        for row in rows:
            price, size = finite_decimal(row["price"]), finite_decimal(row["size"])
            trades.append(
                Trade(
                    **self._ids(instrument, row["ts"], receive_ts),
                    trade_id=_text(row["tradeId"]),
                    side=parse_side(row["side"]),
                    **trade_amounts(instrument, price, size),
                )
            )
        return trades

    def _books(
        self, instrument: Instrument, frame: JsonObject, rows: list[Any], receive_ts: int
    ) -> list[InstrumentEvent]:
        action = frame.get("action")
        channel = frame["arg"]["channel"]
        # books1/5/15 are pushed whole every time: each one replaces the book.
        snapshot = action == "snapshot" or channel != "books"
        if not snapshot and action != "update":
            raise FrameRejected("malformed", f"unknown book action {action!r}")
        events: list[InstrumentEvent] = []
        for row in rows:
            pseq = row.get("pseq")
            fields: dict[str, Any] = {
                **self._ids(instrument, row["ts"], receive_ts),
                "sequence": BookSequence(
                    last=strict_int(row["seq"]), prev=strict_int(pseq) if pseq else None
                ),
                "bids": self._levels(instrument, row["bids"]),
                "asks": self._levels(instrument, row["asks"]),
                "checksum": strict_int(row["checksum"]) if row.get("checksum") is not None else None,
            }
            events.append(BookSnapshot(**fields) if snapshot else BookDelta(**fields))
        return events

    def _best_bid_offer(
        self, instrument: Instrument, frame: JsonObject, rows: list[Any], receive_ts: int
    ) -> list[InstrumentEvent]:
        events: list[InstrumentEvent] = []
        for row in rows:
            bids, asks = self._levels(instrument, row["bids"]), self._levels(instrument, row["asks"])
            if not bids or not asks:
                continue  # one side empty: there is no top of book to report
            events.append(
                BestBidOffer(
                    **self._ids(instrument, row["ts"], receive_ts),
                    bid_price=bids[0][0],
                    bid_quantity=bids[0][1],
                    ask_price=asks[0][0],
                    ask_quantity=asks[0][1],
                    sequence=strict_int(row["seq"]) if row.get("seq") is not None else None,
                )
            )
        return events

    def _ticker(
        self, instrument: Instrument, frame: JsonObject, rows: list[Any], receive_ts: int
    ) -> list[InstrumentEvent]:
        events: list[InstrumentEvent] = []
        for row in rows:
            ids = self._ids(instrument, row["ts"], receive_ts)
            mark = finite_decimal(row["markPrice"]) if row.get("markPrice") else None
            index = finite_decimal(row["indexPrice"]) if row.get("indexPrice") else None
            events.append(
                Funding(
                    **ids,
                    rate=finite_decimal(row["fundingRate"]),
                    interval_s=instrument.funding_interval_s,
                    next_funding_ts=ms_to_ns(row["nextFundingTime"]),
                    mark_price=instrument.base_price(mark) if mark is not None else None,
                    index_price=instrument.base_price(index) if index is not None else None,
                )
            )
            holding = finite_decimal(row["holdingAmount"])
            price = mark if mark is not None else finite_decimal(row["lastPr"])
            events.append(
                OpenInterest(
                    **ids,
                    open_interest=instrument.base_quantity(holding, price),
                    open_interest_notional=instrument.notional(holding, price),
                )
            )
        return events


_CHANNELS: dict[Channel, str] = {
    Channel.TRADES: "trade",
    Channel.BOOK: "books",
    Channel.BBO: "books1",
    Channel.FUNDING: "ticker",
    Channel.OPEN_INTEREST: "ticker",
}
_ARGS_PER_FRAME = 50


class BitgetAdapter(AdapterDefaults):
    """Protocol facts of Bitget v2 USDT-M (see the module docstring for the doc pages)."""

    exchange = ExchangeId.BITGET
    ws_url = "wss://ws.bitget.com/v2/ws/public"
    rest_url = "https://api.bitget.com"
    capabilities = frozenset(
        {Channel.TRADES, Channel.BOOK, Channel.BBO, Channel.FUNDING, Channel.OPEN_INTEREST}
    )
    # Channels per connection: 1000 allowed, "fewer than 50" recommended for stability.
    max_subscriptions_per_connection = 50
    ping_interval_s: float | None = 30.0
    # Market endpoints: 20 requests per second per IP.
    rest_rate_limit = RateLimit(capacity=20, per_second=20)

    def __init__(self, catalog: InstrumentCatalog) -> None:
        self.normalizer = BitgetNormalizer(catalog)

    def subscribe_frames(self, channels: frozenset[Channel], native_symbols: list[str]) -> list[str]:
        names = sorted({_CHANNELS[c] for c in channels & self.capabilities})
        args = [
            {"instType": _INST_TYPE, "channel": name, "instId": symbol}
            for symbol in native_symbols
            for name in names
        ]
        # At most 10 messages per second: many args per subscribe message.
        return [
            orjson.dumps({"op": "subscribe", "args": args[i : i + _ARGS_PER_FRAME]}).decode()
            for i in range(0, len(args), _ARGS_PER_FRAME)
        ]

    def ping_frame(self) -> str | None:
        return "ping"

    def book_resubscribe_frames(self, native_symbol: str) -> list[str]:
        """Unsubscribe then subscribe ``books`` for one symbol: Bitget opens it with a snapshot."""
        request = {
            "args": [{"instType": _INST_TYPE, "channel": _CHANNELS[Channel.BOOK], "instId": native_symbol}]
        }
        return resubscribe_pair(request, "op", ("unsubscribe", "subscribe"))

    def is_control_frame(self, frame: Any) -> bool:
        if frame == "pong":
            return True
        return isinstance(frame, dict) and frame.get("event") in ("subscribe", "unsubscribe", "login")

    def instruments_request(self) -> RestRequest:
        return RestRequest("/api/v2/mix/market/contracts", {"productType": _INST_TYPE})

    def parse_instruments(self, payload: JsonObject) -> list[Instrument]:
        """v2 ``/api/v2/mix/market/contracts``; also reads the v1 ``umcbl`` list (``BTCUSDT_UMCBL``)."""
        instruments = []
        for entry in payload["data"]:
            if entry.get("symbolType", "perpetual") != "perpetual":
                continue
            if entry.get("symbolStatus", "normal") != "normal":
                continue
            base, multiplier = split_multiplier_prefix(entry["baseCoin"])
            if "sizeMultiplier" in entry:
                lot = Decimal(str(entry["sizeMultiplier"]))
            else:
                lot = Decimal(1).scaleb(-int(entry["volumePlace"]))
            instruments.append(
                Instrument(
                    exchange=self.exchange,
                    # v1 ids carry a product suffix (BTCUSDT_UMCBL); WebSocket instIds never do.
                    native_symbol=str(entry["symbol"]).split("_")[0],
                    base=base,
                    quote=entry["quoteCoin"],
                    tick_size=Decimal(str(entry["priceEndStep"])).scaleb(-int(entry["pricePlace"])),
                    lot_size=lot.normalize(),
                    contract_size=Decimal(1),
                    inverse=False,
                    multiplier=multiplier,
                    funding_interval_s=int(entry.get("fundInterval") or 8) * 3600,
                )
            )
        return instruments
