"""<Venue>'s history endpoints for the backfill: klines, funding, open interest.

Docs (checked <date>): <one URL per endpoint, with its page limit and the order of the answer>.
What the venue does not offer goes to ``not_offered`` with the reason.
"""

from collections.abc import Mapping
from typing import Any, ClassVar

from schemas.common import ExchangeId, InstrumentEvent
from services.backfill.core.plan import What, Window
from services.backfill.history import Endpoint, VenueHistory
from services.ingest.venue import RestRequest
from services.instruments.catalog import Instrument
from services.venues.parts import placeholder


class TemplateHistory(VenueHistory):
    exchange: ClassVar[ExchangeId] = placeholder("TemplateHistory.exchange")
    endpoints: ClassVar[Mapping[What, Endpoint]] = {}
    kline_intervals: ClassVar[Mapping[int, str]] = {}

    def request(self, what: What, instrument: Instrument, page: Window, interval_s: int) -> RestRequest:
        placeholder("TemplateHistory.request")

    def parse(
        self, what: What, instrument: Instrument, payload: Any, interval_s: int, receive_ns: int
    ) -> list[InstrumentEvent]:
        placeholder("TemplateHistory.parse")
