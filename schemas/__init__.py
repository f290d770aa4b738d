"""perpwatch topic contracts: pydantic models, their JSON Schemas, examples and the catalog.

Third parties may depend on these models (``pip install perpwatch``) or on the JSON Schemas
committed in ``schemas/json/`` without any Python at all.
"""

from schemas.alert import AlertNotification, AlertRule, AlertRuleChange, AlertRuleFile, AlertStatus
from schemas.analytics import (
    FlowEvent,
    FlowKind,
    FlowWindow,
    LargeTrade,
    PairLeg,
    PairStats,
    Spike,
    SpikeMetric,
)
from schemas.arbitrage import ArbOpportunity, ArbSpread
from schemas.book import BookDepth, BookStatus, BookTop
from schemas.common import ExchangeId, Side
from schemas.dead_letter import DeadLetter
from schemas.liquidity import LiquidityAnomaly, LiquidityMetrics
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
    VenueDepth,
    VenueLevel,
    VenueOrderEvent,
    VenueSymbolEvent,
    VenueTop,
    VenueTrade,
)

__all__ = [
    "TOPICS",
    "AddSymbolCommand",
    "AlertNotification",
    "AlertRule",
    "AlertRuleChange",
    "AlertRuleFile",
    "AlertStatus",
    "AmendCommand",
    "ArbOpportunity",
    "ArbSpread",
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
    "FlowEvent",
    "FlowKind",
    "FlowWindow",
    "Funding",
    "LargeTrade",
    "Liquidation",
    "LiquidityAnomaly",
    "LiquidityMetrics",
    "OpenInterest",
    "PairLeg",
    "PairStats",
    "PriceLevel",
    "Side",
    "Spike",
    "SpikeMetric",
    "SubmitCommand",
    "TopicContract",
    "Trade",
    "VenueCommand",
    "VenueDepth",
    "VenueLevel",
    "VenueOrderEvent",
    "VenueSymbolEvent",
    "VenueTop",
    "VenueTrade",
    "topic",
]
