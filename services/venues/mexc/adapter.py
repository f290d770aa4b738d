"""MEXC USDT-M perpetual futures ("contract" API): WebSocket pushes and the REST depth snapshot.

Docs checked:
- https://www.mexc.com/api-docs/futures/websocket-api — ``wss://contract.mexc.com/edge``; send
  ``{"method": "ping"}`` every 10-20 s (no ping for 1 minute closes the socket), answered by
  ``{"channel": "pong"}``; ``sub.deal``, ``sub.depth``, ``sub.ticker``, ``sub.funding.rate``;
  deal and incremental depth pushes are merged ("zipped") unless ``compress`` is false; acks
  come back on ``rs.<method>`` channels, errors on ``rs.error``.
- https://www.mexc.com/api-docs/futures/market-endpoints — ``GET /api/v1/contract/detail``
  (``contractSize``, ``priceUnit``, ``volUnit``), ``GET /api/v1/contract/depth/{symbol}``
  (``version``; 10 requests per 2 s), other market endpoints 20 requests per 2 s.

Frames are ``{"channel": "push.<x>", "data": ..., "symbol": "BTC_USDT", "ts": ms}``.
Quantities are CONTRACTS (``vol``/``v``/``holdVol``): base = contracts * ``contractSize``
(0.0001 BTC for BTC_USDT). Book levels are ``[price, contracts, order count]``; a level with 0
contracts is deleted. Channel use:

- ``push.deal`` -> Trade (``T`` 1 = taker bought, 2 = taker sold; ``data`` is a list, or one
  object in older pushes; no trade id is documented, see ``_trade_id``);
- ``push.depth`` -> BookDelta with ``BookSequence(first=version, last=version)``: each push is one
  version and the next must be ``version + 1``; the book starts from the REST snapshot
  (``push.depth.full`` top-N snapshots are read as BookSnapshot too);
- ``push.funding.rate`` -> Funding (``rate``, ``nextSettleTime``);
- ``push.ticker`` -> OpenInterest (``holdVol`` contracts, valued at ``fairPrice``).

Not offered: BBO (the ticker's ``bid1``/``ask1`` come without sizes) and liquidations (no public
stream).
"""

from collections.abc import Callable
from typing import Any

import orjson

from schemas.common import ExchangeId, InstrumentEvent
from schemas.market_data import BookDelta, BookSequence, BookSnapshot, Funding, OpenInterest, Trade
from services.ingest.normalizer import FrameRejected, JsonObject
from services.ingest.parsing import (
    Level,
    as_frame_rejected,
    base_levels,
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


class MexcNormalizer(NormalizerDefaults):
    exchange = ExchangeId.MEXC

    def __init__(self, catalog: InstrumentCatalog) -> None:
        super().__init__(catalog)
        self._handlers: dict[str, Callable[[Instrument, JsonObject, int], list[InstrumentEvent]]] = {
            "push.deal": self._deals,
            "push.depth": self._depth,
            "push.depth.full": self._depth,
            "push.funding.rate": self._funding,
            "push.ticker": self._ticker,
        }

    def normalize(self, frame: Any, receive_ts: int) -> list[InstrumentEvent]:
        if not isinstance(frame, dict):
            raise FrameRejected("malformed", "frame is not an object")
        channel = frame.get("channel")
        if channel == "rs.error":
            raise FrameRejected("venue_error", str(frame.get("data")))
        if channel == "pong" or (isinstance(channel, str) and channel.startswith("rs.")):
            return []  # pong and subscription acknowledgements
        handler = self._handlers.get(channel) if isinstance(channel, str) else None
        if handler is None:
            raise FrameRejected("unknown_event", f"unsupported channel {channel!r}")
        with as_frame_rejected(channel):
            data = frame["data"]
            symbol: Any = frame.get("symbol")
            if symbol is None and isinstance(data, dict):
                symbol = data.get("symbol")
            instrument = self._catalog.get(self.exchange, symbol)
            return handler(instrument, frame, receive_ts)

    def normalize_rest_snapshot(
        self, payload: JsonObject, native_symbol: str, receive_ts: int
    ) -> list[InstrumentEvent]:
        """GET /api/v1/contract/depth/{symbol}: ``{"success", "code", "data": {asks, bids, version, timestamp}}``."""
        with as_frame_rejected("depth snapshot"):
            if payload.get("success") is False:
                raise FrameRejected("venue_error", f"depth snapshot: code {payload.get('code')}")
            instrument = self._catalog.get(self.exchange, native_symbol)
            data = payload["data"]
            return [
                BookSnapshot(
                    **self._ids(instrument, data["timestamp"], receive_ts),
                    sequence=BookSequence(last=strict_int(data["version"])),
                    bids=self._levels(instrument, data["bids"]),
                    asks=self._levels(instrument, data["asks"]),
                )
            ]

    # --- pushes ----------------------------------------------------------------------------

    def _ids(self, instrument: Instrument, ms: Any, receive_ts: int) -> dict[str, Any]:
        return event_ids(instrument, ms_to_ns(ms), receive_ts)

    def _levels(self, instrument: Instrument, levels: Any) -> list[Level]:
        return base_levels(instrument, levels)  # [price, contracts, order count]

    def _deals(self, instrument: Instrument, frame: JsonObject, receive_ts: int) -> list[InstrumentEvent]:
        data = frame["data"]
        deals = data if isinstance(data, list) else [data]
        trades: list[InstrumentEvent] = []
        seen: dict[str, int] = {}
        for deal in deals:
            price, contracts = finite_decimal(deal["p"]), finite_decimal(deal["v"])
            trade_id = _trade_id(deal, seen)
            trades.append(
                Trade(
                    **self._ids(instrument, deal["t"], receive_ts),
                    trade_id=trade_id,
                    side=parse_side(deal["T"], buy=1, sell=2),
                    **trade_amounts(instrument, price, contracts),
                )
            )
        return trades

    def _depth(self, instrument: Instrument, frame: JsonObject, receive_ts: int) -> list[InstrumentEvent]:
        data = frame["data"]
        version = strict_int(data["version"])
        fields: dict[str, Any] = {
            **self._ids(instrument, frame["ts"], receive_ts),
            "bids": self._levels(instrument, data["bids"]),
            "asks": self._levels(instrument, data["asks"]),
        }
        if frame["channel"] == "push.depth.full":
            return [BookSnapshot(**fields, sequence=BookSequence(last=version))]
        return [BookDelta(**fields, sequence=BookSequence(first=version, last=version))]

    def _funding(self, instrument: Instrument, frame: JsonObject, receive_ts: int) -> list[InstrumentEvent]:
        data = frame["data"]
        ids = self._ids(instrument, frame["ts"], receive_ts)
        next_settle = data.get("nextSettleTime")
        # The push example omits nextSettleTime although the field table lists it; without it the
        # next settlement is the next interval boundary, which is how MEXC schedules funding.
        next_ts = (
            ms_to_ns(next_settle)
            if next_settle
            else next_funding_boundary(ids["exchange_ts"], instrument.funding_interval_s)
        )
        return [
            Funding(
                **ids,
                rate=finite_decimal(data["rate"] if "rate" in data else data["fundingRate"]),
                interval_s=instrument.funding_interval_s,
                next_funding_ts=next_ts,
            )
        ]

    def _ticker(self, instrument: Instrument, frame: JsonObject, receive_ts: int) -> list[InstrumentEvent]:
        data = frame["data"]
        contracts = finite_decimal(data["holdVol"])
        price = finite_decimal(data["fairPrice"])
        return [
            OpenInterest(
                **self._ids(instrument, data.get("timestamp") or frame["ts"], receive_ts),
                open_interest=instrument.base_quantity(contracts, price),
                open_interest_notional=instrument.notional(contracts, price),
            )
        ]


def _trade_id(deal: JsonObject, seen: dict[str, int]) -> str:
    """The venue's ``i`` when present; otherwise time, side, price and size.

    MEXC documents no trade id, so two identical fills in the same millisecond would share the
    derived key; a counter keeps them apart within a push.
    """
    if deal.get("i") not in (None, ""):
        return str(deal["i"])
    key = f"{strict_int(deal['t'])}-{deal['T']}-{finite_decimal(deal['p'])}-{finite_decimal(deal['v'])}"
    seen[key] = seen.get(key, 0) + 1
    return key if seen[key] == 1 else f"{key}#{seen[key]}"


_SUBSCRIPTIONS: dict[Channel, tuple[str, dict[str, Any]]] = {
    # compress=false: merged pushes would hide individual deals and skip depth versions.
    Channel.TRADES: ("sub.deal", {"compress": False}),
    Channel.BOOK: ("sub.depth", {"compress": False}),
    Channel.FUNDING: ("sub.funding.rate", {}),
    Channel.OPEN_INTEREST: ("sub.ticker", {}),
}


class MexcAdapter(AdapterDefaults):
    """Protocol facts of MEXC futures (see the module docstring for the doc pages)."""

    exchange = ExchangeId.MEXC
    ws_url = "wss://contract.mexc.com/edge"
    rest_url = "https://api.mexc.com"
    capabilities = frozenset({Channel.TRADES, Channel.BOOK, Channel.FUNDING, Channel.OPEN_INTEREST})
    # MEXC documents no per-connection subscription cap; stay conservative.
    max_subscriptions_per_connection = 30
    ping_interval_s: float | None = 15.0
    # 20 requests per 2 seconds on market endpoints (depth and contract detail: 10 per 2 s).
    rest_rate_limit = RateLimit(capacity=10, per_second=5)

    def __init__(self, catalog: InstrumentCatalog) -> None:
        self.normalizer = MexcNormalizer(catalog)

    def subscribe_frames(self, channels: frozenset[Channel], native_symbols: list[str]) -> list[str]:
        frames = []
        for symbol in native_symbols:
            for channel in sorted(channels & self.capabilities):
                method, extra = _SUBSCRIPTIONS[channel]
                # gzip=false asks for plain JSON text pushes.
                message = {"method": method, "param": {"symbol": symbol, **extra}, "gzip": False}
                frames.append(orjson.dumps(message).decode())
        return frames

    def ping_frame(self) -> str | None:
        return '{"method":"ping"}'

    def is_control_frame(self, frame: Any) -> bool:
        if not isinstance(frame, dict):
            return False
        channel = frame.get("channel")
        return channel == "pong" or (
            isinstance(channel, str) and channel.startswith("rs.") and channel != "rs.error"
        )

    def book_snapshot_request(self, native_symbol: str) -> RestRequest | None:
        return RestRequest(f"/api/v1/contract/depth/{native_symbol}", {"limit": "1000"}, weight=2)

    def instruments_request(self) -> RestRequest:
        return RestRequest("/api/v1/contract/detail", weight=2)

    def parse_instruments(self, payload: JsonObject) -> list[Instrument]:
        data = payload["data"]
        instruments = []
        for entry in data if isinstance(data, list) else [data]:
            # state 0 = enabled; futureType 1 = perpetual.
            if entry.get("state", 0) != 0 or entry.get("futureType", 1) != 1:
                continue
            instruments.append(
                Instrument(
                    exchange=self.exchange,
                    native_symbol=entry["symbol"],
                    base=entry["baseCoin"],
                    quote=entry["quoteCoin"],
                    tick_size=finite_decimal(entry["priceUnit"]),
                    lot_size=finite_decimal(entry["volUnit"]),
                    contract_size=finite_decimal(entry["contractSize"]),
                    inverse=entry.get("settleCoin", entry["quoteCoin"]) != entry["quoteCoin"],
                )
            )
        return instruments
