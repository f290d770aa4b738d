"""<Venue> perpetuals: public WebSocket and instruments.

Docs (checked <date>): <the venue's WebSocket, channel and instruments pages, one URL each>.

<Frame shapes, units (contracts or base coin), times, and the book sequence fields: what the
parser maps into ``BookSequence(first, last, prev)``.>
"""

from typing import Any

from schemas.common import ExchangeId, InstrumentEvent
from services.ingest.normalizer import JsonObject
from services.ingest.venue import Channel, RateLimit, RestRequest
from services.ingest.venue_defaults import AdapterDefaults, NormalizerDefaults
from services.instruments.catalog import Instrument, InstrumentCatalog
from services.venues.parts import placeholder


class TemplateNormalizer(NormalizerDefaults):
    """Parsers: frame in, ``md.*`` events out; anything malformed raises ``FrameRejected``.
    Shared helpers are in ``services/ingest/parsing.py`` (``base_levels``, ``event_ids``, ...)."""

    exchange: ExchangeId = placeholder("TemplateNormalizer.exchange")

    def normalize(self, frame: Any, receive_ts: int) -> list[InstrumentEvent]:
        placeholder("TemplateNormalizer.normalize")


class TemplateAdapter(AdapterDefaults):
    """Protocol facts; ``AdapterDefaults`` answers the optional hooks (override what differs)."""

    exchange: ExchangeId = placeholder("TemplateAdapter.exchange")
    ws_url = "wss://<venue>/ws"
    rest_url = "https://<venue>"
    capabilities: frozenset[Channel] = frozenset()
    max_subscriptions_per_connection = 0
    rest_rate_limit = RateLimit(capacity=1, per_second=1)

    def __init__(self, catalog: InstrumentCatalog) -> None:
        self.normalizer = TemplateNormalizer(catalog)

    def subscribe_frames(self, channels: frozenset[Channel], native_symbols: list[str]) -> list[str]:
        placeholder("TemplateAdapter.subscribe_frames")

    def is_control_frame(self, frame: Any) -> bool:
        placeholder("TemplateAdapter.is_control_frame")

    def instruments_request(self) -> RestRequest:
        placeholder("TemplateAdapter.instruments_request")

    def parse_instruments(self, payload: JsonObject) -> list[Instrument]:
        placeholder("TemplateAdapter.parse_instruments")
