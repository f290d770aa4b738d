"""The analytics service's shell: md.trades / md.open_interest / md.liquidations in; candles,
spikes, flow and pair statistics out, on their topics and in their tables.

Everything computed lives in ``core`` (``AnalyticsEngine``); this shell only routes records to it,
maps its events to rows, dead-letters what it rejects (late trades, late OI, late liquidations),
and makes a restart lose nothing:

- Restart state is a checkpoint per input partition, written as an ``analytics_checkpoints`` row
  in the same batch as the outputs it precedes (every ``checkpoint_every`` records, or
  ``checkpoint_interval_s`` of event time for quiet partitions). On assignment
  the latest checkpoint *below the committed offset* is loaded and the partition is replayed from
  just after it up to the committed offset with every output suppressed, so the service goes on
  with exactly the state it had when that offset was committed. Without a checkpoint the
  partition is replayed from its start.
- Pair trackers take bars of two instruments, which may sit on different partitions: they are
  not checkpointed and warm up again after a restart (their first windows are shorter).

Nothing here reads a clock: outputs are a function of the input records alone, with one opt-in
exception: the start-up backfill (``PERPWATCH_ANALYTICS_BACKFILL_*``, on when symbols or pairs are
configured) fetches the venues' recent history in the background (``services/backfill``) and puts
it under the volume and OI-change spike baselines, so spikes can fire in the first hour instead of
after 100 bars.
"""

import asyncio
import json
import logging
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import psycopg
from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord
from prometheus_client import Counter
from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.analytics import FlowWindow, LargeTrade, PairStats, Spike
from schemas.common import ExchangeId
from schemas.market_data import Candle
from services.analytics.core.engine import (
    AnalyticsEngine,
    EngineConfig,
    PairConfig,
    Rejected,
)
from services.runtime.service import Output, RejectedInput
from services.runtime.settings import Settings
from services.runtime.sink import Row, Table, ns_to_datetime

log = logging.getLogger(__name__)

TRADES = "md.trades.v1"
OPEN_INTEREST = "md.open_interest.v1"
LIQUIDATIONS = "md.liquidations.v1"
INPUTS = (TRADES, OPEN_INTEREST, LIQUIDATIONS)

CANDLES = Table(
    "candles",
    (
        "ts",
        "exchange",
        "symbol",
        "interval_s",
        "open",
        "high",
        "low",
        "close",
        "volume",
        "notional",
        "trade_count",
        "buy_volume",
        "sell_volume",
        "source",
    ),
)
SPIKES = Table(
    "analytics_spikes",
    (
        "ts",
        "exchange",
        "symbol",
        "timeframe_s",
        "metric",
        "value",
        "baseline_mean",
        "baseline_std",
        "z",
        "threshold",
        "window_bars",
        "receive_ts",
    ),
)
FLOW_WINDOWS = Table(
    "analytics_flow_windows",
    (
        "ts",
        "exchange",
        "symbol",
        "kind",
        "side",
        "window_s",
        "count",
        "quantity",
        "notional",
        "notional_usd",
        "receive_ts",
    ),
)
LARGE_TRADES = Table(
    "analytics_large_trades",
    (
        "ts",
        "exchange",
        "symbol",
        "trade_id",
        "side",
        "price",
        "quantity",
        "notional_usd",
        "threshold_usd",
        "receive_ts",
    ),
)
PAIRS = Table(
    "analytics_pairs",
    (
        "ts",
        "pair",
        "interval_s",
        "exchange_a",
        "symbol_a",
        "exchange_b",
        "symbol_b",
        "window_bars",
        "observations",
        "close_a",
        "close_b",
        "ols_beta",
        "ols_alpha",
        "kalman_beta",
        "spread",
        "spread_z",
        "correlation",
        "coint_pvalue",
        "half_life_bars",
        "null_reasons",
    ),
)
CHECKPOINTS = Table("analytics_checkpoints", ("ts", "topic", "partition", "end_offset", "state"))

TRADE_OUTCOMES = Counter(
    "perpwatch_analytics_inputs_total",
    "Inputs of the analytics service by topic and outcome (used, late, replayed).",
    ["topic", "outcome"],
)


class PairSetting(BaseModel):
    """One configured pair; legs as ``exchange:SYMBOL``."""

    name: str = Field(min_length=1)
    a: str = Field(description="Leg a, e.g. binance_usdm:BTC-USDT-PERP")
    b: str = Field(description="Leg b, e.g. binance_usdm:ETH-USDT-PERP")
    interval_s: int = 60
    window: int = Field(default=100, ge=3)
    min_observations: int = Field(default=30, ge=3)

    def config(self) -> PairConfig:
        def leg(text: str) -> tuple[ExchangeId, str]:
            exchange, _, symbol = text.partition(":")
            return ExchangeId(exchange), symbol

        return PairConfig(
            self.name, leg(self.a), leg(self.b), self.interval_s, self.window, self.min_observations
        )


class AnalyticsSettings(BaseSettings):
    """``PERPWATCH_ANALYTICS_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="PERPWATCH_ANALYTICS_", extra="ignore", frozen=True)

    bar_intervals_s: str = Field(default="1,60,300", description="Bar lengths in seconds, comma separated.")
    grace_ms: int = Field(
        default=2000, ge=0, description="How long (event time) a bar waits for late trades."
    )
    dedupe_window_s: int = Field(
        default=60, ge=0, description="How long (event time) trade ids are kept to drop resent trades."
    )
    max_gap_bars: int = Field(
        default=3600, ge=0, description="Longest run of empty bars filled; longer is skipped."
    )
    spike_thresholds: str = Field(
        default="300:3.0,900:2.5,3600:2.0", description="timeframe_s:z threshold, comma separated."
    )
    spike_window: int = Field(default=100, ge=2, description="Bars in a spike baseline.")
    spike_min_baseline: int = Field(default=20, ge=2, description="Bars needed before a spike can fire.")
    flow_windows_s: str = Field(
        default="60,300", description="Liquidation and large-trade window lengths, s."
    )
    large_trade_usd: Decimal = Field(
        default=Decimal(100_000), gt=0, description="Default large-trade threshold."
    )
    large_trade_usd_by_symbol: str = Field(
        default="", description="Per-symbol thresholds: SYMBOL:USD, comma separated."
    )
    pairs: list[PairSetting] = Field(default_factory=list, description="Pairs, as a JSON list.")
    pair_coint: bool = Field(default=True, description="Compute the Engle-Granger p-value (statsmodels).")
    checkpoint_interval_s: int = Field(
        default=300, ge=1, description="Event time between checkpoints of a quiet input partition, s."
    )
    checkpoint_every: int = Field(
        default=5000, ge=1, description="Records per input partition between checkpoints."
    )
    backfill_hours: float = Field(
        default=72.0,
        ge=0,
        description="Venue history fetched at start for the backfill symbols, hours (0: off).",
    )
    backfill_symbols: str = Field(
        default="",
        description="exchange:SYMBOL to backfill at start, comma separated (default: the pairs' legs).",
    )
    backfill_rest_urls: str = Field(
        default="", description="exchange=URL REST base per venue for the backfill (default: the venue's)."
    )

    def backfill_targets(self) -> dict[ExchangeId, list[str]]:
        """What the start-up backfill fetches: the configured symbols, else every pair's legs."""
        from services.backfill.startup import parse_targets

        text = self.backfill_symbols or ",".join(f"{p.a},{p.b}" for p in self.pairs)
        return parse_targets(text)

    def engine_config(self) -> EngineConfig:
        def ints(text: str) -> tuple[int, ...]:
            return tuple(int(v) for v in text.split(",") if v.strip())

        def pairs_of(text: str) -> list[tuple[str, str]]:
            return [tuple(item.rsplit(":", 1)) for item in text.split(",") if item.strip()]  # type: ignore[misc]

        return EngineConfig(
            bar_intervals_s=ints(self.bar_intervals_s),
            grace_ms=self.grace_ms,
            max_gap_bars=self.max_gap_bars,
            dedupe_window_s=self.dedupe_window_s,
            spike_thresholds={int(t): float(z) for t, z in pairs_of(self.spike_thresholds)},
            spike_window=self.spike_window,
            spike_min_baseline=self.spike_min_baseline,
            flow_windows_s=ints(self.flow_windows_s),
            large_trade_usd=self.large_trade_usd,
            large_trade_usd_by_symbol={
                s.strip(): Decimal(v) for s, v in pairs_of(self.large_trade_usd_by_symbol)
            },
            pairs=tuple(p.config() for p in self.pairs),
            pair_coint=self.pair_coint,
        )


def _logical(topic: str) -> str:
    """The registry name of a (possibly namespaced) input topic."""
    for name in INPUTS:
        if topic.endswith(name):  # a namespace is a prefix
            return name
    raise RejectedInput("unknown_topic", f"analytics does not consume {topic}")


class _Source:
    """Per input partition: its registry topic name and metric children, looked up once."""

    def __init__(self, topic: str, partition: TopicPartition) -> None:
        self.topic = topic
        self.partition = partition
        self.used = TRADE_OUTCOMES.labels(topic, "used")
        self.late = TRADE_OUTCOMES.labels(topic, "late")
        self.replayed = TRADE_OUTCOMES.labels(topic, "replayed")


class AnalyticsProcessor:
    service = "analytics"
    inputs: tuple[str, ...] = INPUTS
    row_origin = {
        CANDLES.name: TRADES,
        SPIKES.name: f"{TRADES}, {OPEN_INTEREST}",
        FLOW_WINDOWS.name: f"{TRADES}, {LIQUIDATIONS}",
        LARGE_TRADES.name: TRADES,
        PAIRS.name: TRADES,
        CHECKPOINTS.name: ", ".join(INPUTS),
    }

    def __init__(
        self,
        config: EngineConfig | None = None,
        *,
        checkpoint_every: int = 5000,
        checkpoint_interval_s: int = 300,
        backfill: "StartupBackfill | None" = None,
    ) -> None:
        self.config = config or EngineConfig()
        self.engine = AnalyticsEngine(self.config)
        self.checkpoint_every = checkpoint_every
        self.checkpoint_interval_ns = checkpoint_interval_s * 1_000_000_000
        self._checkpoint_ts: dict[TopicPartition, int] = {}  # event time of each partition's last one
        self._streams_of: dict[TopicPartition, set[tuple[str, str]]] = defaultdict(set)
        self._live_from: dict[TopicPartition, int] = {}
        self._last_offset: dict[TopicPartition, int] = {}
        self._last_ts: dict[TopicPartition, int] = {}
        self._since_checkpoint: dict[TopicPartition, int] = defaultdict(int)
        self._sources: dict[tuple[str, int], _Source] = {}
        self.backfill = backfill
        self._backfill_task: asyncio.Task[None] | None = None

    # --- partition lifecycle -------------------------------------------------------------

    def assigned(self, partitions: set[TopicPartition]) -> None:
        self._drop(partitions)

    def revoked(self, partitions: set[TopicPartition]) -> None:
        self._drop(partitions)

    def _drop(self, partitions: set[TopicPartition]) -> None:
        for tp in partitions:
            self.engine.drop(self._streams_of.pop(tp, set()))
            self._live_from.pop(tp, None)
            self._last_offset.pop(tp, None)
            self._last_ts.pop(tp, None)
            self._since_checkpoint.pop(tp, None)
            self._checkpoint_ts.pop(tp, None)

    async def restore(
        self, partitions: set[TopicPartition], committed: dict[TopicPartition, int | None], settings: Settings
    ) -> dict[TopicPartition, int]:
        """Load each partition's checkpoint below its committed offset; return where to replay from."""
        if self.backfill is not None and self._backfill_task is None:
            # Off the hot path: consumption starts now, history arrives when the venues answer.
            self._backfill_task = asyncio.create_task(
                self._startup_backfill(self.backfill, settings.database_url)
            )
        positions: dict[TopicPartition, int] = {}
        async with await psycopg.AsyncConnection.connect(settings.database_url, autocommit=True) as conn:
            for tp in sorted(partitions, key=lambda p: (p.topic, p.partition)):
                resume = committed.get(tp)
                if not resume:
                    continue  # nothing committed: the partition starts from scratch anyway
                self._live_from[tp] = resume
                row = await (
                    await conn.execute(
                        "SELECT end_offset, state FROM analytics_checkpoints "
                        "WHERE topic = %s AND partition = %s AND end_offset < %s "
                        "ORDER BY end_offset DESC LIMIT 1",
                        (_logical(tp.topic), tp.partition, resume),
                    )
                ).fetchone()
                if row is None:
                    positions[tp] = 0
                    continue
                end_offset, state = row
                self.restore_checkpoint(tp, state)
                positions[tp] = end_offset + 1
                await conn.execute(
                    "DELETE FROM analytics_checkpoints WHERE topic = %s AND partition = %s AND end_offset < %s",
                    (_logical(tp.topic), tp.partition, end_offset),
                )
        log.info(
            "analytics state restored",
            extra={"replay_from": {f"{tp.topic}:{tp.partition}": o for tp, o in positions.items()}},
        )
        return positions

    async def _startup_backfill(self, backfill: "StartupBackfill", database_url: str) -> None:
        """Venue history for the configured symbols into the tables, then under the spike baselines."""
        from services.backfill.startup import backfill_recent

        summaries = await backfill_recent(
            database_url, backfill.targets, backfill.hours, rest_urls=backfill.rest_urls
        )
        interval_s = min(self.config.bar_intervals_s, key=lambda i: (i < 60, i))  # klines start at 1 minute
        since = ns_to_datetime(summaries[0].start_ns) if summaries else None
        try:
            async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
                for summary in summaries:
                    for symbol in sorted({t.symbol for t in summary.tasks if t.what == "klines"}):
                        rows = await (
                            await conn.execute(
                                "SELECT ts, interval_s, volume FROM candles WHERE exchange = %s AND symbol = %s "
                                "AND interval_s = %s AND ts >= %s ORDER BY ts",
                                (summary.exchange, symbol, interval_s, since),
                            )
                        ).fetchall()
                        native = self._native_symbol(ExchangeId(summary.exchange), symbol)
                        bars = [
                            (int(ts.timestamp()) * 1_000_000_000, length, volume)
                            for ts, length, volume in rows
                        ]
                        added = self.engine.warm_volume_baselines(
                            ExchangeId(summary.exchange), symbol, native, bars
                        )
                        oi_rows = await (
                            await conn.execute(
                                "SELECT ts, open_interest FROM open_interest WHERE exchange = %s AND symbol = %s "
                                "AND ts >= %s ORDER BY ts",
                                (summary.exchange, symbol, since),
                            )
                        ).fetchall()
                        observations = [(int(ts.timestamp() * 1_000_000) * 1_000, oi) for ts, oi in oi_rows]
                        oi_added = self.engine.warm_open_interest_baselines(
                            ExchangeId(summary.exchange), symbol, native, observations
                        )
                        log.info(
                            "spike baselines warmed from history",
                            extra={
                                "exchange": summary.exchange,
                                "symbol": symbol,
                                "bars": len(bars),
                                "volume_added": added,
                                "open_interest_added": oi_added,
                            },
                        )
        except psycopg.Error as exc:
            log.warning("baseline warm-up skipped", extra={"error": repr(exc)})

    @staticmethod
    def _native_symbol(exchange: ExchangeId, symbol: str) -> str:
        from services.instruments.catalog import load_snapshot

        try:
            return load_snapshot().resolve(exchange, [symbol])[0].native_symbol
        except ValueError:
            return symbol

    async def close(self) -> None:
        if self._backfill_task is not None and not self._backfill_task.done():
            self._backfill_task.cancel()
            await asyncio.gather(self._backfill_task, return_exceptions=True)

    def restore_checkpoint(self, tp: TopicPartition, state: dict[str, Any]) -> None:
        self._streams_of[tp].update(self.engine.restore(state))

    # --- records -------------------------------------------------------------------------

    def handle(self, record: ConsumerRecord[bytes, bytes], event: Any, out: Output) -> None:
        source = self._sources.get((record.topic, record.partition))
        if source is None:
            source = self._sources[(record.topic, record.partition)] = _Source(
                _logical(record.topic), TopicPartition(record.topic, record.partition)
            )
        tp = source.partition
        instrument = event.key
        self._streams_of[tp].add((source.topic, instrument))
        live = record.offset >= self._live_from.get(tp, 0)
        self._last_offset[tp] = record.offset
        self._last_ts[tp] = event.exchange_ts
        try:
            emitted = self.engine.on_event(source.topic, event, instrument)
        except Rejected as exc:
            if live:
                source.late.inc()
                raise RejectedInput(exc.error_type, exc.reason) from None
            source.replayed.inc()
            return
        if not live:
            source.replayed.inc()
            return
        source.used.inc()
        self._since_checkpoint[tp] += 1
        for topic_name, output in emitted:
            out.publish(topic_name, output)
            table, row = output_row(output)
            out.add_row(table, row)

    def end_batch(self, out: Output) -> None:
        for tp, count in list(self._since_checkpoint.items()):
            last_ts = self._last_ts[tp]
            since = last_ts - self._checkpoint_ts.setdefault(tp, last_ts)
            if count == 0 or (count < self.checkpoint_every and since < self.checkpoint_interval_ns):
                continue
            state = self.engine.state_of(sorted(self._streams_of[tp]))
            out.add_row(
                CHECKPOINTS,
                (
                    ns_to_datetime(self._last_ts[tp]),
                    _logical(tp.topic),
                    tp.partition,
                    self._last_offset[tp],
                    json.dumps(state, separators=(",", ":")),
                ),
            )
            self._since_checkpoint[tp] = 0
            self._checkpoint_ts[tp] = last_ts


def output_row(event: BaseModel) -> tuple[Table, Row]:
    """The table and row of one output event (same values as the event, by construction)."""
    if isinstance(event, Candle):
        return CANDLES, (
            ns_to_datetime(event.exchange_ts),
            event.exchange.value,
            event.symbol,
            event.interval_s,
            event.open,
            event.high,
            event.low,
            event.close,
            event.volume,
            event.notional,
            event.trade_count,
            event.buy_volume,
            event.sell_volume,
            event.source,
        )
    if isinstance(event, Spike):
        return SPIKES, (
            ns_to_datetime(event.exchange_ts),
            event.exchange.value,
            event.symbol,
            event.timeframe_s,
            event.metric.value,
            event.value,
            event.baseline_mean,
            event.baseline_std,
            event.z,
            event.threshold,
            event.window,
            ns_to_datetime(event.receive_ts),
        )
    if isinstance(event, FlowWindow):
        return FLOW_WINDOWS, (
            ns_to_datetime(event.exchange_ts),
            event.exchange.value,
            event.symbol,
            event.kind.value,
            event.side.value,
            event.window_s,
            event.count,
            event.quantity,
            event.notional,
            event.notional_usd,
            ns_to_datetime(event.receive_ts),
        )
    if isinstance(event, LargeTrade):
        return LARGE_TRADES, (
            ns_to_datetime(event.exchange_ts),
            event.exchange.value,
            event.symbol,
            event.trade_id,
            event.side.value,
            event.price,
            event.quantity,
            event.notional_usd,
            event.threshold_usd,
            ns_to_datetime(event.receive_ts),
        )
    if isinstance(event, PairStats):
        return PAIRS, (
            ns_to_datetime(event.exchange_ts),
            event.pair,
            event.interval_s,
            event.leg_a.exchange.value,
            event.leg_a.symbol,
            event.leg_b.exchange.value,
            event.leg_b.symbol,
            event.window,
            event.observations,
            event.close_a,
            event.close_b,
            event.ols_beta,
            event.ols_alpha,
            event.kalman_beta,
            event.spread,
            event.spread_z,
            event.correlation,
            event.coint_pvalue,
            event.half_life_bars,
            json.dumps(event.null_reasons, sort_keys=True),
        )
    raise TypeError(f"analytics has no table for {type(event).__name__}")


@dataclass(frozen=True)
class StartupBackfill:
    """The bounded backfill the service runs at start (``PERPWATCH_ANALYTICS_BACKFILL_*``)."""

    targets: dict[ExchangeId, list[str]]
    hours: float
    rest_urls: dict[ExchangeId, str]


def build_processor() -> AnalyticsProcessor:
    """The processor as configured by ``PERPWATCH_ANALYTICS_*`` (see ``AnalyticsSettings``)."""
    settings = AnalyticsSettings()
    backfill = None
    targets = settings.backfill_targets()
    if settings.backfill_hours > 0 and targets:
        from services.backfill.startup import parse_urls

        backfill = StartupBackfill(targets, settings.backfill_hours, parse_urls(settings.backfill_rest_urls))
    return AnalyticsProcessor(
        settings.engine_config(),
        checkpoint_every=settings.checkpoint_every,
        checkpoint_interval_s=settings.checkpoint_interval_s,
        backfill=backfill,
    )
