"""The analytics engine: normalized market data in, contract events out. Pure and deterministic.

State is kept per input stream so that each input partition can be checkpointed on its own:

- trades of an instrument -> bars (``md.candles.v1``), volume spikes, large trades and their
  windows (``analytics.spikes.v1``, ``analytics.flow.v1``), and bar closes for pairs;
- open interest of an instrument -> OI-change spikes;
- liquidations of an instrument -> liquidation windows.

Pairs take bar closes of two instruments, which may sit on different partitions; their results
depend only on the two legs' bar sequences (aligned by bar start), not on arrival order.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from schemas.analytics import (
    FlowKind,
    FlowWindow,
    LargeTrade,
    PairLeg,
    PairStats,
    Spike,
    SpikeMetric,
)
from schemas.common import ExchangeId, Side
from schemas.market_data import Candle, Liquidation, OpenInterest, Trade
from services.analytics.core.bars import Bar, BarRollup, InstrumentBars, TradeVerdict
from services.analytics.core.flow import FlowAggregate, FlowWindows, usd_notional
from services.analytics.core.pairs import PairResult, PairTracker
from services.analytics.core.spikes import (
    OpenInterestBars,
    RollingZ,
    fires_oi,
    fires_volume,
    log_volume,
)

NS = 1_000_000_000

CANDLES_TOPIC = "md.candles.v1"
SPIKES_TOPIC = "analytics.spikes.v1"
FLOW_TOPIC = "analytics.flow.v1"
PAIRS_TOPIC = "analytics.pairs.v1"


@dataclass(frozen=True)
class PairConfig:
    name: str
    leg_a: tuple[ExchangeId, str]
    leg_b: tuple[ExchangeId, str]
    interval_s: int = 60
    window: int = 100
    min_observations: int = 30


@dataclass(frozen=True)
class EngineConfig:
    bar_intervals_s: tuple[int, ...] = (1, 60, 300)
    grace_ms: int = 2000
    max_gap_bars: int = 3600
    dedupe_window_s: int = 60
    spike_thresholds: Mapping[int, float] = field(default_factory=lambda: {300: 3.0, 900: 2.5, 3600: 2.0})
    spike_window: int = 100
    spike_min_baseline: int = 20
    flow_windows_s: tuple[int, ...] = (60, 300)
    large_trade_usd: Decimal = Decimal(100_000)
    large_trade_usd_by_symbol: Mapping[str, Decimal] = field(default_factory=dict)
    pairs: tuple[PairConfig, ...] = ()
    pair_coint: bool = True

    def __post_init__(self) -> None:
        largest = max(self.bar_intervals_s)
        for timeframe in self.spike_thresholds:
            if not any(timeframe % i == 0 for i in self.bar_intervals_s):
                raise ValueError(f"spike timeframe {timeframe}s is not a multiple of a bar interval")
        for pair in self.pairs:
            if pair.interval_s not in self.bar_intervals_s:
                raise ValueError(f"pair {pair.name}: interval {pair.interval_s}s is not a bar interval")
        if largest <= 0:
            raise ValueError("bar intervals must be positive")

    def spike_source(self, timeframe_s: int) -> int:
        """The longest bar interval that divides a spike timeframe (rolled up when shorter)."""
        return max(i for i in self.bar_intervals_s if timeframe_s % i == 0)


class Rejected(Exception):
    """An input the engine cannot use; the shell dead-letters it with this reason."""

    def __init__(self, error_type: str, reason: str) -> None:
        super().__init__(reason)
        self.error_type = error_type
        self.reason = reason


Emitted = list[tuple[str, BaseModel]]


@dataclass
class _Identity:
    exchange: ExchangeId
    symbol: str
    native_symbol: str

    def fields(self, receive_ts: int) -> dict[str, Any]:
        return {
            "exchange": self.exchange,
            "symbol": self.symbol,
            "native_symbol": self.native_symbol,
            "receive_ts": receive_ts,
        }


class TradeStream:
    """Everything computed from one instrument's trades."""

    def __init__(self, identity: _Identity, config: EngineConfig) -> None:
        self.identity = identity
        self.config = config
        self.bars = InstrumentBars(
            (i * NS for i in config.bar_intervals_s),
            grace_ns=config.grace_ms * 1_000_000,
            max_gap_bars=config.max_gap_bars,
            dedupe_window_ns=config.dedupe_window_s * NS,
        )
        self.rollups = {t: BarRollup(t * NS) for t in config.spike_thresholds if config.spike_source(t) != t}
        self.volume_z = {
            t: RollingZ(config.spike_window, min_baseline=config.spike_min_baseline)
            for t in config.spike_thresholds
        }
        self.large = FlowWindows(
            (w * NS for w in config.flow_windows_s), grace_ns=config.grace_ms * 1_000_000
        )
        # Per instrument, not per trade: whether its notional is USD, and its threshold.
        self.usd_quoted = usd_notional(identity.symbol, Decimal(1)) is not None
        self.large_threshold = config.large_trade_usd_by_symbol.get(identity.symbol, config.large_trade_usd)

    def on_trade(self, trade: Trade) -> tuple[Emitted, list[Bar]]:
        result = self.bars.on_trade(
            trade.trade_id,
            trade.exchange_ts,
            trade.price,
            trade.quantity,
            trade.notional,
            trade.side is Side.BUY,
        )
        if result.verdict is TradeVerdict.LATE:
            raise Rejected("late_trade", result.reason)
        emitted: Emitted = []
        if result.verdict is TradeVerdict.DUPLICATE:
            return emitted, result.closed
        for bar in result.closed:
            emitted.append((CANDLES_TOPIC, self._candle(bar, trade.receive_ts)))
            self._volume_spikes(bar, trade.receive_ts, emitted)
        self._large_trade(trade, emitted)
        return emitted, result.closed

    def _candle(self, bar: Bar, receive_ts: int) -> Candle:
        return Candle(
            **self.identity.fields(receive_ts),
            exchange_ts=bar.start_ns,
            interval_s=bar.interval_ns // NS,
            close_ts=bar.end_ns - 1,
            open=bar.open,
            high=bar.high,
            low=bar.low,
            close=bar.close,
            volume=bar.volume,
            notional=bar.notional,
            trade_count=bar.trade_count,
            closed=True,
            buy_volume=bar.buy_volume,
            sell_volume=bar.sell_volume,
        )

    def _volume_spikes(self, bar: Bar, receive_ts: int, emitted: Emitted) -> None:
        interval_s = bar.interval_ns // NS
        for timeframe, threshold in self.config.spike_thresholds.items():
            if self.config.spike_source(timeframe) != interval_s:
                continue
            bars = [bar] if timeframe == interval_s else self.rollups[timeframe].add(bar)
            for tf_bar in bars:
                value = log_volume(tf_bar.volume)
                if value is None:
                    continue
                score = self.volume_z[timeframe].score(value)
                if score is not None and fires_volume(score, threshold):
                    emitted.append(
                        (
                            SPIKES_TOPIC,
                            Spike(
                                **self.identity.fields(receive_ts),
                                exchange_ts=tf_bar.start_ns,
                                timeframe_s=timeframe,
                                close_ts=tf_bar.end_ns - 1,
                                metric=SpikeMetric.LOG_VOLUME,
                                value=score.value,
                                baseline_mean=score.mean,
                                baseline_std=score.std,
                                z=score.z,
                                threshold=threshold,
                                window=score.window,
                            ),
                        )
                    )

    def _large_trade(self, trade: Trade, emitted: Emitted) -> None:
        usd = trade.notional
        threshold = self.large_threshold
        if not self.usd_quoted or usd < threshold:
            return
        emitted.append(
            (
                FLOW_TOPIC,
                LargeTrade(
                    **self.identity.fields(trade.receive_ts),
                    exchange_ts=trade.exchange_ts,
                    trade_id=trade.trade_id,
                    side=trade.side,
                    price=trade.price,
                    quantity=trade.quantity,
                    notional_usd=usd,
                    threshold_usd=threshold,
                ),
            )
        )
        closed, _ = self.large.add(trade.exchange_ts, trade.side.value, trade.quantity, trade.notional)
        emitted.extend(
            (FLOW_TOPIC, flow_window(self.identity, FlowKind.LARGE_TRADE, a, trade.receive_ts))
            for a in closed
        )

    def to_state(self) -> dict[str, Any]:
        return {
            "bars": self.bars.to_state(),
            "rollups": {str(t): r.to_state() for t, r in self.rollups.items()},
            "volume_z": {str(t): z.to_state() for t, z in self.volume_z.items()},
            "large": self.large.to_state(),
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        self.bars.restore(state["bars"])
        for t, rollup in self.rollups.items():
            rollup.restore(state["rollups"].get(str(t)))
        for t, z in self.volume_z.items():
            z.restore(state["volume_z"].get(str(t), []))
        self.large.restore(state["large"])


def flow_window(identity: _Identity, kind: FlowKind, agg: FlowAggregate, receive_ts: int) -> FlowWindow:
    return FlowWindow(
        **identity.fields(receive_ts),
        exchange_ts=agg.start_ns,
        kind=kind,
        side=Side(agg.side),
        window_s=agg.window_ns // NS,
        close_ts=agg.close_ns - 1,
        count=agg.count,
        quantity=agg.quantity,
        notional=agg.notional,
        notional_usd=usd_notional(identity.symbol, agg.notional),
    )


class OpenInterestStream:
    """OI-change spikes of one instrument, per spike timeframe."""

    def __init__(self, identity: _Identity, config: EngineConfig) -> None:
        self.identity = identity
        self.config = config
        self.buckets = {t: OpenInterestBars(t * NS) for t in config.spike_thresholds}
        self.z = {
            t: RollingZ(config.spike_window, min_baseline=config.spike_min_baseline)
            for t in config.spike_thresholds
        }

    def on_open_interest(self, event: OpenInterest) -> Emitted:
        emitted: Emitted = []
        counted = False
        for timeframe, buckets in self.buckets.items():
            closed, on_time = buckets.observe(event.exchange_ts, event.open_interest)
            counted = counted or on_time
            if closed is None:
                continue
            score = self.z[timeframe].score(float(closed.change))
            threshold = self.config.spike_thresholds[timeframe]
            if score is not None and fires_oi(score, threshold):
                emitted.append(
                    (
                        SPIKES_TOPIC,
                        Spike(
                            **self.identity.fields(event.receive_ts),
                            exchange_ts=closed.start_ns,
                            timeframe_s=timeframe,
                            close_ts=closed.start_ns + closed.interval_ns - 1,
                            metric=SpikeMetric.OI_CHANGE,
                            value=score.value,
                            baseline_mean=score.mean,
                            baseline_std=score.std,
                            z=score.z,
                            threshold=threshold,
                            window=score.window,
                        ),
                    )
                )
        if not counted:
            # Every timeframe's bucket had moved past it, so nothing changed: say so.
            raise Rejected(
                "late_open_interest",
                f"open interest at {event.exchange_ts} is older than the open bucket of every timeframe",
            )
        return emitted

    def to_state(self) -> dict[str, Any]:
        return {
            "buckets": {str(t): b.to_state() for t, b in self.buckets.items()},
            "z": {str(t): z.to_state() for t, z in self.z.items()},
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        for t, b in self.buckets.items():
            if str(t) in state["buckets"]:
                b.restore(state["buckets"][str(t)])
        for t, z in self.z.items():
            z.restore(state["z"].get(str(t), []))


class LiquidationStream:
    def __init__(self, identity: _Identity, config: EngineConfig) -> None:
        self.identity = identity
        self.windows = FlowWindows(
            (w * NS for w in config.flow_windows_s), grace_ns=config.grace_ms * 1_000_000
        )

    def on_liquidation(self, event: Liquidation) -> Emitted:
        closed, counted = self.windows.add(
            event.exchange_ts, event.side.value, event.quantity, event.notional
        )
        if not counted:
            raise Rejected(
                "late_liquidation",
                f"liquidation at {event.exchange_ts} falls in a window that was already emitted",
            )
        return [
            (FLOW_TOPIC, flow_window(self.identity, FlowKind.LIQUIDATION, a, event.receive_ts))
            for a in closed
        ]

    def to_state(self) -> dict[str, Any]:
        return self.windows.to_state()

    def restore(self, state: Mapping[str, Any]) -> None:
        self.windows.restore(state)


Streams = TradeStream | OpenInterestStream | LiquidationStream


def _new_stream(topic: str, identity: _Identity, config: EngineConfig) -> Streams:
    if topic == "md.trades.v1":
        return TradeStream(identity, config)
    if topic == "md.open_interest.v1":
        return OpenInterestStream(identity, config)
    if topic == "md.liquidations.v1":
        return LiquidationStream(identity, config)
    raise ValueError(f"analytics has no stream for {topic}")


class AnalyticsEngine:
    """All streams, keyed by (input topic, exchange:symbol), and the configured pairs."""

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self.streams: dict[tuple[str, str], Streams] = {}
        self.pairs = {
            p.name: PairTracker(p.window, min_observations=p.min_observations, with_coint=config.pair_coint)
            for p in config.pairs
        }
        self._legs: dict[tuple[str, int], list[tuple[PairConfig, int]]] = {}
        for p in config.pairs:
            for leg, (exchange, symbol) in enumerate((p.leg_a, p.leg_b)):
                self._legs.setdefault((f"{exchange.value}:{symbol}", p.interval_s * NS), []).append((p, leg))

    def stream(
        self, topic: str, event: Trade | OpenInterest | Liquidation, instrument: str | None = None
    ) -> Streams:
        key = (topic, instrument or event.key)
        stream = self.streams.get(key)
        if stream is None:
            identity = _Identity(event.exchange, event.symbol, event.native_symbol)
            stream = self.streams[key] = _new_stream(topic, identity, self.config)
        return stream

    def on_event(self, topic: str, event: Any, instrument: str | None = None) -> Emitted:
        """Outputs of one input event; raises ``Rejected`` for an input it cannot use.

        ``instrument`` is the event's ``exchange:symbol`` key when the caller has it already.
        """
        instrument = instrument or event.key
        stream = self.stream(topic, event, instrument)
        if isinstance(stream, TradeStream):
            emitted, closed = stream.on_trade(event)
            if closed and self._legs:
                self._pair_closes(instrument, closed, emitted)
            return emitted
        if isinstance(stream, OpenInterestStream):
            return stream.on_open_interest(event)
        return stream.on_liquidation(event)

    def _pair_closes(self, instrument: str, closed: list[Bar], emitted: Emitted) -> None:
        for bar in closed:
            for pair, leg in self._legs.get((instrument, bar.interval_ns), ()):
                for result in self.pairs[pair.name].on_close(leg, bar.start_ns, bar.close):
                    emitted.append((PAIRS_TOPIC, pair_stats(pair, result)))

    def drop(self, keys: set[tuple[str, str]]) -> None:
        for key in keys:
            self.streams.pop(key, None)

    def warm_volume_baselines(
        self,
        exchange: ExchangeId,
        symbol: str,
        native_symbol: str,
        bars: list[tuple[int, int, Decimal]],
    ) -> dict[int, int]:
        """Put history bars ``(open ns, length s, base volume)`` under the volume-spike baselines.

        For the backfill at start-up: each timeframe's baseline gets the log volumes of the whole
        timeframe buckets the history fills, placed *before* whatever it holds already (history
        is older than live bars), cut to the window. Returns values added per timeframe.
        """
        key = ("md.trades.v1", f"{exchange.value}:{symbol}")
        stream = self.streams.get(key)
        if stream is None:
            stream = self.streams[key] = TradeStream(_Identity(exchange, symbol, native_symbol), self.config)
        if not isinstance(stream, TradeStream):
            return {}
        added: dict[int, int] = {}
        lengths = {length_s for _, length_s, _ in bars}
        for timeframe in self.config.spike_thresholds:
            # The longest history bar that divides the timeframe (1 m klines fill 5 m baselines).
            source = max((length for length in lengths if timeframe % length == 0), default=0)
            if not source:
                continue
            buckets: dict[int, tuple[int, Decimal]] = {}
            for start_ns, length_s, volume in bars:
                if length_s != source:
                    continue
                bucket = start_ns // (timeframe * NS)
                count, total = buckets.get(bucket, (0, Decimal(0)))
                buckets[bucket] = (count + 1, total + volume)
            whole = timeframe // source
            history = [
                value
                for bucket in sorted(buckets)
                if buckets[bucket][0] == whole and (value := log_volume(buckets[bucket][1])) is not None
            ]
            baseline = stream.volume_z[timeframe]
            baseline.restore([*history, *baseline.values][-baseline.window :])
            added[timeframe] = min(len(history), baseline.window)
        return added

    def warm_open_interest_baselines(
        self,
        exchange: ExchangeId,
        symbol: str,
        native_symbol: str,
        observations: list[tuple[int, Decimal]],
    ) -> dict[int, int]:
        """Put the OI changes of history observations ``(ns, base units)`` under the OI-change
        baselines, bucketed exactly as live observations are; returns values added per timeframe."""
        key = ("md.open_interest.v1", f"{exchange.value}:{symbol}")
        stream = self.streams.get(key)
        if stream is None:
            stream = self.streams[key] = OpenInterestStream(
                _Identity(exchange, symbol, native_symbol), self.config
            )
        if not isinstance(stream, OpenInterestStream):
            return {}
        added: dict[int, int] = {}
        for timeframe in self.config.spike_thresholds:
            buckets = OpenInterestBars(timeframe * NS)
            history = []
            for ts, open_interest in sorted(observations):
                closed, _ = buckets.observe(ts, open_interest)
                if closed is not None:
                    history.append(float(closed.change))
            baseline = stream.z[timeframe]
            baseline.restore([*history, *baseline.values][-baseline.window :])
            added[timeframe] = min(len(history), baseline.window)
        return added

    def state_of(self, keys: list[tuple[str, str]]) -> dict[str, Any]:
        """A JSON-able checkpoint of these streams."""
        out: dict[str, Any] = {}
        for topic, instrument in keys:
            stream = self.streams.get((topic, instrument))
            if stream is not None:
                ident = stream.identity
                out[f"{topic}|{instrument}"] = {
                    "exchange": ident.exchange.value,
                    "symbol": ident.symbol,
                    "native_symbol": ident.native_symbol,
                    "state": stream.to_state(),
                }
        return out

    def restore(self, checkpoint: Mapping[str, Any]) -> list[tuple[str, str]]:
        restored = []
        for name, saved in checkpoint.items():
            topic, instrument = name.split("|", 1)
            identity = _Identity(ExchangeId(saved["exchange"]), saved["symbol"], saved["native_symbol"])
            stream = _new_stream(topic, identity, self.config)
            stream.restore(saved["state"])
            self.streams[(topic, instrument)] = stream
            restored.append((topic, instrument))
        return restored


def pair_stats(pair: PairConfig, result: PairResult) -> PairStats:
    interval_ns = pair.interval_s * NS

    def finite(value: float | None) -> float | None:
        return value if value is not None and math.isfinite(value) else None

    return PairStats(
        pair=pair.name,
        leg_a=PairLeg(exchange=pair.leg_a[0], symbol=pair.leg_a[1]),
        leg_b=PairLeg(exchange=pair.leg_b[0], symbol=pair.leg_b[1]),
        interval_s=pair.interval_s,
        exchange_ts=result.start_ns,
        close_ts=result.start_ns + interval_ns - 1,
        window=pair.window,
        observations=result.observations,
        close_a=result.close_a,
        close_b=result.close_b,
        ols_beta=finite(result.ols_beta),
        ols_alpha=finite(result.ols_alpha),
        kalman_beta=finite(result.kalman_beta),
        spread=finite(result.spread),
        spread_z=finite(result.spread_z),
        correlation=finite(result.correlation),
        coint_pvalue=finite(result.coint_pvalue),
        half_life_bars=finite(result.half_life_bars),
        null_reasons=result.null_reasons,
    )
