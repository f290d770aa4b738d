"""What most venue modules would otherwise write alike: subclass these and write only what differs.

The module name starts with ``_`` and defines no ``ADAPTER``, so venue discovery skips it.
"""

from schemas.common import ExchangeId, InstrumentEvent
from services.ingest.normalizer import FrameRejected, JsonObject
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

    def __init__(self, catalog: InstrumentCatalog) -> None:
        self._catalog = catalog

    def normalize_rest_snapshot(
        self, payload: JsonObject, native_symbol: str, receive_ts: int
    ) -> list[InstrumentEvent]:
        raise FrameRejected(
            "unsupported", f"{self.exchange.value} books start from a WebSocket snapshot, not REST"
        )


class AdapterDefaults:
    """Protocol facts most venues share; an adapter overrides what its venue does differently."""

    ws_url: str
    ping_interval_s: float | None = None
    """None: protocol-level WebSocket pings suffice (override with the venue's application ping)."""
    stale_after_s: float = 30.0

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
