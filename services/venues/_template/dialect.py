"""<Venue>'s public WebSocket, as the simulator speaks it (recipe: ``services/simulator/__init__.py``)."""

from schemas.common import ExchangeId
from services.simulator.dialect import BaseDialect, HttpReply, HttpRequest, OutFrame, Session
from services.simulator.model import MarketEvent
from services.venues.parts import placeholder


class TemplateDialect(BaseDialect):
    exchange: ExchangeId = placeholder("TemplateDialect.exchange")

    def on_message(self, session: Session, text: str, now_ns: int) -> list[OutFrame]:
        placeholder("TemplateDialect.on_message")

    def render(self, event: MarketEvent) -> list[OutFrame]:
        placeholder("TemplateDialect.render")

    def rest(self, request: HttpRequest, now_ns: int) -> HttpReply:
        placeholder("TemplateDialect.rest")
