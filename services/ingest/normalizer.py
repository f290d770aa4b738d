"""The one small interface every venue module implements, and the error a parser raises.

A normalizer is pure: a decoded frame and its receive time in, normalized events out. It keeps
no connection and does no I/O, so the same code serves live connectors, replay and tests.
"""

from collections.abc import Callable
from typing import Any, Protocol

from schemas.common import ExchangeId, InstrumentEvent

JsonObject = dict[str, Any]

OpenInterestParser = Callable[..., list[InstrumentEvent]]
"""``(payload, receive_ts)`` -> events of a polled REST answer; parsers of inverse contracts also
take ``mark_price=`` (venue units), which ``connector.parse.takes_mark_price`` finds out."""


class FrameRejected(ValueError):
    """A frame the parser cannot turn into events. ``error_type`` is a short label for metrics."""

    def __init__(self, error_type: str, reason: str) -> None:
        super().__init__(reason)
        self.error_type = error_type
        self.reason = reason


class VenueNormalizer(Protocol):
    exchange: ExchangeId

    def normalize(self, frame: Any, receive_ts: int) -> list[InstrumentEvent]:
        """Events carried by one WebSocket frame; [] for control frames (acks, pongs)."""
        ...

    def normalize_rest_snapshot(
        self, payload: JsonObject, native_symbol: str, receive_ts: int
    ) -> list[InstrumentEvent]:
        """The book snapshot a venue serves over REST, for venues that bootstrap that way."""
        ...

    # Optional hook: ``NormalizerDefaults`` (ingest/venue_defaults.py) answers None.

    @property
    def normalize_open_interest(self) -> OpenInterestParser | None:
        """The parser of the venue's REST open-interest poll (``polled_channels``); None when the
        venue streams open interest."""
        ...
