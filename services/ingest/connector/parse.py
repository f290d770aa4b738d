"""One frame in, normalized events out: the single parsing path of live, replay and normalize.

Everything that can go wrong with a frame ends as ``FrameRejected`` (with a short error type),
so that every caller handles bad input the same way: count it, dead-letter it, keep going.
"""

import inspect
import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import orjson

from schemas.common import InstrumentEvent, InstrumentProvenance
from schemas.market_data import (
    BestBidOffer,
    BookDelta,
    BookSnapshot,
    Funding,
    Liquidation,
    OpenInterest,
    Trade,
)
from services.ingest.connector.metrics import DERIVED_INSTRUMENT_EVENTS
from services.ingest.normalizer import FrameRejected
from services.ingest.venue import Channel, VenueAdapter

log = logging.getLogger(__name__)

CHANNEL_OF_EVENT: dict[type[InstrumentEvent], Channel] = {
    Trade: Channel.TRADES,
    BookSnapshot: Channel.BOOK,
    BookDelta: Channel.BOOK,
    BestBidOffer: Channel.BBO,
    Funding: Channel.FUNDING,
    OpenInterest: Channel.OPEN_INTEREST,
    Liquidation: Channel.LIQUIDATIONS,
}


# Nanosecond times are 64-bit everywhere downstream (Kafka timestamps, BIGINT columns, metrics):
# a venue time past 2^63 ns (the year 2262) is a broken frame. "T": 1e308 once passed a parser as
# a 309-digit time and stopped the connection when the feed lag was observed.
MAX_TIMESTAMP_NS = 2**63 - 1
_DERIVED = InstrumentProvenance.DERIVED


def _is_control(adapter: VenueAdapter, frame: Any) -> bool:
    try:
        return bool(adapter.is_control_frame(frame))
    except Exception:  # a venue's predicate choking on an odd frame is that frame's problem
        return False


def normalize_raw(adapter: VenueAdapter, raw: bytes | str, receive_ts: int) -> list[InstrumentEvent] | None:
    """The events of one received frame; ``None`` for a control frame (ack, pong, heartbeat)."""
    decode = adapter.decode_frame
    if decode is not None:
        return _normalize_with_framing(adapter, decode, raw, receive_ts)
    try:
        frame = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        # Some venues answer a ping with a bare word ("pong"), which is not JSON.
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        if _is_control(adapter, text):
            return None
        raise FrameRejected("invalid_json", f"not JSON: {exc}") from None
    if _is_control(adapter, frame):
        return None
    if not isinstance(frame, dict):
        raise FrameRejected("malformed", f"frame is a JSON {type(frame).__name__}, not an object")
    return _normalize(adapter, frame, receive_ts)


def _normalize_with_framing(
    adapter: VenueAdapter, decode: Callable[[str], Any], raw: bytes | str, receive_ts: int
) -> list[InstrumentEvent] | None:
    """Venues with their own text framing (CoinDCX's Engine.IO ``42[...]``): the adapter's
    ``decode_frame`` turns the text into what its normalizer takes, or None for control frames."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    if _is_control(adapter, text):
        return None
    try:
        frame = decode(text)
    except FrameRejected:
        raise
    except Exception as exc:
        raise FrameRejected("malformed", f"undecodable frame: {type(exc).__name__}: {exc}") from None
    if frame is None:
        return None
    return _normalize(adapter, frame, receive_ts)


def _normalize(adapter: VenueAdapter, frame: Any, receive_ts: int) -> list[InstrumentEvent]:
    try:
        events = adapter.normalizer.normalize(frame, receive_ts)
    except FrameRejected:
        raise
    except Exception as exc:  # the parser contract says this cannot happen; the feed must survive it
        log.exception("venue parser raised instead of rejecting", extra={"exchange": adapter.exchange.value})
        raise FrameRejected("parser_error", f"{type(exc).__name__}: {exc}") from None
    return accepted(events)


def accepted(events: list[InstrumentEvent]) -> list[InstrumentEvent]:
    """A parser's events, once their times are 64-bit and derived instruments are counted."""
    derived = False
    for event in events:
        if not 0 <= event.exchange_ts <= MAX_TIMESTAMP_NS:
            raise FrameRejected(
                "out_of_range", f"exchange time {str(event.exchange_ts)[:40]} is not 64-bit ns"
            )
        if event.instrument_provenance is _DERIVED:
            derived = True
    if derived:
        count_derived(events)
    return events


def count_derived(events: list[InstrumentEvent]) -> None:
    """Counts events whose instrument was derived from the venue's naming rules (the metric says which)."""
    for event in events:
        if event.instrument_provenance is InstrumentProvenance.DERIVED:
            DERIVED_INSTRUMENT_EVENTS.labels(event.exchange.value, event.native_symbol).inc()


def takes_mark_price(adapter: VenueAdapter) -> bool:
    """Whether the venue's REST open interest parser accepts the latest mark price (Binance)."""
    parse = adapter.normalizer.normalize_open_interest
    if parse is None:
        return False
    try:
        return "mark_price" in inspect.signature(parse).parameters
    except (TypeError, ValueError):
        return False


def normalize_rest_open_interest(
    adapter: VenueAdapter, body: bytes, receive_ts: int, *, mark_price: Decimal | None = None
) -> list[InstrumentEvent]:
    """A polled open-interest answer, for venues that only serve it over REST (Binance, KuCoin).

    ``mark_price`` (venue units) goes to parsers that take it: inverse contracts need a price to
    be converted to base units (Binance COIN-M).
    """
    parse = adapter.normalizer.normalize_open_interest
    if parse is None:
        raise FrameRejected("unsupported", f"{adapter.exchange.value} has no REST open interest parser")
    try:
        payload = orjson.loads(body)
        if mark_price is not None and takes_mark_price(adapter):
            events: list[InstrumentEvent] = parse(payload, receive_ts, mark_price=mark_price)
        else:
            events = parse(payload, receive_ts)
    except FrameRejected:
        raise
    except Exception as exc:
        raise FrameRejected("malformed", f"open interest: {type(exc).__name__}: {exc}") from None
    return events


def normalize_rest_snapshot(
    adapter: VenueAdapter, body: bytes, native_symbol: str, receive_ts: int
) -> list[InstrumentEvent]:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise FrameRejected("invalid_json", f"snapshot is not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise FrameRejected("malformed", "snapshot is not a JSON object")
    try:
        events = adapter.normalizer.normalize_rest_snapshot(payload, native_symbol, receive_ts)
    except FrameRejected:
        raise
    except Exception as exc:
        raise FrameRejected("parser_error", f"{type(exc).__name__}: {exc}") from None
    return accepted(events)
