"""Phemex perpetuals: USDT-M "hedged" contracts (real values) and legacy contracts (scaled integers).

Docs checked:
- https://github.com/phemex/phemex-api-docs/blob/master/Public-Hedged-Perpetual-API.md (USDT-M):
  ``orderbook_p.subscribe`` / ``trade_p.subscribe`` per symbol, ``perp_market24h_pack_p.subscribe``
  (every symbol, once a second: ``fundingRateRr``, ``markRp``, ``indexRp``, ``openInterestRv``);
  prices ``Rp`` and sizes ``Rq`` are plain decimal strings, sizes in the base coin; book
  incrementals every 20 ms and a snapshot every 60 s for self-verification; heartbeat
  ``{"id", "method": "server.ping", "params": []}`` at least every 30 s (5 s recommended; no
  message for 3 heartbeats means reconnect); at most 20 subscriptions and 20 requests/s per
  connection, 5 connections per client.
- https://github.com/phemex/phemex-api-docs/blob/master/Public-Contract-API-en.md (legacy, e.g.
  BTCUSD inverse, ETHUSD): ``orderbook.subscribe``, ``trade.subscribe``, ``market24h.subscribe``;
  prices are ``Ep`` integers scaled by ``priceScale`` (10^4 for every contract), ratios ``Er`` by
  ``ratioScale`` (10^8); sizes are CONTRACTS (``contractSize`` base coin each, or 1 USD each for the
  inverse BTCUSD).
- https://phemex-docs.github.io/#query-product-information-3: ``GET /public/products`` with
  ``products`` (legacy, ``type`` Perpetual) and ``perpProductsV2`` (``type`` PerpetualV2).

Book frames carry ``sequence`` (one counter shared by the venue's messages: it increases but is
not contiguous per symbol, so it is ``BookSequence.last`` only); ``type`` snapshot replaces the
book, incremental changes it. Timestamps are nanoseconds. Trades have no id on Phemex: see
``_trade_id``. Funding frames carry no next funding time: it is the next funding-interval boundary
(Phemex settles at 00:00, 08:00 and 16:00 UTC for 8 h contracts). ``openInterestRv`` reads like a
value but is the open position in base coins (e.g. BTCUSDT "1323.596" next to a 24 h volume of
7406 BTC). No BBO and no liquidation channel is public.
"""

from collections.abc import Callable
from decimal import Decimal
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
    next_funding_boundary,
    parse_side,
    plain_decimal,
    split_multiplier_prefix,
    strict_int,
    trade_amounts,
)
from services.ingest.venue import Channel, RateLimit, RestRequest
from services.ingest.venue_defaults import AdapterDefaults, NormalizerDefaults
from services.instruments.catalog import Instrument, InstrumentCatalog, UnknownInstrument

# Every legacy contract has priceScale 4 and ratioScale 8 (checked on the recorded product list);
# parse_instruments skips any product with another price scale.
PRICE_SCALE = 4
_PRICE_DIVISOR = Decimal(10) ** PRICE_SCALE
_RATIO_DIVISOR = Decimal(10) ** 8
_HEDGED_QUOTES = ("USDT", "USDC")


class _Scale:
    """How one frame family writes numbers: legacy Ep integers, or hedged real strings."""

    def __init__(self, scaled: bool) -> None:
        self.scaled = scaled

    def price(self, value: Any) -> Decimal:
        if self.scaled:
            return Decimal(strict_int(value)) / _PRICE_DIVISOR
        return finite_decimal(value)

    def ratio(self, value: Any) -> Decimal:
        if self.scaled:
            return Decimal(strict_int(value)) / _RATIO_DIVISOR
        return finite_decimal(value)


_LEGACY = _Scale(scaled=True)
_HEDGED = _Scale(scaled=False)


class PhemexNormalizer(NormalizerDefaults):
    exchange = ExchangeId.PHEMEX

    def __init__(self, catalog: InstrumentCatalog) -> None:
        super().__init__(catalog)
        self._handlers: dict[str, Callable[[JsonObject, int], list[InstrumentEvent]]] = {
            "book": lambda f, ts: self._book(f, f["book"], _LEGACY, ts),
            "orderbook_p": lambda f, ts: self._book(f, f["orderbook_p"], _HEDGED, ts),
            "trades": lambda f, ts: self._trades(f, f["trades"], _LEGACY, ts),
            "trades_p": lambda f, ts: self._trades(f, f["trades_p"], _HEDGED, ts),
            "market24h": lambda f, ts: self._market24h(f, f["market24h"], _LEGACY, ts),
            "market24h_p": lambda f, ts: self._market24h(f, f["market24h_p"], _HEDGED, ts),
        }

    def normalize(self, frame: Any, receive_ts: int) -> list[InstrumentEvent]:
        if not isinstance(frame, dict):
            raise FrameRejected("malformed", "frame is not an object")
        if "result" in frame or "error" in frame:
            if frame.get("error") is not None:
                raise FrameRejected("venue_error", str(frame["error"]))
            return []  # subscription ack or the pong of server.ping
        kind = next((key for key in self._handlers if key in frame), None)
        if kind is None and frame.get("method") == "perp_market24h_pack_p.update":
            kind = "pack"
        if kind is None:
            raise FrameRejected("unknown_event", f"no known payload among {sorted(map(str, frame))[:5]}")
        with as_frame_rejected(kind):
            if kind == "pack":
                return self._market_pack(frame, receive_ts)
            return self._handlers[kind](frame, receive_ts)

    # --- payloads --------------------------------------------------------------------------

    def _ids(self, instrument: Instrument, ns: Any, receive_ts: int) -> dict[str, Any]:
        return event_ids(instrument, strict_int(ns), receive_ts)

    def _levels(self, instrument: Instrument, levels: Any, scale: _Scale) -> list[Level]:
        return base_levels(instrument, levels, read_price=scale.price)

    def _book(self, frame: JsonObject, book: Any, scale: _Scale, receive_ts: int) -> list[InstrumentEvent]:
        instrument = self._catalog.get(self.exchange, frame["symbol"])
        fields: dict[str, Any] = {
            **self._ids(instrument, frame["timestamp"], receive_ts),
            "sequence": BookSequence(last=strict_int(frame["sequence"])),
            "bids": self._levels(instrument, book["bids"], scale),
            "asks": self._levels(instrument, book["asks"], scale),
        }
        kind = frame.get("type")
        if kind == "snapshot":
            return [BookSnapshot(**fields)]
        if kind == "incremental":
            return [BookDelta(**fields)]
        raise FrameRejected("malformed", f"unknown book type {kind!r}")

    def _trades(self, frame: JsonObject, rows: Any, scale: _Scale, receive_ts: int) -> list[InstrumentEvent]:
        instrument = self._catalog.get(self.exchange, frame["symbol"])
        if not isinstance(rows, list):
            raise TypeError("trades are not a list")
        trades: list[InstrumentEvent] = []
        seen: dict[str, int] = {}
        for ts, side, raw_price, raw_size in rows:
            price, size = scale.price(raw_price), finite_decimal(raw_size)
            trades.append(
                Trade(
                    **self._ids(instrument, ts, receive_ts),
                    trade_id=_trade_id(ts, side, raw_price, raw_size, seen),
                    side=parse_side(side, buy="Buy", sell="Sell"),  # the taker's side
                    **trade_amounts(instrument, price, size),
                )
            )
        return trades

    def _market24h(
        self, frame: JsonObject, ticker: Any, scale: _Scale, receive_ts: int
    ) -> list[InstrumentEvent]:
        """Legacy ``market24h`` (Ep/Er, OI in contracts) or ``market24h_p`` (Rp/Rr, OI in base)."""
        instrument = self._catalog.get(self.exchange, ticker["symbol"])
        suffix = "" if scale.scaled else "Rp"
        mark = scale.price(ticker[f"markPrice{suffix}"])
        index = scale.price(ticker[f"indexPrice{suffix}"])
        rate = scale.ratio(ticker["fundingRate" if scale.scaled else "fundingRateRr"])
        open_interest = finite_decimal(ticker["openInterest" if scale.scaled else "openInterestRv"])
        # The frame's own timestamp (ns); the legacy ticker repeats one inside, market24h_p does not.
        ns = frame["timestamp"] if "timestamp" in frame else ticker["timestamp"]
        return self._funding_and_open_interest(instrument, ns, rate, mark, index, open_interest, receive_ts)

    def _market_pack(self, frame: JsonObject, receive_ts: int) -> list[InstrumentEvent]:
        """``perp_market24h_pack_p.update``: one row per symbol, described by ``fields``."""
        fields = frame["fields"]
        events: list[InstrumentEvent] = []
        for values in frame["data"]:
            row = dict(zip(fields, values, strict=True))
            try:
                instrument = self._catalog.get(self.exchange, row["symbol"])
            except UnknownInstrument:
                continue  # the pack lists every symbol on the venue, not only ours
            events += self._funding_and_open_interest(
                instrument,
                frame["timestamp"],
                finite_decimal(row["fundingRateRr"]),
                finite_decimal(row["markRp"]),
                finite_decimal(row["indexRp"]),
                finite_decimal(row["openInterestRv"]),
                receive_ts,
            )
        return events

    def _funding_and_open_interest(
        self,
        instrument: Instrument,
        ns: Any,
        rate: Decimal,
        mark: Decimal,
        index: Decimal,
        open_interest: Decimal,
        receive_ts: int,
    ) -> list[InstrumentEvent]:
        ids = self._ids(instrument, ns, receive_ts)
        return [
            Funding(
                **ids,
                rate=rate,
                interval_s=instrument.funding_interval_s,
                next_funding_ts=next_funding_boundary(ids["exchange_ts"], instrument.funding_interval_s),
                mark_price=instrument.base_price(mark),
                index_price=instrument.base_price(index),
            ),
            OpenInterest(
                **ids,
                open_interest=instrument.base_quantity(open_interest, mark),
                open_interest_notional=instrument.notional(open_interest, mark),
            ),
        ]


def _trade_id(ts: Any, side: Any, price: Any, size: Any, seen: dict[str, int]) -> str:
    """Phemex trades carry no id: nanosecond time, side, price and size stand in for one.

    The same key is produced for a trade whether it arrives in the subscription snapshot or in an
    incremental, so replays can be de-duplicated; identical fills in one frame get a counter.
    """
    key = f"{strict_int(ts)}-{side}-{finite_decimal(price)}-{finite_decimal(size)}"
    seen[key] = seen.get(key, 0) + 1
    return key if seen[key] == 1 else f"{key}#{seen[key]}"


_HEDGED_METHODS: dict[Channel, str] = {Channel.TRADES: "trade_p", Channel.BOOK: "orderbook_p"}
_LEGACY_METHODS: dict[Channel, str] = {Channel.TRADES: "trade", Channel.BOOK: "orderbook"}
_MARKET_CHANNELS = frozenset({Channel.FUNDING, Channel.OPEN_INTEREST})


def _requests(requests: list[tuple[str, list[str]]], *, first_id: int) -> list[str]:
    return [
        orjson.dumps({"id": number, "method": method, "params": params}).decode()
        for number, (method, params) in enumerate(requests, start=first_id)
    ]


class PhemexAdapter(AdapterDefaults):
    """Protocol facts of Phemex (see the module docstring for the doc pages)."""

    exchange = ExchangeId.PHEMEX
    ws_url = "wss://ws.phemex.com"
    rest_url = "https://api.phemex.com"
    capabilities = frozenset({Channel.TRADES, Channel.BOOK, Channel.FUNDING, Channel.OPEN_INTEREST})
    max_subscriptions_per_connection = 20
    ping_interval_s: float | None = 5.0
    stale_after_s = 15.0
    # 5,000 requests per IP in a 5-minute window.
    rest_rate_limit = RateLimit(capacity=100, per_second=5000 / 300)

    def __init__(self, catalog: InstrumentCatalog) -> None:
        self._catalog = catalog
        self.normalizer = PhemexNormalizer(catalog)

    def _is_hedged(self, native_symbol: str) -> bool:
        try:
            return self._catalog.get(self.exchange, native_symbol).quote in _HEDGED_QUOTES
        except UnknownInstrument:
            return native_symbol.endswith(_HEDGED_QUOTES)

    def subscribe_frames(self, channels: frozenset[Channel], native_symbols: list[str]) -> list[str]:
        """Everything one connection carrying all of ``native_symbols`` sends."""
        return self.symbol_frames(channels, native_symbols) + self.venue_wide_frames(channels, native_symbols)

    def symbol_frames(self, channels: frozenset[Channel], native_symbols: list[str]) -> list[str]:
        """The per-symbol subscriptions (book, trades) of one connection's symbols."""
        return _requests(self._symbol_requests(channels, native_symbols), first_id=1)

    def venue_wide_frames(self, channels: frozenset[Channel], native_symbols: list[str]) -> list[str]:
        """The 24 h ticker subscriptions: each covers every symbol of the venue, so the connector
        sends them on one connection only (numbered after the per-symbol requests)."""
        wanted = channels & self.capabilities
        requests: list[tuple[str, list[str]]] = []
        if wanted & _MARKET_CHANNELS:
            # Both 24 h tickers are venue-wide: one subscription per family covers every symbol.
            if any(self._is_hedged(s) for s in native_symbols):
                requests.append(("perp_market24h_pack_p.subscribe", []))
            if not all(self._is_hedged(s) for s in native_symbols):
                requests.append(("market24h.subscribe", []))
        first_id = len(self._symbol_requests(channels, native_symbols)) + 1
        return _requests(requests, first_id=first_id)

    def _symbol_requests(
        self, channels: frozenset[Channel], native_symbols: list[str]
    ) -> list[tuple[str, list[str]]]:
        wanted = channels & self.capabilities
        requests: list[tuple[str, list[str]]] = []
        for symbol in native_symbols:
            methods = _HEDGED_METHODS if self._is_hedged(symbol) else _LEGACY_METHODS
            requests += [(f"{methods[c]}.subscribe", [symbol]) for c in sorted(wanted) if c in methods]
        return requests

    def ping_frame(self) -> str | None:
        return '{"id":0,"method":"server.ping","params":[]}'

    def is_control_frame(self, frame: Any) -> bool:
        return isinstance(frame, dict) and "result" in frame and frame.get("error") is None

    def instruments_request(self) -> RestRequest:
        return RestRequest("/public/products")

    def parse_instruments(self, payload: JsonObject) -> list[Instrument]:
        """Legacy ``products`` (type Perpetual) and ``perpProductsV2`` (type PerpetualV2)."""
        data = payload["data"]
        instruments = []
        for entry in data.get("products", []):
            if entry.get("type") != "Perpetual" or entry.get("status") != "Listed":
                continue
            if entry.get("priceScale") != PRICE_SCALE:
                continue  # the normalizer divides every Ep price by 10^4
            inverse = entry["contractUnderlyingAssets"] == entry["quoteCurrency"]
            base = entry["settleCurrency"] if inverse else entry["contractUnderlyingAssets"]
            instruments.append(
                self._instrument(
                    entry, base, entry["quoteCurrency"], entry["tickSize"], entry["lotSize"], inverse
                )
            )
        for entry in data.get("perpProductsV2") or []:
            if entry.get("status") != "Listed":
                continue
            base = entry.get("baseCurrency") or entry["contractUnderlyingAssets"]
            instruments.append(
                self._instrument(
                    entry, base, entry["quoteCurrency"], entry["tickSize"], entry["qtyStepSize"], False
                )
            )
        return instruments

    def _instrument(
        self, entry: JsonObject, base: str, quote: str, tick: Any, lot: Any, inverse: bool
    ) -> Instrument:
        base, multiplier = split_multiplier_prefix(base)
        return Instrument(
            exchange=self.exchange,
            native_symbol=entry["symbol"],
            base=base,
            quote=quote,
            tick_size=plain_decimal(finite_decimal(tick)),
            lot_size=plain_decimal(finite_decimal(lot)),
            contract_size=plain_decimal(finite_decimal(entry.get("contractSize", 1))),
            inverse=inverse,
            multiplier=multiplier,
            funding_interval_s=int(entry.get("fundingInterval") or 8 * 3600),
        )
