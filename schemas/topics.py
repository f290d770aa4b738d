"""The topic catalog: every topic perpwatch publishes, with its contract.

This table is the public API for third-party consumers. A breaking change to a payload means a
new topic version (``.v2``) registered beside the old one, never an edit in place.
"""

from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter

from schemas.book import BookDepth, BookTop
from schemas.dead_letter import DeadLetter
from schemas.market_data import (
    BestBidOffer,
    BookEvent,
    Candle,
    ConnectorStatus,
    Funding,
    Liquidation,
    OpenInterest,
    Trade,
)
from schemas.venue import VenueCommand, VenueMarketData, VenueOrderOrSymbolEvent, VenueTrade

DAY_MS = 24 * 60 * 60 * 1000


@dataclass(frozen=True)
class TopicContract:
    name: str
    payload: TypeAdapter[Any]
    schema_title: str
    key: str
    producer: str
    consumers: tuple[str, ...]
    retention_ms: int
    description: str
    cleanup_policy: str = "delete"

    def retention_text(self) -> str:
        if self.retention_ms < 0:
            return "forever"
        days = self.retention_ms / DAY_MS
        return f"{days:g} days" if days >= 1 else f"{self.retention_ms / 3_600_000:g} hours"


_INSTRUMENT_KEY = "exchange:symbol (e.g. binance_usdm:BTC-USDT-PERP)"
_VENUE_KEY = "venue symbol (e.g. BTC-USDT)"

TOPICS: tuple[TopicContract, ...] = (
    TopicContract(
        name="md.trades.v1",
        payload=TypeAdapter(Trade),
        schema_title="Trade",
        key=_INSTRUMENT_KEY,
        producer="ingest, replay",
        consumers=("liquidity", "alert", "arbitrage"),
        retention_ms=7 * DAY_MS,
        description="Executions on the venue, taker side, base quantity and quote notional.",
    ),
    TopicContract(
        name="md.book.v1",
        payload=TypeAdapter(BookEvent),
        schema_title="BookEvent",
        key=_INSTRUMENT_KEY,
        producer="ingest, replay, book-builder (resync snapshots)",
        consumers=("book-builder",),
        retention_ms=2 * DAY_MS,
        description="L2 snapshots and deltas with the venue's sequence ids, in venue order.",
    ),
    TopicContract(
        name="md.bbo.v1",
        payload=TypeAdapter(BestBidOffer),
        schema_title="BestBidOffer",
        key=_INSTRUMENT_KEY,
        producer="ingest, replay",
        consumers=("arbitrage", "book-builder (cross-check)"),
        retention_ms=2 * DAY_MS,
        description="The venue's own best bid/offer stream.",
    ),
    TopicContract(
        name="md.funding.v1",
        payload=TypeAdapter(Funding),
        schema_title="Funding",
        key=_INSTRUMENT_KEY,
        producer="ingest, replay",
        consumers=("arbitrage", "alert"),
        retention_ms=30 * DAY_MS,
        description="Funding rate, interval and next funding time, with mark/index when sent.",
    ),
    TopicContract(
        name="md.open_interest.v1",
        payload=TypeAdapter(OpenInterest),
        schema_title="OpenInterest",
        key=_INSTRUMENT_KEY,
        producer="ingest",
        consumers=("liquidity", "alert"),
        retention_ms=30 * DAY_MS,
        description="Open interest in base units and quote notional.",
    ),
    TopicContract(
        name="md.liquidations.v1",
        payload=TypeAdapter(Liquidation),
        schema_title="Liquidation",
        key=_INSTRUMENT_KEY,
        producer="ingest",
        consumers=("alert", "liquidity"),
        retention_ms=30 * DAY_MS,
        description="Forced liquidation orders as reported by the venue.",
    ),
    TopicContract(
        name="md.candles.v1",
        payload=TypeAdapter(Candle),
        schema_title="Candle",
        key=_INSTRUMENT_KEY,
        producer="liquidity",
        consumers=("alert", "third parties"),
        retention_ms=30 * DAY_MS,
        description="OHLCV bars built from trades.",
    ),
    TopicContract(
        name="md.status.v1",
        payload=TypeAdapter(ConnectorStatus),
        schema_title="ConnectorStatus",
        key="exchange (e.g. binance_usdm)",
        producer="ingest",
        consumers=("alert", "operators"),
        retention_ms=7 * DAY_MS,
        description="Connector lifecycle: connected, disconnected, stale, resubscribed, rate limited.",
    ),
    TopicContract(
        name="book.bbo.v1",
        payload=TypeAdapter(BookTop),
        schema_title="BookTop",
        key=_INSTRUMENT_KEY,
        producer="book-builder",
        consumers=("arbitrage", "liquidity", "third parties"),
        retention_ms=2 * DAY_MS,
        description="Top of a validated book, on every top-of-book change; never crossed.",
    ),
    TopicContract(
        name="book.l2.v1",
        payload=TypeAdapter(BookDepth),
        schema_title="BookDepth",
        key=_INSTRUMENT_KEY,
        producer="book-builder",
        consumers=("liquidity", "alert", "third parties"),
        retention_ms=1 * DAY_MS,
        description=(
            "Top N levels of a validated book, throttled per book by event time, with book and venue "
            "sequence numbers; an invalid status at once when the book breaks."
        ),
    ),
    TopicContract(
        name="venue.commands.v1",
        payload=TypeAdapter(VenueCommand),
        schema_title="VenueCommand",
        key=_VENUE_KEY,
        producer="venue gateway, simulations",
        consumers=("matching",),
        retention_ms=7 * DAY_MS,
        description=(
            "Order entry for perpwatch's own venue: add_symbol, submit, cancel, amend. One partition "
            "per symbol (the key), one matching engine per partition."
        ),
    ),
    TopicContract(
        name="venue.events.v1",
        payload=TypeAdapter(VenueOrderOrSymbolEvent),
        schema_title="VenueOrderOrSymbolEvent",
        key=_VENUE_KEY,
        producer="matching (transactional: read with isolation.level=read_committed)",
        consumers=("venue-recorder", "venue gateway"),
        retention_ms=7 * DAY_MS,
        description="Order lifecycle events and rejections with reasons; symbol listings.",
    ),
    TopicContract(
        name="venue.trades.v1",
        payload=TypeAdapter(VenueTrade),
        schema_title="VenueTrade",
        key=_VENUE_KEY,
        producer="matching (transactional: read with isolation.level=read_committed)",
        consumers=("venue-recorder", "venue gateway"),
        retention_ms=7 * DAY_MS,
        description="Fills at the maker's price with both sides' client ids, accounts and fees.",
    ),
    TopicContract(
        name="venue.md.v1",
        payload=TypeAdapter(VenueMarketData),
        schema_title="VenueMarketData",
        key=_VENUE_KEY,
        producer="matching (transactional: read with isolation.level=read_committed)",
        consumers=("venue gateway", "third parties"),
        retention_ms=2 * DAY_MS,
        description="Coalesced L2 level updates (gapless l2_seq per symbol) and top-of-book changes.",
    ),
    TopicContract(
        name="dlq.v1",
        payload=TypeAdapter(DeadLetter),
        schema_title="DeadLetter",
        key="source topic or feed",
        producer="every service",
        consumers=("operators",),
        retention_ms=30 * DAY_MS,
        description="Rejected input with its raw payload, reason and source offset.",
    ),
)

TOPICS_BY_NAME: dict[str, TopicContract] = {topic.name: topic for topic in TOPICS}


def topic(name: str) -> TopicContract:
    """The contract of a topic, with a clear error for an unknown name."""
    try:
        return TOPICS_BY_NAME[name]
    except KeyError:
        known = ", ".join(sorted(TOPICS_BY_NAME))
        raise KeyError(f"unknown topic {name!r}; known topics: {known}") from None
