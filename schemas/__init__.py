"""perpwatch topic contracts: pydantic models, their JSON Schemas, examples and the catalog.

Third parties may depend on these models (``pip install perpwatch``) or on the JSON Schemas
committed in ``schemas/json/`` without any Python at all.
"""

from schemas.book import BookDepth, BookStatus, BookTop
from schemas.common import ExchangeId, Side
from schemas.dead_letter import DeadLetter
from schemas.market_data import (
    BestBidOffer,
    BookDelta,
    BookEvent,
    BookSequence,
    BookSnapshot,
    Candle,
    ConnectorState,
    ConnectorStatus,
    Funding,
    Liquidation,
    OpenInterest,
    PriceLevel,
    Trade,
)
from schemas.topics import TOPICS, TopicContract, topic
from schemas.venue import (
    AddSymbolCommand,
    AmendCommand,
    CancelCommand,
    SubmitCommand,
    VenueCommand,
    VenueLevel,
    VenueOrderEvent,
    VenueSymbolEvent,
    VenueTop,
    VenueTrade,
)

__all__ = [
    "TOPICS",
    "AddSymbolCommand",
    "AmendCommand",
    "BestBidOffer",
    "BookDelta",
    "BookDepth",
    "BookEvent",
    "BookSequence",
    "BookSnapshot",
    "BookStatus",
    "BookTop",
    "CancelCommand",
    "Candle",
    "ConnectorState",
    "ConnectorStatus",
    "DeadLetter",
    "ExchangeId",
    "Funding",
    "Liquidation",
    "OpenInterest",
    "PriceLevel",
    "Side",
    "SubmitCommand",
    "TopicContract",
    "Trade",
    "VenueCommand",
    "VenueLevel",
    "VenueOrderEvent",
    "VenueSymbolEvent",
    "VenueTop",
    "VenueTrade",
    "topic",
]
