"""OKX perpetual swaps (linear USDT/USDC and inverse USD): public WebSocket v5 and instruments.

Docs (checked 2026): https://www.okx.com/docs-v5/en/#overview-websocket-connect,
https://www.okx.com/docs-v5/en/#order-book-trading-market-data-ws-order-book-channel,
https://www.okx.com/docs-v5/en/#order-book-trading-market-data-ws-trades-channel,
https://www.okx.com/docs-v5/en/#public-data-websocket-funding-rate-channel,
https://www.okx.com/docs-v5/en/#public-data-websocket-open-interest-channel,
https://www.okx.com/docs-v5/en/#public-data-websocket-liquidation-orders-channel,
https://www.okx.com/docs-v5/en/#public-data-rest-api-get-instruments.

Frames are ``{"arg": {"channel", "instId"}, "data": [...]}``; every time is a millisecond
string. Swap sizes are CONTRACTS: a linear contract is ``ctVal`` base coin (BTC-USDT-SWAP:
0.01 BTC), an inverse one is ``ctVal`` USD (BTC-USD-SWAP: 100 USD), so base = sz * ctVal / px.

Book sequence (``books``): ``last`` = ``seqId``, ``prev`` = ``prevSeqId`` (a snapshot has
``prevSeqId`` -1, published as None); an update applies when its ``prevSeqId`` equals the book's
``seqId``, and an update without changes repeats the same ``seqId``. ``checksum`` is passed
through as sent: OKX now sends 0, which the book builder treats as "no checksum".
"""

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
    Liquidation,
    OpenInterest,
    Trade,
)
from services.ingest.normalizer import FrameRejected, JsonObject
from services.ingest.parsing import (
    NS_PER_MS,
    as_frame_rejected,
    base_levels,
    event_ids,
    finite_decimal,
    ms_to_ns,
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
from services.instruments.catalog import Instrument, InstrumentCatalog, UnknownInstrument


class OkxNormalizer(NormalizerDefaults):
    exchange = ExchangeId.OKX

    def normalize(self, frame: JsonObject, receive_ts: int) -> list[InstrumentEvent]:
        if not isinstance(frame, dict):
            raise FrameRejected("malformed", "frame is not an object")
        event = frame.get("event")
        if event is not None:
            if event == "error":
                raise FrameRejected("venue_error", f"{frame.get('code')}: {frame.get('msg')}")
            return []  # subscribe / unsubscribe acks, notices, channel-conn-count
        arg = frame.get("arg")
        channel = arg.get("channel") if isinstance(arg, dict) else None
        with as_frame_rejected(channel):
            if channel == "trades":
                return [self._trade(row, receive_ts) for row in frame["data"]]
            if channel == "books":
                return [self._book(frame, row, receive_ts) for row in frame["data"]]
            if channel in ("bbo-tbt", "books5"):
                return [e for row in frame["data"] for e in self._bbo(frame, row, receive_ts)]
            if channel == "funding-rate":
                return [self._funding(row, receive_ts) for row in frame["data"]]
            if channel == "open-interest":
                return [self._open_interest(row, receive_ts) for row in frame["data"]]
            if channel == "liquidation-orders":
                return [e for row in frame["data"] for e in self._liquidations(row, receive_ts)]
        raise FrameRejected("unknown_event", f"unsupported channel {channel!r}")

    # --- channels --------------------------------------------------------------------------

    def _ids(self, instrument: Instrument, ms: Any, receive_ts: int) -> dict[str, Any]:
        return event_ids(instrument, ms_to_ns(ms), receive_ts)

    def _levels(self, instrument: Instrument, levels: Any) -> list[tuple[Decimal, Decimal]]:
        # [price, contracts, deprecated "0", number of orders]
        return base_levels(instrument, levels)

    def _trade(self, row: JsonObject, receive_ts: int) -> Trade:
        instrument = self._catalog.get(self.exchange, row["instId"])
        price, contracts = finite_decimal(row["px"]), finite_decimal(row["sz"])
        return Trade(
            **self._ids(instrument, row["ts"], receive_ts),
            trade_id=str(row["tradeId"]),
            side=parse_side(row["side"]),  # the taker's side
            **trade_amounts(instrument, price, contracts),
        )

    def _book(self, frame: JsonObject, row: JsonObject, receive_ts: int) -> BookSnapshot | BookDelta:
        instrument = self._catalog.get(self.exchange, frame["arg"]["instId"])
        prev = strict_int(row["prevSeqId"])
        fields = {
            **self._ids(instrument, row["ts"], receive_ts),
            "sequence": BookSequence(last=strict_int(row["seqId"]), prev=prev if prev >= 0 else None),
            "bids": self._levels(instrument, row["bids"]),
            "asks": self._levels(instrument, row["asks"]),
            "checksum": strict_int(row["checksum"]) if row.get("checksum") is not None else None,
        }
        action = frame.get("action")
        if action == "snapshot":
            return BookSnapshot(**fields)
        if action == "update":
            return BookDelta(**fields)
        raise FrameRejected("malformed", f"books frame with action {action!r}")

    def _bbo(self, frame: JsonObject, row: JsonObject, receive_ts: int) -> list[InstrumentEvent]:
        instrument = self._catalog.get(self.exchange, row.get("instId") or frame["arg"]["instId"])
        bids, asks = self._levels(instrument, row["bids"]), self._levels(instrument, row["asks"])
        if not bids or not asks:
            return []  # one side is empty: no top of book to publish
        return [
            BestBidOffer(
                **self._ids(instrument, row["ts"], receive_ts),
                bid_price=bids[0][0],
                bid_quantity=bids[0][1],
                ask_price=asks[0][0],
                ask_quantity=asks[0][1],
                sequence=strict_int(row["seqId"]) if "seqId" in row else None,
            )
        ]

    def _funding(self, row: JsonObject, receive_ts: int) -> Funding:
        instrument = self._catalog.get(self.exchange, row["instId"])
        # fundingTime is the settlement the current fundingRate applies to (the next one);
        # nextFundingTime the one after it, so their distance is the funding interval.
        funding_ms, following_ms = strict_int(row["fundingTime"]), strict_int(row.get("nextFundingTime") or 0)
        interval_s = (following_ms - funding_ms) // 1000 if following_ms > funding_ms else None
        return Funding(
            **self._ids(instrument, row.get("ts") or funding_ms, receive_ts),
            rate=finite_decimal(row["fundingRate"]),
            interval_s=interval_s or instrument.funding_interval_s,
            next_funding_ts=funding_ms * NS_PER_MS,
        )

    def _open_interest(self, row: JsonObject, receive_ts: int) -> OpenInterest:
        instrument = self._catalog.get(self.exchange, row["instId"])
        contracts = finite_decimal(row["oi"])
        # oiCcy is the open interest in coin (the base) for linear and inverse swaps alike.
        base = finite_decimal(row["oiCcy"]) if row.get("oiCcy") else None
        if base is None and not instrument.inverse:
            base = instrument.base_quantity(contracts, Decimal(1))
        if base is None:
            raise FrameRejected("malformed", "inverse open interest without oiCcy")
        return OpenInterest(
            **self._ids(instrument, row["ts"], receive_ts),
            open_interest=base,
            # An inverse contract is worth ctVal USD: the quote notional is exact.
            open_interest_notional=instrument.notional(contracts, Decimal(1)) if instrument.inverse else None,
        )

    def _liquidations(self, row: JsonObject, receive_ts: int) -> list[InstrumentEvent]:
        # The channel carries every SWAP instrument; those without metadata are not ours.
        try:
            instrument = self._catalog.get(self.exchange, row["instId"])
        except UnknownInstrument:
            return []
        events: list[InstrumentEvent] = []
        for detail in row["details"]:
            price, contracts = finite_decimal(detail["bkPx"]), finite_decimal(detail["sz"])
            events.append(
                Liquidation(
                    **self._ids(instrument, detail["ts"], receive_ts),
                    side=parse_side(detail["side"]),  # side of the liquidation order
                    **trade_amounts(instrument, price, contracts),
                )
            )
        return events


_CHANNELS: dict[Channel, str] = {
    Channel.TRADES: "trades",
    Channel.BOOK: "books",
    Channel.BBO: "bbo-tbt",
    Channel.FUNDING: "funding-rate",
    Channel.OPEN_INTEREST: "open-interest",
}
_ARGS_PER_REQUEST = 100  # keeps one request far below the 64 KB request size limit


class OkxAdapter(AdapterDefaults):
    """Protocol facts of OKX public WebSocket v5.

    OKX closes a connection that sees no data for 30 s: the client sends the text ``ping``
    (answered by ``pong``) every 25 s. Subscribe requests are limited by size (64 KB) and by
    480 subscribe/unsubscribe operations per hour per connection; no channel count limit is
    documented, 300 keeps reconnect resubscription within one or two requests.
    ``liquidation-orders`` is subscribed per instrument type (all SWAP instruments at once).
    REST: GET /api/v5/public/instruments allows 20 requests per 2 s.
    """

    exchange = ExchangeId.OKX
    ws_url = "wss://ws.okx.com:8443/ws/v5/public"
    rest_url = "https://www.okx.com"
    capabilities = EVERY_CHANNEL
    max_subscriptions_per_connection = 300
    ping_interval_s: float | None = 25.0
    rest_rate_limit = RateLimit(capacity=20, per_second=10)

    def __init__(self, catalog: InstrumentCatalog) -> None:
        self.normalizer = OkxNormalizer(catalog)

    def subscribe_frames(self, channels: frozenset[Channel], native_symbols: list[str]) -> list[str]:
        wanted = channels & self.capabilities
        args: list[dict[str, str]] = [
            {"channel": _CHANNELS[channel], "instId": symbol}
            for symbol in native_symbols
            for channel in sorted(wanted)
            if channel in _CHANNELS
        ]
        if Channel.LIQUIDATIONS in wanted:
            args.append({"channel": "liquidation-orders", "instType": "SWAP"})
        return [
            orjson.dumps({"op": "subscribe", "args": args[i : i + _ARGS_PER_REQUEST]}).decode()
            for i in range(0, len(args), _ARGS_PER_REQUEST)
        ]

    def ping_frame(self) -> str | None:
        return "ping"

    def book_resubscribe_frames(self, native_symbol: str) -> list[str]:
        """Unsubscribe then subscribe ``books`` for one instrument: OKX answers with a new snapshot."""
        request = {"args": [{"channel": _CHANNELS[Channel.BOOK], "instId": native_symbol}]}
        return resubscribe_pair(request, "op", ("unsubscribe", "subscribe"))

    def is_control_frame(self, frame: Any) -> bool:
        if frame in ("pong", b"pong"):
            return True
        # An "error" event is not a control frame: the normalizer reports it.
        return isinstance(frame, dict) and "event" in frame and frame["event"] != "error"

    def instruments_request(self) -> RestRequest:
        return RestRequest("/api/v5/public/instruments", {"instType": "SWAP"})

    def parse_instruments(self, payload: JsonObject) -> list[Instrument]:
        instruments = []
        for entry in payload["data"]:
            if entry.get("instType") != "SWAP" or entry.get("state") != "live":
                continue
            base, quote = entry["instId"].split("-")[:2]
            instruments.append(
                Instrument(
                    exchange=self.exchange,
                    native_symbol=entry["instId"],
                    base=base,
                    quote=quote,
                    tick_size=plain_decimal(Decimal(entry["tickSz"])),
                    lot_size=plain_decimal(Decimal(entry["lotSz"])),
                    # ctVal is base coin per contract (linear) or USD per contract (inverse).
                    contract_size=plain_decimal(Decimal(entry["ctVal"]) * Decimal(entry.get("ctMult") or 1)),
                    inverse=entry["ctType"] == "inverse",
                )
            )
        return instruments
