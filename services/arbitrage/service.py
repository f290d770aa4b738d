"""The arbitrage service's shell: ``book.l2.v1``, ``book.bbo.v1``, ``md.funding.v1`` in;
``arb.opportunities.v1``, ``arb.spreads.v1`` and their rows out.

All the logic is in ``core/`` (``ArbitrageEngine``); this shell decodes inputs into floats, turns
the core's outputs into contracts and rows, keeps the metrics, and reads settings:

- ``PERPWATCH_ARB_*`` (``ArbitrageSettings``): notionals, guards, lifecycle, sampling, opt-ins;
- ``PERPWATCH_ARB_FEES``: a JSON file or string overriding ``fees.json`` (per-venue taker fees).

One instance must see every venue of a symbol, but inputs are keyed ``exchange:symbol`` and so
spread over partitions: run ONE replica (the consumer group then assigns it every partition).
After a restart the open opportunities and cooldowns are read back from ``arb.opportunities.v1``
and the books rebuilt from the last input records (see ``restore``), so an opportunity that was
open is updated and closed under its own id instead of opening again.
"""

import json
import logging
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.arbitrage import ArbOpportunity, OpportunityEventType
from schemas.book import BookDepth, BookStatus, BookTop
from schemas.market_data import Funding
from services.arbitrage import metrics
from services.arbitrage.core.engine import (
    ArbConfig,
    ArbitrageEngine,
    Emitted,
    Kind,
    OpportunityEvent,
)
from services.arbitrage.core.fees import FeeDocumentError, FeeTable, fee_table, parse_fee_document
from services.arbitrage.core.funding import FundingQuote
from services.arbitrage.core.lifecycle import OpenOpportunity
from services.arbitrage.decode import DepthInput, decode_depth, float_levels
from services.arbitrage.events import (
    ARB_OPPORTUNITIES,
    ARB_SPREADS,
    opportunity_event,
    opportunity_row,
    spread_event,
    spread_row,
)
from services.runtime.service import Output, RejectedInput
from services.runtime.settings import Settings
from services.runtime.state_topic import read_to_end
from services.runtime.topics import partitions_of

log = logging.getLogger(__name__)

DEPTH_TOPIC = "book.l2.v1"
TOP_TOPIC = "book.bbo.v1"
FUNDING_TOPIC = "md.funding.v1"
OPPORTUNITIES_TOPIC = "arb.opportunities.v1"
SPREADS_TOPIC = "arb.spreads.v1"
MS = 1_000_000


class ArbitrageSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PERPWATCH_ARB_", extra="ignore", frozen=True)

    fees: str = Field(
        default="",
        description='Taker fee overrides: a JSON file or string, {"binance_usdm": {"taker_bps": 5.0}, ...}.',
    )
    notionals: str = Field(
        default="10000,100000,1000000",
        description="Quote notionals of the executable spreads, comma separated.",
    )
    max_age_ms: int = Field(
        default=2000, gt=0, description="Guard: a leg older than this (event time) blocks."
    )
    max_skew_ms: int = Field(default=500, ge=0, description="Guard: legs further apart than this block.")
    sanity_cap_bps: float = Field(
        default=500.0, gt=0, description="Guard: a gross spread above this is a mismatch."
    )
    open_bps: float = Field(default=1.0, description="Executable spread at the smallest notional to open.")
    close_bps: float = Field(default=0.0, description="An open spread opportunity closes below this.")
    persist_evaluations: int = Field(default=5, ge=1, description="Qualifying evaluations before opening...")
    persist_ms: int = Field(default=1000, ge=0, description="...or this long qualifying, whichever first.")
    cooldown_ms: int = Field(
        default=30_000, ge=0, description="After a close, the pair may not reopen for this long."
    )
    update_interval_ms: int = Field(
        default=1000, ge=0, description="At most one `updated` per opportunity per interval."
    )
    sample_interval_ms: int = Field(
        default=10_000, gt=0, description="arb.spreads.v1 cadence per pair, event time."
    )
    cross_quote: bool = Field(
        default=False,
        description="Compare USD, USDT and USDC contracts of one base with each other (opt-in).",
    )
    funding_open_apr_bps: float = Field(default=1000.0, description="Differential APR (bps a year) to open.")
    funding_close_apr_bps: float = Field(default=500.0, description="Differential APR below which it closes.")
    funding_max_age_ms: int = Field(
        default=300_000, gt=0, description="Guard: funding older than this blocks."
    )
    restore: bool = Field(
        default=True,
        description="At start, rebuild lifecycles from arb.opportunities.v1 and books from the inputs.",
    )
    restore_records: int = Field(
        default=20_000,
        ge=0,
        description="Input records per partition replayed silently at start to rebuild the books.",
    )


def default_fees() -> dict[str, float]:
    text = resources.files("services.arbitrage").joinpath("fees.json").read_text()
    return parse_fee_document(json.loads(text))


def load_fees(override: str) -> FeeTable:
    """The documented defaults, with ``override`` (a JSON file path or a JSON string) on top."""
    if not override.strip():
        return fee_table(default_fees())
    text = override if override.lstrip().startswith("{") else Path(override).read_text()
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FeeDocumentError(f"PERPWATCH_ARB_FEES is not valid JSON: {exc}") from None
    return fee_table(default_fees(), parse_fee_document(document))


def parse_notionals(text: str) -> tuple[float, ...]:
    values = tuple(sorted(float(part) for part in text.split(",") if part.strip()))
    if not values or any(v <= 0 for v in values):
        raise ValueError(f"notionals must be positive numbers, got {text!r}")
    return values


def config_from(settings: ArbitrageSettings) -> ArbConfig:
    return ArbConfig(
        fees=load_fees(settings.fees),
        notionals=parse_notionals(settings.notionals),
        max_age_ns=settings.max_age_ms * MS,
        max_skew_ns=settings.max_skew_ms * MS,
        sanity_cap_bps=settings.sanity_cap_bps,
        open_bps=settings.open_bps,
        close_bps=settings.close_bps,
        persist_evaluations=settings.persist_evaluations,
        persist_ns=settings.persist_ms * MS,
        cooldown_ns=settings.cooldown_ms * MS,
        update_interval_ns=settings.update_interval_ms * MS,
        sample_interval_ns=settings.sample_interval_ms * MS,
        cross_quote=settings.cross_quote,
        funding_open_apr_bps=settings.funding_open_apr_bps,
        funding_close_apr_bps=settings.funding_close_apr_bps,
        funding_max_age_ns=settings.funding_max_age_ms * MS,
    )


class ArbitrageProcessor:
    service = "arbitrage"
    inputs: tuple[str, ...] = (DEPTH_TOPIC, TOP_TOPIC, FUNDING_TOPIC)
    row_origin = {
        ARB_OPPORTUNITIES.name: f"{DEPTH_TOPIC}+{TOP_TOPIC}+{FUNDING_TOPIC}",
        ARB_SPREADS.name: f"{DEPTH_TOPIC}+{TOP_TOPIC}",
    }

    def __init__(self, config: ArbConfig, *, restore: bool = True, restore_records: int = 20_000) -> None:
        self.decoders = {DEPTH_TOPIC: decode_depth}
        self.config = config
        self.engine = ArbitrageEngine(config)
        self._restore_enabled = restore
        self._restore_records = restore_records
        self._lifecycles_restored = False
        self._live_from: dict[TopicPartition, int] = {}
        self._reported = _Reported()

    # --- partition lifecycle -------------------------------------------------------------
    # State is per symbol across partitions, so it does not follow partitions: a leg whose
    # partition went elsewhere simply stops updating and its pairs fail the staleness guard.

    def assigned(self, partitions: set[TopicPartition]) -> None:
        pass

    def revoked(self, partitions: set[TopicPartition]) -> None:
        for tp in partitions:
            self._live_from.pop(tp, None)

    async def restore(
        self, partitions: set[TopicPartition], committed: dict[TopicPartition, int | None], settings: Settings
    ) -> dict[TopicPartition, int]:
        """Rebuild the state the previous process had at the committed offsets.

        Lifecycles (open opportunities, cooldowns) come from ``arb.opportunities.v1`` itself, read
        committed: its events were published in the same transaction as those offsets. Books come
        from replaying up to ``restore_records`` input records per partition before the committed
        offset with nothing emitted (``engine.warming``); the returned positions start that replay.
        """
        if not self._restore_enabled:
            return {}
        positions: dict[TopicPartition, int] = {}
        for tp in partitions:
            resume = committed.get(tp)
            if resume:
                self._live_from[tp] = resume
                positions[tp] = max(0, resume - self._restore_records)
        if not self._lifecycles_restored:
            self._lifecycles_restored = True
            name = settings.topic_name(OPPORTUNITIES_TOPIC)
            records = await read_to_end(
                settings, [TopicPartition(name, p) for p in await partitions_of(settings, name)]
            )
            self.install([ArbOpportunity.model_validate_json(r.value) for r in records if r.value])
        return positions

    def install(self, events: Iterable[ArbOpportunity]) -> None:
        """Open opportunities and cooldowns from the published lifecycle events, any order."""
        latest: dict[str, ArbOpportunity] = {}
        for event in events:
            known = latest.get(event.opportunity_id)
            if known is None or event.seq > known.seq:
                latest[event.opportunity_id] = event
        cooldown_ns = self.config.cooldown_ns
        restored = 0
        for event in sorted(latest.values(), key=lambda e: (e.ts, e.opportunity_id)):
            kind = Kind(event.kind.value)
            buy, sell = (
                f"{event.buy.exchange.value}:{event.buy.symbol}",
                f"{event.sell.exchange.value}:{event.sell.symbol}",
            )
            if event.event is OpportunityEventType.CLOSED:
                self.engine.restore(kind, buy, sell, None, event.ts + cooldown_ns)
                continue
            opened = OpenOpportunity(
                opportunity_id=event.opportunity_id,
                first_seen_ts=event.first_seen_ts,
                opened_ts=event.opened_ts,
                peak=float(event.peak_bps),
                peak_ts=event.peak_ts,
                seq=event.seq,
                last_emitted_ts=event.ts,
                value=float(event.value_bps),
            )
            self.engine.restore(kind, buy, sell, opened, -1)
            restored += 1
        log.info("open opportunities restored", extra={"open": restored, "known": len(latest)})

    # --- records -------------------------------------------------------------------------

    def handle(self, record: ConsumerRecord[bytes, bytes], event: Any, out: Output) -> None:
        engine = self.engine
        if self._live_from:
            live_from = self._live_from.get(TopicPartition(record.topic, record.partition), 0)
            engine.warming = record.offset < live_from
        kind = type(event)
        if kind is DepthInput:
            if event.valid:
                emitted = engine.on_depth(
                    event.exchange.value, event.symbol, event.exchange_ts, event.bids, event.asks
                )
            else:
                emitted = engine.on_invalid(
                    event.exchange.value, event.symbol, event.exchange_ts, event.reason
                )
        elif kind is BookDepth:
            exchange = event.exchange.value
            if event.status is BookStatus.VALID:
                bids = float_levels(event.bids, "bids", descending=True)
                asks = float_levels(event.asks, "asks", descending=False)
                emitted = engine.on_depth(exchange, event.symbol, event.exchange_ts, bids, asks)
            else:
                emitted = engine.on_invalid(exchange, event.symbol, event.exchange_ts, event.reason)
        elif kind is BookTop:
            emitted = engine.on_top(
                event.exchange.value,
                event.symbol,
                event.exchange_ts,
                float(event.bid_price),
                float(event.bid_quantity),
                float(event.ask_price),
                float(event.ask_quantity),
            )
        elif kind is Funding:
            quote = FundingQuote(
                ts=event.exchange_ts,
                rate=float(event.rate),
                interval_s=event.interval_s,
                next_funding_ts=event.next_funding_ts,
                mark=None if event.mark_price is None else float(event.mark_price),
                index=None if event.index_price is None else float(event.index_price),
            )
            emitted = engine.on_funding(event.exchange.value, event.symbol, quote)
        else:
            raise RejectedInput(
                "unexpected_event", f"{kind.__name__} is not an input of the arbitrage service"
            )
        if emitted:
            self.publish(emitted, out)
        engine.warming = False

    def publish(self, emitted: list[Emitted], out: Output) -> None:
        for item in emitted:
            if type(item) is OpportunityEvent:
                opportunity = opportunity_event(item)
                out.publish(OPPORTUNITIES_TOPIC, opportunity)
                out.add_row(ARB_OPPORTUNITIES, opportunity_row(opportunity))
            else:
                assert not isinstance(item, OpportunityEvent)
                spread = spread_event(item)
                out.publish(SPREADS_TOPIC, spread)
                out.add_row(ARB_SPREADS, spread_row(spread))

    def end_batch(self, out: Output) -> None:
        """Bring the Prometheus metrics up to the core's counters."""
        self._reported.sync(self.engine)

    def summary(self) -> dict[str, Any]:
        """The offline summary line: evaluations, opened, closed, rejections by guard."""
        counters = self.engine.counters
        return {
            "evaluations": counters.evaluations,
            "funding_evaluations": counters.funding_evaluations,
            "opened": counters.opened,
            "updated": counters.updated,
            "closed": counters.closed,
            "open": {kind.value: n for kind, n in self.engine.open_count.items()},
            "spread_samples": counters.samples,
            "rejections": dict(sorted(counters.rejections.items())),
        }


class _Reported:
    """The counters already added to Prometheus, so each batch adds only its difference."""

    def __init__(self) -> None:
        self.evaluations = 0
        self.funding_evaluations = 0
        self.events = {"opened": 0, "updated": 0, "closed": 0}
        self.samples = 0
        self.rejections: dict[str, int] = {}

    def sync(self, engine: ArbitrageEngine) -> None:
        counters = engine.counters
        metrics.EVALUATIONS.labels("spread").inc(counters.evaluations - self.evaluations)
        metrics.EVALUATIONS.labels("funding").inc(counters.funding_evaluations - self.funding_evaluations)
        self.evaluations, self.funding_evaluations = counters.evaluations, counters.funding_evaluations
        for name, now in (
            ("opened", counters.opened),
            ("updated", counters.updated),
            ("closed", counters.closed),
        ):
            metrics.OPPORTUNITY_EVENTS.labels(name).inc(now - self.events[name])
            self.events[name] = now
        metrics.SPREAD_SAMPLES.inc(counters.samples - self.samples)
        self.samples = counters.samples
        for guard, count in counters.rejections.items():
            metrics.GUARD_REJECTIONS.labels(guard).inc(count - self.rejections.get(guard, 0))
            self.rejections[guard] = count
        for kind, count in engine.open_count.items():
            metrics.OPEN_OPPORTUNITIES.labels(kind.value).set(count)


def build_processor(settings: ArbitrageSettings | None = None) -> ArbitrageProcessor:
    """The processor of ``perpwatch run arbitrage`` and ``perpwatch analyze arbitrage``."""
    settings = settings or ArbitrageSettings()
    return ArbitrageProcessor(
        config_from(settings), restore=settings.restore, restore_records=settings.restore_records
    )
