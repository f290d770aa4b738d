"""Hyperliquid perpetuals (USDC-margined): WebSocket subscriptions and the ``meta`` info request.

Docs checked:
- https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/websocket and
  .../websocket/subscriptions — ``wss://api.hyperliquid.xyz/ws``; ``{"method": "subscribe",
  "subscription": {"type": ..., "coin": ...}}`` acknowledged on ``subscriptionResponse``; data as
  ``{"channel": <type>, "data": ...}``; ``trades`` (``side`` "B" = the taker bought, "A" = sold,
  ``tid``, ``time`` ms), ``l2Book`` (a FULL book of up to 20 levels per side every time, no
  sequence id), ``bbo``, ``activeAssetCtx`` (``funding`` rate for one hour, ``openInterest`` in
  coins, ``markPx``, ``oraclePx``).
- .../websocket/timeouts-and-heartbeats — the server closes a connection that has sent nothing for
  60 s; ``{"method": "ping"}`` is answered by ``{"channel": "pong"}``.
- .../api/rate-limits-and-user-limits — 100 connections and 1000 subscriptions per IP; REST weight
  1200 per minute, ``info`` requests weigh 20 (2 for l2Book and a few others).
- .../api/info-endpoint/perpetuals — ``POST /info {"type": "meta"}``: ``universe`` of
  ``{"name", "szDecimals", "maxLeverage", "isDelisted"?}``; prices take at most 5 significant
  figures and ``6 - szDecimals`` decimals.

Symbols: coin ``BTC`` -> ``BTC-USDC-PERP``. Contracts are quoted and settled in USDC, so the quote
is USDC (not USD: that would mix them with inverse USD contracts). ``k``-prefixed coins are quoted
per 1000 units: ``kPEPE`` -> ``PEPE`` with multiplier 1000. Sizes are coins (base units).

``l2Book`` frames are emitted as BookSnapshot; the venue has no sequence id, so
``BookSequence.last`` carries the book's ``time`` (ms), which increases per coin.
``activeAssetCtx`` carries no timestamp: its events are stamped with the receive time. Funding is
paid every hour, on the hour. No liquidation stream is public.
"""

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import orjson

from schemas.common import ExchangeId, InstrumentEvent
from schemas.market_data import BestBidOffer, BookSequence, BookSnapshot, Funding, OpenInterest, Trade
from services.ingest.normalizer import FrameRejected, JsonObject
from services.ingest.parsing import (
    NS_PER_MS,
    Level,
    as_frame_rejected,
    event_ids,
    finite_decimal,
    ms_to_ns,
    next_funding_boundary,
    parse_side,
    strict_int,
    trade_amounts,
)
from services.ingest.venue import Channel, RateLimit, RestRequest
from services.ingest.venue_defaults import AdapterDefaults, NormalizerDefaults
from services.instruments.catalog import Instrument, InstrumentCatalog

FUNDING_INTERVAL_S = 3600
QUOTE = "USDC"
_CONTROL_CHANNELS = ("pong", "subscriptionResponse")


def split_coin(name: str) -> tuple[str, Decimal]:
    """``kPEPE`` -> (``PEPE``, 1000): a lowercase ``k`` marks a coin quoted per thousand."""
    if len(name) > 1 and name[0] == "k" and name[1:].isupper():
        return name[1:], Decimal(1000)
    return name, Decimal(1)


class HyperliquidNormalizer(NormalizerDefaults):
    exchange = ExchangeId.HYPERLIQUID

    def __init__(self, catalog: InstrumentCatalog) -> None:
        super().__init__(catalog)
        self._handlers: dict[str, Callable[[Any, int], list[InstrumentEvent]]] = {
            "trades": self._trades,
            "l2Book": self._book,
            "bbo": self._best_bid_offer,
            "activeAssetCtx": self._asset_context,
        }

    def normalize(self, frame: Any, receive_ts: int) -> list[InstrumentEvent]:
        if not isinstance(frame, dict):
            raise FrameRejected("malformed", "frame is not an object")
        channel = frame.get("channel")
        if channel == "error":
            raise FrameRejected("venue_error", str(frame.get("data")))
        if channel in _CONTROL_CHANNELS:
            return []
        handler = self._handlers.get(channel) if isinstance(channel, str) else None
        if handler is None:
            raise FrameRejected("unknown_event", f"unsupported channel {channel!r}")
        with as_frame_rejected(channel):
            return handler(frame["data"], receive_ts)

    def normalize_rest_snapshot(
        self, payload: JsonObject, native_symbol: str, receive_ts: int
    ) -> list[InstrumentEvent]:
        """``POST /info {"type": "l2Book", "coin": ...}`` answers with the same shape as the stream."""
        with as_frame_rejected("l2Book"):
            return self._book(payload, receive_ts)

    # --- channels --------------------------------------------------------------------------

    def _level(self, instrument: Instrument, level: Any) -> Level:
        price, size = finite_decimal(level["px"]), finite_decimal(level["sz"])
        return instrument.base_level(price, size)

    def _trades(self, data: Any, receive_ts: int) -> list[InstrumentEvent]:
        if not isinstance(data, list):
            raise TypeError("trades are not a list")
        trades: list[InstrumentEvent] = []
        for row in data:
            instrument = self._catalog.get(self.exchange, row["coin"])
            price, size = finite_decimal(row["px"]), finite_decimal(row["sz"])
            trades.append(
                Trade(
                    **event_ids(instrument, ms_to_ns(row["time"]), receive_ts),
                    trade_id=str(strict_int(row["tid"])),
                    side=parse_side(row["side"], buy="B", sell="A"),
                    **trade_amounts(instrument, price, size),
                )
            )
        return trades

    def _book(self, data: Any, receive_ts: int) -> list[InstrumentEvent]:
        instrument = self._catalog.get(self.exchange, data["coin"])
        bids, asks = data["levels"]
        ms = strict_int(data["time"])
        return [
            BookSnapshot(
                **event_ids(instrument, ms * NS_PER_MS, receive_ts),
                sequence=BookSequence(last=ms),
                bids=[self._level(instrument, level) for level in bids],
                asks=[self._level(instrument, level) for level in asks],
            )
        ]

    def _best_bid_offer(self, data: Any, receive_ts: int) -> list[InstrumentEvent]:
        instrument = self._catalog.get(self.exchange, data["coin"])
        sides = data["bbo"]
        if not isinstance(sides, list):
            raise TypeError("bbo is not a list")
        # WsBbo is [bid | null, ask | null]; a side may also be left out. A one-sided top of book is
        # valid market data, but md.bbo.v1 carries both sides: say so instead of failing to unpack.
        if len(sides) > 2:
            raise FrameRejected("malformed", f"bbo has {len(sides)} sides")
        bid, ask = (*sides, None, None)[:2]
        if bid is None or ask is None:
            empty = "bid" if bid is None else "ask"
            raise FrameRejected(
                "one_sided_book", f"{data['coin']} bbo has no {empty}: md.bbo.v1 needs both sides"
            )
        (bid_price, bid_size), (ask_price, ask_size) = (
            self._level(instrument, bid),
            self._level(instrument, ask),
        )
        return [
            BestBidOffer(
                **event_ids(instrument, ms_to_ns(data["time"]), receive_ts),
                bid_price=bid_price,
                bid_quantity=bid_size,
                ask_price=ask_price,
                ask_quantity=ask_size,
            )
        ]

    def _asset_context(self, data: Any, receive_ts: int) -> list[InstrumentEvent]:
        instrument = self._catalog.get(self.exchange, data["coin"])
        context = data["ctx"]
        mark = finite_decimal(context["markPx"])
        oracle = finite_decimal(context["oraclePx"])
        open_interest = finite_decimal(context["openInterest"])
        # The context has no venue timestamp: the receive time is the best available.
        ids = event_ids(instrument, receive_ts, receive_ts)
        return [
            Funding(
                **ids,
                rate=finite_decimal(context["funding"]),
                interval_s=FUNDING_INTERVAL_S,
                next_funding_ts=next_funding_boundary(receive_ts, FUNDING_INTERVAL_S),
                mark_price=instrument.base_price(mark),
                index_price=instrument.base_price(oracle),
            ),
            OpenInterest(
                **ids,
                open_interest=instrument.base_quantity(open_interest, mark),
                open_interest_notional=instrument.notional(open_interest, mark),
            ),
        ]


_SUBSCRIPTIONS: dict[Channel, str] = {
    Channel.TRADES: "trades",
    Channel.BOOK: "l2Book",
    Channel.BBO: "bbo",
    Channel.FUNDING: "activeAssetCtx",
    Channel.OPEN_INTEREST: "activeAssetCtx",
}


class HyperliquidAdapter(AdapterDefaults):
    """Protocol facts of Hyperliquid (see the module docstring for the doc pages)."""

    exchange = ExchangeId.HYPERLIQUID
    ws_url = "wss://api.hyperliquid.xyz/ws"
    rest_url = "https://api.hyperliquid.xyz"
    capabilities = frozenset(
        {Channel.TRADES, Channel.BOOK, Channel.BBO, Channel.FUNDING, Channel.OPEN_INTEREST}
    )
    # 1000 subscriptions per IP in total (and 100 connections): keep connections well below it.
    max_subscriptions_per_connection = 100
    ping_interval_s: float | None = 30.0
    # 1200 weight per minute per IP.
    rest_rate_limit = RateLimit(capacity=1200, per_second=20)

    def __init__(self, catalog: InstrumentCatalog) -> None:
        self.normalizer = HyperliquidNormalizer(catalog)

    def subscribe_frames(self, channels: frozenset[Channel], native_symbols: list[str]) -> list[str]:
        types = sorted({_SUBSCRIPTIONS[c] for c in channels & self.capabilities})
        return [
            orjson.dumps({"method": "subscribe", "subscription": {"type": kind, "coin": coin}}).decode()
            for coin in native_symbols
            for kind in types
        ]

    def ping_frame(self) -> str | None:
        return '{"method":"ping"}'

    def is_control_frame(self, frame: Any) -> bool:
        return isinstance(frame, dict) and frame.get("channel") in _CONTROL_CHANNELS

    def instruments_request(self) -> RestRequest:
        # A POST whose params are the JSON body (Hyperliquid's info endpoint takes no query string).
        return RestRequest("/info", {"type": "meta"}, method="POST", weight=20)

    def parse_instruments(self, payload: JsonObject) -> list[Instrument]:
        instruments = []
        for entry in payload["universe"]:
            name = entry["name"]
            if entry.get("isDelisted") or not name.isalnum():
                continue  # delisted, or a builder-deployed "dex:COIN" market
            base, multiplier = split_coin(name)
            size_decimals = int(entry["szDecimals"])
            instruments.append(
                Instrument(
                    exchange=self.exchange,
                    native_symbol=name,
                    base=base,
                    quote=QUOTE,
                    # The finest price step allowed; 5 significant figures make it coarser for
                    # large prices (BTC trades in whole dollars).
                    tick_size=Decimal(1).scaleb(-(6 - size_decimals)),
                    lot_size=Decimal(1).scaleb(-size_decimals),
                    contract_size=Decimal(1),
                    inverse=False,
                    multiplier=multiplier,
                    funding_interval_s=FUNDING_INTERVAL_S,
                )
            )
        return instruments
