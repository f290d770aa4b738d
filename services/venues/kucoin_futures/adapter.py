"""KuCoin Futures perpetuals (USDT-margined XBTUSDTM..., inverse XBTUSDM): WebSocket and REST.

Docs (checked 2026): https://www.kucoin.com/docs/websocket/basic-info/apply-connect-token/public-token-no-authentication-required-,
https://www.kucoin.com/docs/websocket/basic-info/ping,
https://www.kucoin.com/docs/websocket/futures-trading/public-channels/match-execution-data,
https://www.kucoin.com/docs/websocket/futures-trading/public-channels/level2-market-data,
https://www.kucoin.com/docs/websocket/futures-trading/public-channels/get-ticker-v2,
https://www.kucoin.com/docs/rest/futures-trading/market-data/get-full-order-book-level-2,
https://www.kucoin.com/docs/rest/futures-trading/market-data/get-symbol-detail,
https://www.kucoin.com/docs/basic-info/request-rate-limit/rest-api.

Connecting needs a token: POST /api/v1/bullet-public returns the token, the endpoint and the
server's ``pingInterval``; ``connect_request`` and ``ws_url_from`` expose that handshake.

Frames are ``{"topic", "type": "message", "subject", "data"}``. Sizes are CONTRACTS
(lots): one XBTUSDTM lot is ``multiplier`` = 0.001 BTC; an inverse lot (XBTUSDM) is 1 USD,
so base = lots * 1 / price. ``match`` and ``tickerV2`` times are nanoseconds, ``level2``
times milliseconds.

Book sequence: every ``level2`` message carries ONE change and its ``sequence``:
``first`` = ``last`` = sequence. The book bootstraps from GET /api/v1/level2/snapshot (its
``sequence`` is the snapshot's id): drop messages with sequence <= snapshot sequence, then each
sequence is the previous one + 1.

Funding and open interest have no complete WebSocket feed: ``/contract/instrument`` pushes the
rate (``funding.rate``, every minute) and the mark/index prices (``mark.index.price``, every
second) without the next funding time, and no topic carries open interest. Both are read from the
contract detail (GET /api/v1/contracts/{symbol}), polled like Binance's open interest through
``open_interest_request`` / ``normalize_open_interest``; the adapter also subscribes to
``/contract/instrument:{symbol}``, whose pushes are published as Funding once the poll told the
settlement time (before that they are rejected as ``incomplete``). KuCoin publishes no
liquidation feed.
"""

from dataclasses import dataclass
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
from services.ingest.venue_defaults import AdapterDefaults, NormalizerDefaults
from services.instruments.catalog import Instrument, InstrumentCatalog

_BASE_ALIASES = {"XBT": "BTC"}


@dataclass
class _FundingState:
    """What one contract's funding stream has told so far; ``/contract/instrument`` sends the rate
    and the mark/index prices in separate pushes, and neither carries the next settlement time."""

    interval_s: int
    rate: Decimal | None = None
    next_funding_ts: int | None = None
    mark: Decimal | None = None
    index: Decimal | None = None


class KucoinFuturesNormalizer(NormalizerDefaults):
    exchange = ExchangeId.KUCOIN_FUTURES

    def __init__(self, catalog: InstrumentCatalog) -> None:
        super().__init__(catalog)
        self._funding: dict[str, _FundingState] = {}

    def normalize(self, frame: JsonObject, receive_ts: int) -> list[InstrumentEvent]:
        if not isinstance(frame, dict):
            raise FrameRejected("malformed", "frame is not an object")
        kind = frame.get("type")
        if kind in ("welcome", "ack", "pong"):
            return []
        if kind == "error":
            raise FrameRejected("venue_error", f"{frame.get('code')}: {frame.get('data')}")
        if kind != "message":
            raise FrameRejected("unknown_event", f"unsupported frame type {kind!r}")
        subject, topic = frame.get("subject"), frame.get("topic")
        with as_frame_rejected(subject):
            data = frame["data"]
            if subject == "match":
                return [self._trade(data, receive_ts)]
            if subject == "level2":
                # The symbol is only in the topic: /contractMarket/level2:XBTUSDTM
                if not isinstance(topic, str) or not topic.startswith("/contractMarket/level2:"):
                    raise FrameRejected("unknown_event", f"level2 subject on topic {topic!r}")
                return [self._level2(topic.partition(":")[2], data, receive_ts)]
            if subject in ("tickerV2", "ticker"):
                return [self._ticker(data, receive_ts)]
            if subject in ("funding.rate", "mark.index.price"):
                # The symbol is in the topic (/contract/instrument:XBTUSDTM); newer pushes repeat it.
                if not isinstance(topic, str) or not topic.startswith("/contract/instrument:"):
                    raise FrameRejected("unknown_event", f"{subject} subject on topic {topic!r}")
                return [self._instrument_push(topic.partition(":")[2], subject, data, receive_ts)]
        raise FrameRejected("unknown_event", f"unsupported subject {subject!r} on {topic!r}")

    def normalize_rest_snapshot(
        self, payload: JsonObject, native_symbol: str, receive_ts: int
    ) -> list[InstrumentEvent]:
        """GET /api/v1/level2/snapshot: ``{"code", "data": {"symbol", "sequence", "asks", "bids", "ts"}}``."""
        with as_frame_rejected("level2 snapshot"):
            data = payload.get("data", payload)
            instrument = self._catalog.get(self.exchange, native_symbol)
            return [
                BookSnapshot(
                    **event_ids(instrument, strict_int(data["ts"]), receive_ts),  # ns
                    sequence=BookSequence(last=strict_int(data["sequence"])),
                    bids=self._levels(instrument, data["bids"]),
                    asks=self._levels(instrument, data["asks"]),
                )
            ]

    def normalize_open_interest(self, payload: JsonObject, receive_ts: int) -> list[InstrumentEvent]:
        """GET /api/v1/contracts/{symbol}: open interest in lots, and the funding the venue quotes.

        ``nextFundingRateTime`` is the time LEFT until the next settlement, in ms, so the next
        funding time is reckoned from the receive time; the contract detail carries no timestamp.
        """
        with as_frame_rejected("contract detail"):
            data = payload.get("data", payload)
            instrument = self._catalog.get(self.exchange, data["symbol"])
            ids = event_ids(instrument, receive_ts, receive_ts)
            mark = finite_decimal(data["markPrice"])
            lots = finite_decimal(data["openInterest"])
            events: list[InstrumentEvent] = [
                OpenInterest(
                    **ids,
                    open_interest=instrument.base_quantity(lots, mark),
                    open_interest_notional=instrument.notional(lots, mark),
                )
            ]
            if data.get("fundingFeeRate") is not None and data.get("nextFundingRateTime") is not None:
                granularity_ms = data.get("fundingRateGranularity")
                funding = Funding(
                    **ids,
                    rate=finite_decimal(data["fundingFeeRate"]),
                    interval_s=strict_int(granularity_ms) // 1000
                    if granularity_ms
                    else instrument.funding_interval_s,
                    next_funding_ts=receive_ts + ms_to_ns(data["nextFundingRateTime"]),
                    mark_price=mark,
                    index_price=finite_decimal(data["indexPrice"]) if data.get("indexPrice") else None,
                )
                events.append(funding)
                # The stream's funding.rate pushes lack the settlement time: they take it from here.
                state = self._state(instrument)
                state.interval_s, state.next_funding_ts = funding.interval_s, funding.next_funding_ts
                state.rate = state.rate if state.rate is not None else funding.rate
            return events

    # --- subjects --------------------------------------------------------------------------

    def _state(self, instrument: Instrument) -> _FundingState:
        state = self._funding.get(instrument.native_symbol)
        if state is None:
            state = self._funding[instrument.native_symbol] = _FundingState(instrument.funding_interval_s)
        return state

    def _instrument_push(
        self, native_symbol: str, subject: str, data: JsonObject, receive_ts: int
    ) -> Funding:
        """``funding.rate`` ``{"granularity", "fundingRate", "timestamp"}`` and ``mark.index.price``
        ``{"granularity", "indexPrice", "markPrice", "timestamp"}`` (times in ms) on
        ``/contract/instrument:{symbol}`` (kucoin.com/docs/websocket/futures-trading/public-channels/contract-market-data).

        Each push updates the contract's funding state and publishes it whole. The next settlement
        time comes only from the contract detail poll (``normalize_open_interest``); until one
        arrived, a push is rejected with that reason rather than published with an invented time.
        """
        instrument = self._catalog.get(self.exchange, native_symbol)
        ts = ms_to_ns(data.get("timestamp", data.get("ts")))
        state = self._state(instrument)
        if subject == "funding.rate":
            state.rate = finite_decimal(data["fundingRate"])
        else:
            state.mark = instrument.base_price(finite_decimal(data["markPrice"]))
            state.index = instrument.base_price(finite_decimal(data["indexPrice"]))
        if state.next_funding_ts is None or state.rate is None:
            missing = "settlement time" if state.next_funding_ts is None else "funding rate"
            raise FrameRejected(
                "incomplete",
                f"{subject} for {native_symbol}: no {missing} known yet (it comes from the contract "
                "detail, GET /api/v1/contracts/{symbol}, or a funding.rate push)",
            )
        if state.next_funding_ts <= ts:  # settlements passed since the poll: move to the next one
            interval_ns = state.interval_s * 1_000_000_000
            state.next_funding_ts += ((ts - state.next_funding_ts) // interval_ns + 1) * interval_ns
        return Funding(
            **event_ids(instrument, ts, receive_ts),
            rate=state.rate,
            interval_s=state.interval_s,
            next_funding_ts=state.next_funding_ts,
            mark_price=state.mark if state.mark and state.mark > 0 else None,
            index_price=state.index if state.index and state.index > 0 else None,
        )

    def _levels(self, instrument: Instrument, levels: Any) -> list[tuple[Decimal, Decimal]]:
        return base_levels(instrument, levels)  # [price, lots]

    def _trade(self, data: JsonObject, receive_ts: int) -> Trade:
        instrument = self._catalog.get(self.exchange, data["symbol"])
        price, lots = finite_decimal(data["price"]), finite_decimal(data["size"])
        return Trade(
            **event_ids(instrument, strict_int(data["ts"]), receive_ts),  # ns
            trade_id=str(data["tradeId"]),
            side=parse_side(data["side"]),  # the taker's side
            **trade_amounts(instrument, price, lots),
        )

    def _level2(self, native_symbol: str, data: JsonObject, receive_ts: int) -> BookDelta:
        instrument = self._catalog.get(self.exchange, native_symbol)
        price_text, side, lots_text = data["change"].split(",")
        (level,) = self._levels(instrument, [[price_text, lots_text]])
        if side not in ("buy", "sell"):
            raise ValueError(f"unknown book side {side!r}")
        sequence = strict_int(data["sequence"])
        return BookDelta(
            **event_ids(instrument, ms_to_ns(data["timestamp"]), receive_ts),
            sequence=BookSequence(first=sequence, last=sequence),
            bids=[level] if side == "buy" else [],
            asks=[level] if side == "sell" else [],
        )

    def _ticker(self, data: JsonObject, receive_ts: int) -> BestBidOffer:
        instrument = self._catalog.get(self.exchange, data["symbol"])
        (bid_price, bid_qty), (ask_price, ask_qty) = self._levels(
            instrument,
            [[data["bestBidPrice"], data["bestBidSize"]], [data["bestAskPrice"], data["bestAskSize"]]],
        )
        return BestBidOffer(
            **event_ids(instrument, strict_int(data["ts"]), receive_ts),  # ns
            bid_price=bid_price,
            bid_quantity=bid_qty,
            ask_price=ask_price,
            ask_quantity=ask_qty,
            sequence=strict_int(data["sequence"]),
        )


_TOPICS: dict[Channel, str] = {
    Channel.TRADES: "/contractMarket/execution",
    Channel.BOOK: "/contractMarket/level2",
    Channel.BBO: "/contractMarket/tickerV2",
}
_SYMBOLS_PER_TOPIC = 100  # one subscribe may list up to 100 symbols, comma separated
_INSTRUMENT_TOPIC = "/contract/instrument"
"""Funding rate and mark/index price pushes, one symbol per topic
(kucoin.com/docs/websocket/futures-trading/public-channels/contract-market-data)."""


class KucoinFuturesAdapter(AdapterDefaults):
    """Protocol facts of KuCoin Futures.

    The WebSocket URL is issued per connection by POST /api/v1/bullet-public together with
    ``pingInterval`` (18 s documented) and ``pingTimeout``; the client pings with
    ``{"id", "type": "ping"}`` at that interval. A session holds at most 100 topic
    subscriptions (error 509 beyond). REST (public resource pool): 2,000 weight per 30 s;
    the level2 snapshot and the contract detail weigh 3, the token request 10.
    """

    exchange = ExchangeId.KUCOIN_FUTURES
    ws_url = "wss://ws-api-futures.kucoin.com/"  # placeholder: the real URL comes with the token
    rest_url = "https://api-futures.kucoin.com"
    capabilities = frozenset(
        {Channel.TRADES, Channel.BOOK, Channel.BBO, Channel.FUNDING, Channel.OPEN_INTEREST}
    )
    max_subscriptions_per_connection = 100
    rest_rate_limit = RateLimit(capacity=2000, per_second=2000 / 30)
    polled_channels = frozenset({Channel.FUNDING, Channel.OPEN_INTEREST})
    """Both come from the polled contract detail (``open_interest_request``)."""

    def __init__(self, catalog: InstrumentCatalog) -> None:
        self.normalizer = KucoinFuturesNormalizer(catalog)
        self.ping_interval_s: float | None = 18.0  # replaced by the token's pingInterval

    def connect_request(self) -> RestRequest | None:
        return RestRequest("/api/v1/bullet-public", method="POST", weight=10)

    def ws_url_from(self, payload: JsonObject | None = None) -> str:
        """The URL to connect to, from the bullet-public response; adopts its ping interval."""
        with as_frame_rejected("bullet-public response"):
            data: Any = payload["data"] if payload is not None else None
            server = data["instanceServers"][0]
            token, endpoint = data["token"], server["endpoint"]
            if not isinstance(token, str) or not isinstance(endpoint, str) or not token:
                raise TypeError("token and endpoint must be strings")
            interval_ms = server.get("pingInterval")
            if interval_ms:
                self.ping_interval_s = strict_int(interval_ms) / 1000
            return f"{endpoint}?token={token}&connectId=perpwatch"

    def subscribe_frames(self, channels: frozenset[Channel], native_symbols: list[str]) -> list[str]:
        """Trades, level2 and tickerV2 list up to 100 symbols per topic; funding is
        ``/contract/instrument:{symbol}``, which the docs define for one symbol per topic (its
        ``funding.rate`` and ``mark.index.price`` pushes; the settlement time still comes from the
        polled contract detail). Open interest is polled only."""
        topics: list[str] = []
        for channel in sorted(channels & self.capabilities):
            topic = _TOPICS.get(channel)
            if topic is not None:
                topics += [
                    f"{topic}:{','.join(native_symbols[i : i + _SYMBOLS_PER_TOPIC])}"
                    for i in range(0, len(native_symbols), _SYMBOLS_PER_TOPIC)
                ]
            elif channel is Channel.FUNDING:
                topics += [f"{_INSTRUMENT_TOPIC}:{symbol}" for symbol in native_symbols]
        frames = [
            {"id": str(n), "type": "subscribe", "topic": topic, "privateChannel": False, "response": True}
            for n, topic in enumerate(topics, start=1)
        ]
        return [orjson.dumps(frame).decode() for frame in frames]

    def ping_frame(self) -> str | None:
        return '{"id":"perpwatch-ping","type":"ping"}'

    def is_control_frame(self, frame: Any) -> bool:
        return isinstance(frame, dict) and frame.get("type") in ("welcome", "ack", "pong")

    def book_snapshot_request(self, native_symbol: str) -> RestRequest | None:
        return RestRequest("/api/v1/level2/snapshot", {"symbol": native_symbol}, weight=3)

    def open_interest_request(self, native_symbol: str) -> RestRequest:
        """Contract detail: open interest AND the current funding rate with its next time."""
        return RestRequest(f"/api/v1/contracts/{native_symbol}", weight=3)

    def instruments_request(self) -> RestRequest:
        return RestRequest("/api/v1/contracts/active", weight=3)

    def parse_instruments(self, payload: JsonObject) -> list[Instrument]:
        instruments = []
        for entry in payload["data"]:
            # FFWCSX is KuCoin's code for a perpetual swap.
            if entry.get("type") != "FFWCSX" or entry.get("status") != "Open":
                continue
            base = entry["baseCurrency"]
            granularity_ms = entry.get("fundingRateGranularity")
            instruments.append(
                Instrument(
                    exchange=self.exchange,
                    native_symbol=entry["symbol"],
                    base=_BASE_ALIASES.get(base, base),
                    quote=entry["quoteCurrency"],
                    tick_size=plain_decimal(Decimal(str(entry["tickSize"]))),
                    lot_size=plain_decimal(Decimal(str(entry["lotSize"]))),
                    # Inverse lots have multiplier -1 (1 USD, paid in coin): the size is its magnitude.
                    contract_size=plain_decimal(abs(Decimal(str(entry["multiplier"])))),
                    inverse=bool(entry.get("isInverse")),
                    funding_interval_s=int(granularity_ms) // 1000 if granularity_ms else 8 * 3600,
                )
            )
        return instruments
