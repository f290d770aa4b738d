"""The topic catalog: every topic perpwatch publishes, with its contract.

This table is the public API for third-party consumers. A breaking change to a payload means a
new topic version (``.v2``) registered beside the old one, never an edit in place.
"""

from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter

from schemas.alert import AlertNotification, AlertRuleChange
from schemas.analytics import FlowEvent, PairStats, Spike
from schemas.arbitrage import ArbOpportunity, ArbSpread
from schemas.book import BookDepth, BookTop
from schemas.dead_letter import DeadLetter
from schemas.liquidity import LiquidityAnomaly, LiquidityMetrics
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
from schemas.venue import VenueCommand, VenueDepth, VenueMarketData, VenueOrderOrSymbolEvent, VenueTrade

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

    @property
    def keyed_by_instrument(self) -> bool:
        """Whether a record's key must be its payload's ``exchange:symbol`` (the runtime checks it)."""
        return self.key == _INSTRUMENT_KEY

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
        consumers=("liquidity", "alert", "arbitrage", "analytics"),
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
        consumers=("liquidity", "alert", "analytics"),
        retention_ms=30 * DAY_MS,
        description="Open interest in base units and quote notional.",
    ),
    TopicContract(
        name="md.liquidations.v1",
        payload=TypeAdapter(Liquidation),
        schema_title="Liquidation",
        key=_INSTRUMENT_KEY,
        producer="ingest",
        consumers=("alert", "liquidity", "analytics"),
        retention_ms=30 * DAY_MS,
        description="Forced liquidation orders as reported by the venue.",
    ),
    TopicContract(
        name="md.candles.v1",
        payload=TypeAdapter(Candle),
        schema_title="Candle",
        key=_INSTRUMENT_KEY,
        producer="analytics",
        consumers=("alert", "third parties"),
        retention_ms=30 * DAY_MS,
        description=(
            "OHLCV bars (1 s, 1 m, 5 m) built from trades by exchange time, deduped by trade id, "
            "with the buy/sell volume split; emitted once, final, after the grace period."
        ),
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
        name="venue.depth.v1",
        payload=TypeAdapter(VenueDepth),
        schema_title="VenueDepth",
        key=_VENUE_KEY,
        producer="matching (transactional: read with isolation.level=read_committed)",
        consumers=("venue gateway", "third parties"),
        retention_ms=-1,
        cleanup_policy="compact",
        description=(
            "Every displayed level of a symbol's book at an l2_seq, published at start and then "
            "periodically; compacted by symbol, so the latest depth outlives venue.md.v1's retention "
            "and a reader applies venue.md.v1 updates after its l2_seq."
        ),
    ),
    TopicContract(
        name="analytics.spikes.v1",
        payload=TypeAdapter(Spike),
        schema_title="Spike",
        key=_INSTRUMENT_KEY,
        producer="analytics",
        consumers=("alert", "third parties"),
        retention_ms=30 * DAY_MS,
        description="Volume and open-interest spikes: z-score of a bar against its rolling baseline.",
    ),
    TopicContract(
        name="analytics.flow.v1",
        payload=TypeAdapter(FlowEvent),
        schema_title="FlowEvent",
        key=_INSTRUMENT_KEY,
        producer="analytics",
        consumers=("alert", "third parties"),
        retention_ms=30 * DAY_MS,
        description="Liquidation and large-trade windows per side, and single large trades.",
    ),
    TopicContract(
        name="analytics.pairs.v1",
        payload=TypeAdapter(PairStats),
        schema_title="PairStats",
        key="pair name (e.g. btc-eth)",
        producer="analytics",
        consumers=("alert", "third parties"),
        retention_ms=30 * DAY_MS,
        description="Pair analytics on aligned bar closes: hedge ratios, spread z-score, correlation, cointegration.",
    ),
    TopicContract(
        name="arb.opportunities.v1",
        payload=TypeAdapter(ArbOpportunity),
        schema_title="ArbOpportunity",
        key="symbol (e.g. BTC-USDT-PERP)",
        producer="arbitrage",
        consumers=("alert", "query api", "third parties"),
        retention_ms=30 * DAY_MS,
        description=(
            "Cross-venue opportunities per symbol and ordered venue pair (buy A, sell B): opened after "
            "persisting with every guard passed, updated with their peak, closed with duration and peak; "
            "kind spread (executable VWAP spread after taker fees) or funding (differential APR)."
        ),
    ),
    TopicContract(
        name="arb.spreads.v1",
        payload=TypeAdapter(ArbSpread),
        schema_title="ArbSpread",
        key="symbol (e.g. BTC-USDT-PERP)",
        producer="arbitrage",
        consumers=("query api", "dashboards"),
        retention_ms=7 * DAY_MS,
        description=(
            "Sampled spreads per symbol and ordered venue pair at a fixed event-time cadence: gross, "
            "executable per notional, funding per leg and differential, and the guard that would block."
        ),
    ),
    TopicContract(
        name="alert.rules.v1",
        payload=TypeAdapter(AlertRuleChange),
        schema_title="AlertRuleChange",
        key="rule id (e.g. wide-spread)",
        producer="alert rules API",
        consumers=("alert",),
        retention_ms=-1,
        cleanup_policy="compact",
        description=(
            "The alert rule set, one change per record (rule null: deleted); compacted, so reading it to "
            "the end gives the current rules. The alert service reads it at start and follows it live."
        ),
    ),
    TopicContract(
        name="alerts.v1",
        payload=TypeAdapter(AlertNotification),
        schema_title="AlertNotification",
        key="alert fingerprint (16 hex digits)",
        producer="alert",
        consumers=("alert webhook delivery", "query api", "third parties"),
        retention_ms=90 * DAY_MS,
        description=(
            "Alert notifications: firing (first and reminders) and resolved, with an idempotency key, "
            "labels, value, starts/ends; suppressed ones (inhibited, snoozed) say why and are not delivered."
        ),
    ),
    TopicContract(
        name="liquidity.metrics.v1",
        payload=TypeAdapter(LiquidityMetrics),
        schema_title="LiquidityMetrics",
        key=_INSTRUMENT_KEY,
        producer="liquidity",
        consumers=("alert", "grafana", "third parties"),
        retention_ms=7 * DAY_MS,
        description=(
            "Sampled book liquidity (default every second of exchange time): spread, mid, micro-price, "
            "depth within 10/25/50/100 bps, imbalance, slippage, update rate, taker flow, and the crunch "
            "rule's baselines and z-scores."
        ),
    ),
    TopicContract(
        name="liquidity.anomalies.v1",
        payload=TypeAdapter(LiquidityAnomaly),
        schema_title="LiquidityAnomaly",
        key=_INSTRUMENT_KEY,
        producer="liquidity",
        consumers=("alert", "grafana", "third parties"),
        retention_ms=30 * DAY_MS,
        description=(
            "Liquidity crunches started and ended (spread up and depth near the mid down, sustained), "
            "with severity, duration and the samples that met the rule."
        ),
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
