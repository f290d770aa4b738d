"""Which ``md.*`` topic each normalized event type is published on."""

from schemas.common import InstrumentEvent
from schemas.market_data import (
    BestBidOffer,
    BookDelta,
    BookSnapshot,
    Candle,
    Funding,
    Liquidation,
    OpenInterest,
    Trade,
)

TOPIC_BY_EVENT: dict[type[InstrumentEvent], str] = {
    Trade: "md.trades.v1",
    BookSnapshot: "md.book.v1",
    BookDelta: "md.book.v1",
    BestBidOffer: "md.bbo.v1",
    Funding: "md.funding.v1",
    OpenInterest: "md.open_interest.v1",
    Liquidation: "md.liquidations.v1",
    Candle: "md.candles.v1",
}


def topic_for(event: InstrumentEvent) -> str:
    return TOPIC_BY_EVENT[type(event)]
