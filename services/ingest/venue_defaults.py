"""What most venue adapters would otherwise write alike: subclass these and write only what differs."""

from collections.abc import Callable
from typing import Any

import orjson

from schemas.common import ExchangeId, InstrumentEvent
from services.ingest.normalizer import FrameRejected, JsonObject, OpenInterestParser
from services.ingest.venue import Channel, RestRequest
from services.instruments.catalog import InstrumentCatalog

EVERY_CHANNEL = frozenset(
    {Channel.TRADES, Channel.BOOK, Channel.BBO, Channel.FUNDING, Channel.OPEN_INTEREST, Channel.LIQUIDATIONS}
)
"""The capabilities of a venue that offers all six channels.

Listed rather than ``frozenset(Channel)``: a channel added later is never claimed by a venue whose
module has not been taught it.
"""


class NormalizerDefaults:
    """A normalizer over an instrument catalog, for a venue whose books start on the WebSocket."""

    exchange: ExchangeId
    normalize_open_interest: OpenInterestParser | None = None
    """None: the venue streams open interest; venues that poll it define the method."""

    def __init__(self, catalog: InstrumentCatalog) -> None:
        self._catalog = catalog

    def normalize_rest_snapshot(
        self, payload: JsonObject, native_symbol: str, receive_ts: int
    ) -> list[InstrumentEvent]:
        raise FrameRejected(
            "unsupported", f"{self.exchange.value} books start from a WebSocket snapshot, not REST"
        )


class AdapterDefaults:
    """Protocol facts most venues share; an adapter overrides what its venue does differently.

    The optional hooks of ``VenueAdapter`` have their "nothing to do" answer here, so the
    connector reads them directly instead of looking them up with ``getattr``.
    """

    ws_url: str
    ping_interval_s: float | None = None
    """None: protocol-level WebSocket pings suffice (override with the venue's application ping)."""
    stale_after_s: float = 30.0
    decode_frame: Callable[[str], Any] | None = None
    """None: frames are JSON; a venue with its own text framing defines the method."""
    polled_channels: frozenset[Channel] = frozenset()
    """Channels served over REST only, polled with ``open_interest_request`` (Binance: open
    interest; KuCoin: funding too); empty when the venue streams them all."""

    def subscribe_frames(self, channels: frozenset[Channel], native_symbols: list[str]) -> list[str]:
        raise NotImplementedError

    def symbol_frames(self, channels: frozenset[Channel], native_symbols: list[str]) -> list[str]:
        """The subscriptions of one connection's symbols (all of them, unless the venue has
        venue-wide ones, which ``venue_wide_frames`` gives and only one connection sends)."""
        return self.subscribe_frames(channels, native_symbols)

    def venue_wide_frames(self, channels: frozenset[Channel], native_symbols: list[str]) -> list[str]:
        """Subscriptions that cover every symbol of the venue (Phemex's 24 h tickers); [] here."""
        return []

    def control_reply(self, frame: str) -> str | None:
        """The answer a received text frame needs at once (Engine.IO ping ``2`` -> ``3``); None here."""
        return None

    def handshake_reply(self, frame: str) -> str | None:
        """The prefix of the reply to await after sending ``frame`` before the next one; None here."""
        return None

    def open_interest_request(self, native_symbol: str) -> RestRequest | None:
        """The REST poll of ``polled_channels`` for one symbol; None when nothing is polled."""
        return None

    def connect_request(self) -> RestRequest | None:
        """The REST call that hands out the WebSocket URL (a token), for venues that need one."""
        return None

    def ws_url_from(self, payload: JsonObject | None = None) -> str:
        """The URL to connect to, given the ``connect_request`` response."""
        return self.ws_url

    def ping_frame(self) -> str | None:
        return None

    def book_snapshot_request(self, native_symbol: str) -> RestRequest | None:
        """None: the venue's book channel opens with a full snapshot, no REST bootstrap needed."""
        return None

    def book_resubscribe_frames(self, native_symbol: str) -> list[str]:
        """[]: the venue has no per-symbol way to get a book snapshot again on the stream (its
        books restart from REST, or every message is a full book)."""
        return []


def resubscribe_pair(request: dict[str, Any], op_key: str, ops: tuple[str, str]) -> list[str]:
    """``request`` sent twice, as ``ops[0]`` (unsubscribe) then ``ops[1]`` (subscribe) in ``op_key``:
    the way venues with a snapshot-on-subscribe book channel send one symbol's snapshot again."""
    return [orjson.dumps({**request, op_key: op}).decode() for op in ops]
