"""What a venue module provides: its protocol facts and its parsers, behind one small interface.

One package per venue under ``services/venues/``. The connector runtime, the exchange
simulator, replay and ``perpwatch normalize`` only ever talk to a venue through ``VenueAdapter``,
so adding a venue never touches them.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from schemas.common import ExchangeId
from services.ingest.normalizer import JsonObject, VenueNormalizer
from services.instruments.catalog import Instrument


class Channel(StrEnum):
    TRADES = "trades"
    BOOK = "book"  # L2 snapshot + diffs with venue sequence ids
    BBO = "bbo"
    FUNDING = "funding"  # rate, interval, next funding time; mark/index price where offered
    OPEN_INTEREST = "open_interest"
    LIQUIDATIONS = "liquidations"


@dataclass(frozen=True)
class RestRequest:
    """A REST call relative to the venue's ``rest_url``; ``weight`` counts against its rate limit."""

    path: str
    params: dict[str, str] = field(default_factory=dict)
    method: str = "GET"
    weight: int = 1


@dataclass(frozen=True)
class RateLimit:
    """Token bucket for REST calls: ``capacity`` tokens, refilled at ``per_second``."""

    capacity: float
    per_second: float


class VenueAdapter(Protocol):
    exchange: ExchangeId
    ws_url: str
    rest_url: str
    capabilities: frozenset[Channel]
    """Channels the venue really offers; an absent channel is declared absent, never faked."""
    max_subscriptions_per_connection: int
    ping_interval_s: float | None
    """Application-level ping period; None when protocol-level WebSocket pings suffice."""
    stale_after_s: float
    """Silence after which the watchdog declares the connection stalled and reconnects."""
    rest_rate_limit: RateLimit

    @property
    def normalizer(self) -> VenueNormalizer:
        """The venue's parsers (read-only, so adapters may narrow the type)."""
        ...

    def subscribe_frames(self, channels: frozenset[Channel], native_symbols: list[str]) -> list[str]:
        """Text frames to send after connecting (and again after every reconnect)."""
        ...

    def ping_frame(self) -> str | None:
        """The application-level ping text, or None."""
        ...

    def is_control_frame(self, frame: Any) -> bool:
        """Acks, pongs and other frames that carry no market data."""
        ...

    def book_snapshot_request(self, native_symbol: str) -> RestRequest | None:
        """The REST snapshot a book bootstraps from, for venues that require one; else None."""
        ...

    def book_resubscribe_frames(self, native_symbol: str) -> list[str]:
        """Frames that make the venue send one symbol's book snapshot again on the stream
        (unsubscribe, then subscribe): what a connection sends when that one book broke. [] when
        the venue has no such way (the default, ``AdapterDefaults``)."""
        ...

    def instruments_request(self) -> RestRequest: ...

    # Optional hooks: ``AdapterDefaults`` (ingest/venue_defaults.py) answers each with "nothing to do".

    polled_channels: frozenset[Channel]
    """Channels served over REST only, polled with ``open_interest_request``."""

    def open_interest_request(self, native_symbol: str) -> RestRequest | None:
        """The REST poll of ``polled_channels`` for one symbol (Binance, KuCoin); else None."""
        ...

    def connect_request(self) -> RestRequest | None:
        """The REST call that hands out the WebSocket URL (a token), for venues that need one."""
        ...

    def ws_url_from(self, payload: JsonObject | None = None) -> str:
        """The URL to connect to, given the ``connect_request`` response."""
        ...

    def symbol_frames(self, channels: frozenset[Channel], native_symbols: list[str]) -> list[str]:
        """Per-connection subscriptions; with ``venue_wide_frames``, what ``subscribe_frames`` sends."""
        ...

    def venue_wide_frames(self, channels: frozenset[Channel], native_symbols: list[str]) -> list[str]:
        """Subscriptions covering every symbol of the venue, sent on one connection only."""
        ...

    def control_reply(self, frame: str) -> str | None:
        """The answer a received text frame needs at once (CoinDCX's Engine.IO ``2`` -> ``3``)."""
        ...

    def handshake_reply(self, frame: str) -> str | None:
        """The prefix of the reply to await after sending ``frame`` (Engine.IO ``40``)."""
        ...

    @property
    def decode_frame(self) -> Callable[[str], Any] | None:
        """The venue's own text framing (CoinDCX's Engine.IO ``42[...]``) turned into what its
        normalizer takes (None for a control frame); None when frames are plain JSON."""
        ...

    def parse_instruments(self, payload: JsonObject) -> list[Instrument]:
        """Perpetual instruments from the venue's instrument endpoint, for the offline snapshot."""
        ...
