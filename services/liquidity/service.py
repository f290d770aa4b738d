"""The liquidity service's shell: ``book.l2.v1`` + ``md.trades.v1`` in; metrics and crunches out.

The pure core (``core.engine.LiquidityEngine``) samples each book on an exchange-time cadence,
judges each sample with the crunch rule and adds the taker flow; this shell turns its outputs
into ``liquidity.metrics.v1`` + ``liquidity_metrics`` rows and ``liquidity.anomalies.v1`` +
``liquidity_anomalies`` rows, and keeps the Prometheus gauges.

Restart and rebalance: the detector's baselines are the last ``window`` samples of each book. On
assignment the shell rewinds each input partition by ``PERPWATCH_LIQUIDITY_REPLAY_BOOK_RECORDS``
(``..._REPLAY_TRADE_RECORDS`` for trades) and replays up to the committed offsets silently, so
the state at the first live record is that of a service that never stopped (exactly so when the
rewind reaches the start of the history, or past ``window`` samples of every book with no crunch
ongoing at the rewind point). Kafka replays the two topics in its own interleaving, so what to
publish is decided from the data, not from the batch: an anomaly is published when the book record
that declared it is live; a sample unless the committed records already published it (see
``_SilentMarks``), and samples finalized while their partition still replays wait until it has
caught up. Nothing is lost and nothing is published twice (``tests/liquidity/test_service.py``).
"""

import logging
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Literal

import orjson
from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.book import BookDepth, BookStatus
from schemas.common import ExchangeId, InstrumentProvenance, Side
from schemas.liquidity import (
    CrunchEvidence,
    CrunchPhase,
    CrunchRule,
    CrunchSeverity,
    DepthBand,
    LiquidityAnomaly,
    LiquidityMetrics,
)
from schemas.market_data import Trade
from services.liquidity.core.detector import CrunchEnded, CrunchStarted, DetectorConfig, Verdict
from services.liquidity.core.engine import (
    NS_PER_S,
    Anomaly,
    BookId,
    EngineConfig,
    LiquidityEngine,
    MetricSample,
    OutOfOrderBook,
)
from services.liquidity.core.metrics import DEPTH_BANDS_BPS
from services.liquidity.decode import decode_book_depth, decode_trade
from services.liquidity.metrics import LiquidityGauges
from services.runtime.service import Output, RejectedInput
from services.runtime.settings import Settings
from services.runtime.sink import Table, ns_to_datetime

log = logging.getLogger(__name__)

LISTED = InstrumentProvenance.LISTED

BOOK_TOPIC = "book.l2.v1"
TRADE_TOPIC = "md.trades.v1"
METRICS_TOPIC = "liquidity.metrics.v1"
ANOMALIES_TOPIC = "liquidity.anomalies.v1"

_BAND_COLUMNS = tuple(
    f"{side}_{what}_{bps}bps"
    for bps in DEPTH_BANDS_BPS
    for what in ("depth", "notional")
    for side in ("bid", "ask")
)
LIQUIDITY_METRICS = Table(
    "liquidity_metrics",
    (
        "ts",
        "exchange",
        "symbol",
        "book_seq",
        "venue_seq",
        "best_bid",
        "best_ask",
        "mid",
        "microprice",
        "spread_bps",
        *_BAND_COLUMNS,
        "bid_reach_bps",
        "ask_reach_bps",
        "imbalance",
        "slippage_notional",
        "buy_slippage_bps",
        "sell_slippage_bps",
        "book_updates_per_s",
        "trade_count",
        "taker_buy_base",
        "taker_sell_base",
        "trade_flow_imbalance",
        "spread_z",
        "depth_z",
        "cusum",
        "breach",
        "crunch_active",
        "receive_ts",
    ),
)
LIQUIDITY_ANOMALIES = Table(
    "liquidity_anomalies",
    (
        "ts",
        "exchange",
        "symbol",
        "phase",
        "crunch_id",
        "started_ts",
        "ended_ts",
        "duration_s",
        "severity",
        "severity_score",
        "peak_spread_z",
        "peak_depth_z",
        "samples",
        "k",
        "band_bps",
        "sustain",
        "end_after",
        "evidence",
        "receive_ts",
    ),
)


class LiquiditySettings(BaseSettings):
    """``PERPWATCH_LIQUIDITY_*``: sampling, metric windows and the crunch rule."""

    model_config = SettingsConfigDict(env_prefix="PERPWATCH_LIQUIDITY_", extra="ignore", frozen=True)

    cadence_ms: int = Field(
        default=1000, gt=0, description="Sample every book once per this much exchange time."
    )
    every_change: bool = Field(default=False, description="Also sample every book.l2.v1 message.")
    imbalance_levels: int = Field(default=5, gt=0, description="Levels per side in the book imbalance.")
    slippage_notional: Decimal = Field(
        default=Decimal(100_000), gt=0, description="Market order walked, quote."
    )
    trade_window_s: float = Field(default=10.0, gt=0, description="Window of the taker flow.")
    rate_window_s: float = Field(default=10.0, gt=0, description="Window of the book update rate.")
    trade_grace_ms: int = Field(
        default=2000, ge=0, description="How long a sample waits for the trade stream to pass it (book time)."
    )
    k: float = Field(default=3.0, gt=0, description="z-score threshold of the crunch rule.")
    band_bps: int = Field(default=10, description="X: depth band the rule watches (10, 25, 50 or 100).")
    sustain: int = Field(default=3, gt=0, description="N: consecutive breaching samples to start a crunch.")
    end_after: int = Field(default=5, gt=0, description="M: consecutive samples inside the bounds to end it.")
    baseline: Literal["median", "ewma"] = Field(default="median", description="Rolling median/MAD or EWMA.")
    window: int = Field(default=300, gt=0, description="Samples in the median/MAD window.")
    ewma_span: int = Field(default=120, gt=0, description="Span of the EWMA baseline, samples.")
    warmup: int = Field(default=60, gt=0, description="Samples before anything can fire.")
    spread_floor_rel: float = Field(
        default=0.5, ge=0, description="Spread scale floor, fraction of baseline."
    )
    log_depth_floor: float = Field(default=0.1, gt=0, description="Log-depth scale floor.")
    depth_test: Literal["zscore", "cusum"] = Field(
        default="zscore",
        description="Depth half of the rule: zscore (depth_z < -k) or cusum (CUSUM of -depth_z above the threshold).",
    )
    cusum_drift: float = Field(default=0.5, ge=0, description="CUSUM reference value, sigmas.")
    cusum_threshold: float = Field(default=5.0, gt=0, description="CUSUM decision interval, sigmas.")
    replay_book_records: int = Field(
        default=30_000, ge=0, description="book.l2.v1 records per partition replayed to rebuild state."
    )
    replay_trade_records: int = Field(
        default=30_000, ge=0, description="md.trades.v1 records per partition replayed to rebuild state."
    )

    @field_validator("band_bps")
    @classmethod
    def _a_sampled_band(cls, value: int) -> int:
        if value not in DEPTH_BANDS_BPS:
            raise ValueError(f"band_bps must be one of {DEPTH_BANDS_BPS}")
        return value

    def engine_config(self) -> EngineConfig:
        return EngineConfig(
            cadence_ns=self.cadence_ms * 1_000_000,
            every_change=self.every_change,
            imbalance_levels=self.imbalance_levels,
            slippage_notional=self.slippage_notional,
            flow_window_ns=round(self.trade_window_s * NS_PER_S),
            rate_window_ns=round(self.rate_window_s * NS_PER_S),
            trade_grace_ns=self.trade_grace_ms * 1_000_000,
            detector=DetectorConfig(
                k=self.k,
                band_bps=self.band_bps,
                sustain=self.sustain,
                end_after=self.end_after,
                method=self.baseline,
                window=self.window,
                ewma_span=self.ewma_span,
                warmup=min(self.warmup, self.window) if self.baseline == "median" else self.warmup,
                spread_floor_rel=self.spread_floor_rel,
                log_depth_floor=self.log_depth_floor,
                depth_test=self.depth_test,
                cusum_drift=self.cusum_drift,
                cusum_threshold=self.cusum_threshold,
            ),
        )


class LiquidityProcessor:
    service = "liquidity"
    inputs: tuple[str, ...] = (BOOK_TOPIC, TRADE_TOPIC)
    row_origin = {LIQUIDITY_METRICS.name: BOOK_TOPIC, LIQUIDITY_ANOMALIES.name: BOOK_TOPIC}
    co_partitioned = True
    """An instrument's book and trades are joined per key: replicas split by partition number."""

    def __init__(self, settings: LiquiditySettings | None = None) -> None:
        self.decoders = {BOOK_TOPIC: decode_book_depth, TRADE_TOPIC: decode_trade}
        self.settings = settings or LiquiditySettings()
        self.config = self.settings.engine_config()
        self.engine = LiquidityEngine(self.config)
        self.rule = _rule(self.config.detector)
        self._book_ids: dict[tuple[ExchangeId, str], BookId] = {}
        self._partition_of: dict[str, int] = {}
        self._gauges: dict[str, LiquidityGauges] = {}
        # Offsets below these were committed before a restart: replayed silently to rebuild state.
        self._live_from: dict[TopicPartition, int] = {}
        self._replaying: set[TopicPartition] = set()
        self._silent: dict[str, _SilentMarks] = {}
        self._held: list[MetricSample] = []
        self._provenance: dict[str, InstrumentProvenance] = {}

    # --- partition lifecycle -------------------------------------------------------------

    def assigned(self, partitions: set[TopicPartition]) -> None:
        self._drop(partitions)

    def revoked(self, partitions: set[TopicPartition]) -> None:
        self._drop(partitions)

    def _drop(self, partitions: set[TopicPartition]) -> None:
        # A book's book.l2.v1 and md.trades.v1 share the key, hence the partition number.
        numbers = {tp.partition for tp in partitions}
        dropped = {key for key, number in self._partition_of.items() if number in numbers}
        self.engine.drop(dropped)
        for key in dropped:
            self._partition_of.pop(key, None)
            self._silent.pop(key, None)
            gauges = self._gauges.pop(key, None)
            if gauges is not None:
                gauges.crunch_active.set(0)
        self._held = [s for s in self._held if s.book.key not in dropped]
        for tp in partitions:
            self._live_from.pop(tp, None)
            self._replaying.discard(tp)

    async def restore(
        self, partitions: set[TopicPartition], committed: dict[TopicPartition, int | None], settings: Settings
    ) -> dict[TopicPartition, int]:
        """Rewind each partition so the baselines are rebuilt before the first live record."""
        positions: dict[TopicPartition, int] = {}
        for tp in partitions:
            resume = committed.get(tp)
            self._live_from[tp] = resume or 0
            if not resume:
                continue
            self._replaying.add(tp)
            is_book = tp.topic.endswith(BOOK_TOPIC)
            rewind = self.settings.replay_book_records if is_book else self.settings.replay_trade_records
            positions[tp] = max(0, resume - rewind)
        if positions:
            log.info("replaying to rebuild liquidity baselines", extra={"partitions": len(positions)})
        return positions

    # --- records -------------------------------------------------------------------------

    def handle(self, record: ConsumerRecord[bytes, bytes], event: Any, out: Output) -> None:
        if not isinstance(event, BookDepth | Trade):
            raise RejectedInput("unexpected_event", f"{type(event).__name__} is not an input of liquidity")
        tp = TopicPartition(record.topic, record.partition)
        live_from = self._live_from.get(tp, 0)
        live = record.offset >= live_from
        if tp in self._replaying and record.offset >= live_from - 1:
            self._replaying.discard(tp)  # its last committed record: caught up
        book = self._book_id(event)
        self._partition_of[book.key] = record.partition
        outputs: Sequence[MetricSample | Anomaly]
        if isinstance(event, BookDepth):
            # Samples and crunches say where the instrument's metadata came from, as the book does.
            # (read defensively: in-process producers may build events without the newer field)
            self._provenance[book.key] = getattr(event, "instrument_provenance", LISTED)
            if not live:
                self._marks(book.key).book(event.book_seq, event.exchange_ts)
            try:
                outputs = self.engine.on_book(
                    book,
                    ts=event.exchange_ts,
                    receive_ts=event.receive_ts,
                    book_seq=event.book_seq,
                    venue_seq=event.venue_seq,
                    valid=event.status is BookStatus.VALID,
                    bids=event.bids,
                    asks=event.asks,
                )
            except OutOfOrderBook as exc:
                raise RejectedInput("out_of_order", str(exc)) from None
        else:
            if not live:
                self._marks(book.key).trade(event.exchange_ts)
            outputs = self.engine.on_trade(
                book,
                ts=event.exchange_ts,
                buy=event.side is Side.BUY,
                base=event.quantity,
                notional=event.notional,
            )
        for output in outputs:
            if isinstance(output, Anomaly):
                if live:  # declared by this very book record: published before iff it was committed
                    self._emit_anomaly(output, out)
            else:
                self._sample(output, out)

    def end_batch(self, out: Output) -> None:
        """Samples whose trade grace ran out in this batch (order inside the batch does not matter).

        A book whose partition is still replaying gets no grace: its trades may simply not have
        been replayed yet. Samples held back during a replay are decided once it has caught up.
        """
        replaying = self._replaying_numbers()
        skip = {key for key, number in self._partition_of.items() if number in replaying}
        for sample in self.engine.flush_due(skip=skip):
            self._sample(sample, out)
        if self._held:
            held, self._held = self._held, []
            for sample in held:
                self._sample(sample, out)  # held again while its partition still replays

    def finish(self, out: Output) -> None:
        """End of a finite input (``perpwatch analyze``): every pending sample, with the flow known."""
        for output in self.engine.finish():
            if isinstance(output, MetricSample):
                self._sample(output, out)

    def _replaying_numbers(self) -> set[int]:
        return {tp.partition for tp in self._replaying}

    def _marks(self, key: str) -> "_SilentMarks":
        marks = self._silent.get(key)
        if marks is None:
            marks = self._silent[key] = _SilentMarks()
        return marks

    def _sample(self, sample: MetricSample, out: Output) -> None:
        """Publish a finalized sample unless the committed run before a restart already did.

        Before the restart, a sample was published in a committed batch exactly when its book
        record was committed and, within the committed records, either a later trade of its book
        (the flow was known) or a book ``trade_grace`` past it (the grace ran out at that batch's
        end). While its partition replays, those committed records are not all seen yet: hold it.
        """
        if self._partition_of.get(sample.book.key) in self._replaying_numbers():
            self._held.append(sample)
            return
        marks = self._silent.get(sample.book.key)
        if marks is not None and marks.published_before(sample, self.config.trade_grace_ns):
            return
        self._emit_sample(sample, out)

    def _book_id(self, event: BookDepth | Trade) -> BookId:
        ident = (event.exchange, event.symbol)
        book = self._book_ids.get(ident)
        if book is None:
            book = self._book_ids[ident] = BookId(event.exchange, event.symbol, event.native_symbol)
        return book

    # --- outputs -------------------------------------------------------------------------

    def _emit_sample(self, sample: MetricSample, out: Output) -> None:
        event = metrics_event(sample, self.config, self._provenance.get(sample.book.key, LISTED))
        out.publish(METRICS_TOPIC, event)
        out.add_row(LIQUIDITY_METRICS, metrics_row(event))
        self._gauges_of(sample.book).observe(sample)

    def _emit_anomaly(self, anomaly: Anomaly, out: Output) -> None:
        event = anomaly_event(anomaly, self.rule, self._provenance.get(anomaly.book.key, LISTED))
        out.publish(ANOMALIES_TOPIC, event)
        out.add_row(LIQUIDITY_ANOMALIES, anomaly_row(event))
        self._gauges_of(anomaly.book).crunch(event)

    def _gauges_of(self, book: BookId) -> LiquidityGauges:
        gauges = self._gauges.get(book.key)
        if gauges is None:
            gauges = self._gauges[book.key] = LiquidityGauges.of(book.exchange.value, book.symbol)
        return gauges


class _SilentMarks:
    """How far one book's committed records (replayed silently after a restart) reached."""

    __slots__ = ("book_seq", "book_ts", "trade_ts")

    def __init__(self) -> None:
        self.book_seq = -1
        self.book_ts = -1
        self.trade_ts = -1

    def book(self, book_seq: int, ts: int) -> None:
        self.book_seq = max(self.book_seq, book_seq)
        self.book_ts = max(self.book_ts, ts)

    def trade(self, ts: int) -> None:
        self.trade_ts = max(self.trade_ts, ts)

    def published_before(self, sample: MetricSample, grace_ns: int) -> bool:
        return sample.book_seq <= self.book_seq and (
            self.trade_ts > sample.ts or self.book_ts >= sample.ts + grace_ns
        )


def build_processor() -> LiquidityProcessor:
    return LiquidityProcessor(LiquiditySettings())


# --- contracts and rows --------------------------------------------------------------------------


def _rule(config: DetectorConfig) -> CrunchRule:
    return CrunchRule(
        k=config.k,
        band_bps=config.band_bps,
        sustain=config.sustain,
        end_after=config.end_after,
        baseline=config.method,
        window=config.window if config.method == "median" else config.ewma_span,
        warmup=config.warmup,
        depth_test=config.depth_test,
    )


def metrics_event(
    sample: MetricSample, config: EngineConfig, provenance: InstrumentProvenance = LISTED
) -> LiquidityMetrics:
    m, flow, verdict, book = sample.metrics, sample.flow, sample.verdict, sample.book
    spread_base, depth_base = verdict.spread_baseline, verdict.depth_baseline
    return LiquidityMetrics(
        exchange=book.exchange,
        symbol=book.symbol,
        native_symbol=book.native_symbol,
        instrument_provenance=provenance,
        exchange_ts=sample.ts,
        receive_ts=sample.receive_ts,
        book_seq=sample.book_seq,
        venue_seq=sample.venue_seq,
        best_bid=m.best_bid,
        best_ask=m.best_ask,
        mid=m.mid,
        microprice=m.microprice,
        spread_bps=m.spread_bps,
        depth=[
            DepthBand(
                bps=b.bps,
                bid_base=b.bid_base,
                ask_base=b.ask_base,
                bid_notional=b.bid_notional,
                ask_notional=b.ask_notional,
            )
            for b in m.bands
        ],
        bid_reach_bps=m.bid_reach_bps,
        ask_reach_bps=m.ask_reach_bps,
        bid_levels=m.bid_levels,
        ask_levels=m.ask_levels,
        imbalance=m.imbalance,
        imbalance_levels=config.imbalance_levels,
        slippage_notional=config.slippage_notional,
        buy_slippage_bps=m.buy_slippage_bps,
        sell_slippage_bps=m.sell_slippage_bps,
        book_updates_per_s=sample.updates_per_s,
        trade_window_s=config.flow_window_ns / NS_PER_S,
        trade_count=flow.trades,
        taker_buy_base=flow.buy_base,
        taker_sell_base=flow.sell_base,
        taker_buy_notional=flow.buy_notional,
        taker_sell_notional=flow.sell_notional,
        trade_flow_base=flow.net_base,
        trade_flow_imbalance=flow.imbalance,
        depth_band_bps=config.detector.band_bps,
        spread_baseline_bps=spread_base.center if spread_base else None,
        spread_scale_bps=spread_base.scale if spread_base else None,
        spread_z=verdict.spread_z,
        log_depth=verdict.log_depth,
        log_depth_baseline=depth_base.center if depth_base else None,
        log_depth_scale=depth_base.scale if depth_base else None,
        depth_z=verdict.depth_z,
        cusum=verdict.cusum,
        breach=verdict.breach,
        crunch_active=sample.crunch_active,
    )


def _evidence(verdict: Verdict) -> CrunchEvidence:
    spread_base, depth_base = verdict.spread_baseline, verdict.depth_baseline
    return CrunchEvidence(
        ts=verdict.ts,
        spread_bps=verdict.spread_bps,
        spread_baseline_bps=spread_base.center if spread_base else None,
        spread_scale_bps=spread_base.scale if spread_base else None,
        spread_z=verdict.spread_z,
        depth_notional=verdict.depth_notional,
        log_depth=verdict.log_depth,
        log_depth_baseline=depth_base.center if depth_base else None,
        log_depth_scale=depth_base.scale if depth_base else None,
        depth_z=verdict.depth_z,
        cusum=verdict.cusum,
        imbalance=verdict.imbalance,
        spread_breach=verdict.spread_breach,
        depth_breach=verdict.depth_breach,
        score=verdict.score,
    )


def anomaly_event(
    anomaly: Anomaly, rule: CrunchRule, provenance: InstrumentProvenance = LISTED
) -> LiquidityAnomaly:
    book, crunch = anomaly.book, anomaly.event
    common = {
        "exchange": book.exchange,
        "symbol": book.symbol,
        "native_symbol": book.native_symbol,
        "instrument_provenance": provenance,
        "exchange_ts": crunch.ts,
        "receive_ts": anomaly.receive_ts,
        "crunch_id": f"{book.key}:{crunch.started_ts}",
        "started_ts": crunch.started_ts,
        "rule": rule,
        "evidence": [_evidence(v) for v in crunch.evidence],
    }
    if isinstance(crunch, CrunchStarted):
        spread_zs = [v.spread_z for v in crunch.evidence if v.spread_z is not None]
        depth_zs = [v.depth_z for v in crunch.evidence if v.depth_z is not None]
        return LiquidityAnomaly(
            **common,
            phase=CrunchPhase.STARTED,
            ended_ts=None,
            duration_s=None,
            severity=CrunchSeverity(crunch.severity.value),
            severity_score=crunch.score,
            peak_spread_z=max(spread_zs) if spread_zs else None,
            peak_depth_z=min(depth_zs) if depth_zs else None,
            samples=len(crunch.evidence),
        )
    assert isinstance(crunch, CrunchEnded)
    return LiquidityAnomaly(
        **common,
        phase=CrunchPhase.ENDED,
        ended_ts=crunch.ended_ts,
        duration_s=crunch.duration_ns / NS_PER_S,
        severity=CrunchSeverity(crunch.severity.value),
        severity_score=crunch.peak_score,
        peak_spread_z=crunch.peak_spread_z,
        peak_depth_z=crunch.peak_depth_z,
        samples=crunch.samples,
    )


def metrics_row(event: LiquidityMetrics) -> tuple[Any, ...]:
    bands: list[Decimal] = []
    for band in event.depth:
        bands.extend((band.bid_base, band.ask_base, band.bid_notional, band.ask_notional))
    return (
        ns_to_datetime(event.exchange_ts),
        event.exchange.value,
        event.symbol,
        event.book_seq,
        event.venue_seq,
        event.best_bid,
        event.best_ask,
        event.mid,
        event.microprice,
        event.spread_bps,
        *bands,
        event.bid_reach_bps,
        event.ask_reach_bps,
        event.imbalance,
        event.slippage_notional,
        event.buy_slippage_bps,
        event.sell_slippage_bps,
        event.book_updates_per_s,
        event.trade_count,
        event.taker_buy_base,
        event.taker_sell_base,
        event.trade_flow_imbalance,
        event.spread_z,
        event.depth_z,
        event.cusum,
        event.breach,
        event.crunch_active,
        ns_to_datetime(event.receive_ts),
    )


def anomaly_row(event: LiquidityAnomaly) -> tuple[Any, ...]:
    evidence = orjson.dumps([e.model_dump(mode="json") for e in event.evidence]).decode()
    return (
        ns_to_datetime(event.exchange_ts),
        event.exchange.value,
        event.symbol,
        event.phase.value,
        event.crunch_id,
        ns_to_datetime(event.started_ts),
        ns_to_datetime(event.ended_ts) if event.ended_ts is not None else None,
        event.duration_s,
        event.severity.value,
        event.severity_score,
        event.peak_spread_z,
        event.peak_depth_z,
        event.samples,
        event.rule.k,
        event.rule.band_bps,
        event.rule.sustain,
        event.rule.end_after,
        evidence,
        ns_to_datetime(event.receive_ts),
    )
