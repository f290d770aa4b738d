"""Which venue topic each kind of engine event goes to (the registry holds the contracts)."""

from typing import Final

COMMANDS_TOPIC: Final = "venue.commands.v1"
EVENTS_TOPIC: Final = "venue.events.v1"
TRADES_TOPIC: Final = "venue.trades.v1"
MARKET_DATA_TOPIC: Final = "venue.md.v1"
DEPTH_TOPIC: Final = "venue.depth.v1"
OUTPUT_TOPICS: Final = (EVENTS_TOPIC, TRADES_TOPIC, MARKET_DATA_TOPIC, DEPTH_TOPIC)

_TOPIC_OF_KIND: Final = {
    "order": EVENTS_TOPIC,
    "symbol": EVENTS_TOPIC,
    "trade": TRADES_TOPIC,
    "l2": MARKET_DATA_TOPIC,
    "bbo": MARKET_DATA_TOPIC,
    "depth": DEPTH_TOPIC,
}


def output_topic(kind: str) -> str:
    """The logical output topic of an event ``kind`` (order, symbol, trade, l2, bbo, depth)."""
    return _TOPIC_OF_KIND[kind]
