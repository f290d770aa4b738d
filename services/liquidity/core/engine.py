"""Per book: sample the metrics on an exchange-time cadence, judge each sample, add trade flow.

Sampling. A book is sampled by the first ``book.l2.v1`` message of each cadence bucket
(``exchange_ts // cadence_ns``), or by every message with ``every_change``. The sample carries the
message's own ``exchange_ts``, so the same input always yields the same samples.

Judging. The crunch detector steps on each sample as soon as it is taken (it reads book metrics
only), so an anomaly is never delayed by the trade stream.

Trade flow. A sample's taker flow covers trades in ``(ts - flow_window, ts]``. Books and trades
come from two topics, consumed at their own pace, so the sample waits (``pending``) until the flow
is known: at once when a trade later than ``ts`` has arrived (trades of one instrument are in time
order on their partition, so every earlier trade is in), or, for a quiet instrument, once the book
stream is ``trade_grace_ns`` past ``ts`` (``flush_due``, called at the end of each batch so that
the order of records inside a batch does not matter). Only the second way can differ between two
runs, and only when the trade topic lags the book topic by more than the grace.
"""

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from schemas.common import ExchangeId
from services.liquidity.core.detector import CrunchDetector, CrunchEvent, DetectorConfig, SampleInput, Verdict
from services.liquidity.core.metrics import DEPTH_BANDS_BPS, BookMetrics, Level, book_metrics
from services.liquidity.core.windows import TradeFlow, TradeWindow, UpdateRate

NS_PER_S = 1_000_000_000
_TRIM_EVERY = 256
"""Trades kept before the trade window is trimmed again (trimming per trade would cost a bisection each)."""


class OutOfOrderBook(ValueError):
    """A book message older than the last one of the same book (time must not run backwards)."""


@dataclass(frozen=True, slots=True)
class BookId:
    exchange: ExchangeId
    symbol: str
    native_symbol: str
    key: str = field(init=False, compare=False, repr=False)
    """``exchange:symbol``, the Kafka key (computed once: it is looked up on every record)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", f"{self.exchange.value}:{self.symbol}")


@dataclass(frozen=True, slots=True)
class EngineConfig:
    cadence_ns: int = NS_PER_S
    every_change: bool = False
    """Sample every book message as well (the cadence still applies when it is off)."""
    imbalance_levels: int = 5
    slippage_notional: Decimal = Decimal(100_000)
    flow_window_ns: int = 10 * NS_PER_S
    rate_window_ns: int = 10 * NS_PER_S
    trade_grace_ns: int = 2 * NS_PER_S
    trade_retention_ns: int = 300 * NS_PER_S
    """Trades older than the latest trade by this much are dropped even if no book has come yet
    (an instrument whose book stream is missing or far behind must not grow memory forever)."""
    detector: DetectorConfig = field(default_factory=DetectorConfig)

    def __post_init__(self) -> None:
        if self.cadence_ns <= 0 or self.flow_window_ns <= 0 or self.rate_window_ns <= 0:
            raise ValueError("cadence and windows must be positive")
        if self.detector.band_bps not in DEPTH_BANDS_BPS:
            raise ValueError(f"the rule's band must be one of {DEPTH_BANDS_BPS} bps")
        if self.imbalance_levels < 1:
            raise ValueError("imbalance_levels must be >= 1")


@dataclass(frozen=True, slots=True)
class MetricSample:
    book: BookId
    ts: int
    receive_ts: int
    book_seq: int
    venue_seq: int | None
    metrics: BookMetrics
    updates_per_s: float
    flow: TradeFlow
    verdict: Verdict
    crunch_active: bool
    """True while a crunch is ongoing after this sample's verdict."""


@dataclass(frozen=True, slots=True)
class Anomaly:
    book: BookId
    receive_ts: int
    """Receive time of the book message whose sample declared it."""
    event: CrunchEvent


EngineOutput = MetricSample | Anomaly


@dataclass(frozen=True, slots=True)
class _Pending:
    ts: int
    receive_ts: int
    book_seq: int
    venue_seq: int | None
    metrics: BookMetrics
    updates_per_s: float
    verdict: Verdict
    crunch_active: bool


class _BookState:
    def __init__(self, book: BookId, config: EngineConfig) -> None:
        self.book = book
        self.last_ts: int | None = None
        self.last_bucket: int | None = None
        self.valid = False
        self.rate = UpdateRate(config.rate_window_ns)
        self.trades = TradeWindow()
        self.detector = CrunchDetector(config.detector)
        self.pending: deque[_Pending] = deque()
        self.trim_at = _TRIM_EVERY


class LiquidityEngine:
    """Every book's state. Pure: the same calls in the same order give the same outputs."""

    def __init__(self, config: EngineConfig | None = None) -> None:
        self.config = config or EngineConfig()
        self.books: dict[str, _BookState] = {}

    def _state(self, book: BookId) -> _BookState:
        state = self.books.get(book.key)
        if state is None:
            state = self.books[book.key] = _BookState(book, self.config)
        return state

    def drop(self, keys: set[str]) -> None:
        for key in keys:
            self.books.pop(key, None)

    # --- inputs ---------------------------------------------------------------------------------

    def on_book(
        self,
        book: BookId,
        *,
        ts: int,
        receive_ts: int,
        book_seq: int,
        venue_seq: int | None,
        valid: bool,
        bids: Sequence[Level],
        asks: Sequence[Level],
    ) -> list[EngineOutput]:
        state = self._state(book)
        if state.last_ts is not None and ts < state.last_ts:
            raise OutOfOrderBook(f"book message at {ts} after one at {state.last_ts}")
        state.last_ts = ts
        state.valid = valid
        if not valid:
            return []
        state.rate.add(ts)
        cfg = self.config
        bucket = ts // cfg.cadence_ns
        if not cfg.every_change and state.last_bucket is not None and bucket <= state.last_bucket:
            return []
        metrics = book_metrics(
            bids, asks, imbalance_levels=cfg.imbalance_levels, slippage_notional=cfg.slippage_notional
        )
        if metrics is None:
            return []  # a valid but empty book: nothing to measure, nothing to judge
        state.last_bucket = bucket
        band = metrics.band(cfg.detector.band_bps)
        verdict, event = state.detector.step(
            SampleInput(ts, metrics.spread_bps, float(band.notional), metrics.imbalance)
        )
        state.pending.append(
            _Pending(
                ts,
                receive_ts,
                book_seq,
                venue_seq,
                metrics,
                state.rate.per_second(ts),
                verdict,
                state.detector.active,
            )
        )
        outputs: list[EngineOutput] = []
        if event is not None:
            outputs.append(Anomaly(book, receive_ts, event))
        outputs.extend(self._finalize(state, grace=False))
        return outputs

    def on_trade(
        self, book: BookId, *, ts: int, buy: bool, base: Decimal, notional: Decimal
    ) -> list[MetricSample]:
        state = self._state(book)
        state.trades.add(ts, buy, base, notional)
        return self._finalize(state, grace=False)

    def flush_due(self, skip: set[str] | frozenset[str] = frozenset()) -> list[MetricSample]:
        """Samples whose book stream is past the trade grace (end of batch); books in ``skip`` wait."""
        outputs: list[MetricSample] = []
        for key in sorted(self.books):
            if key not in skip:
                outputs.extend(self._finalize(self.books[key], grace=True))
        return outputs

    def finish(self) -> list[MetricSample]:
        """Every pending sample with the flow known so far (end of a finite input)."""
        outputs: list[MetricSample] = []
        for key in sorted(self.books):
            state = self.books[key]
            while state.pending:
                outputs.append(self._complete(state, state.pending.popleft()))
        return outputs

    # --- samples --------------------------------------------------------------------------------

    def _finalize(self, state: _BookState, *, grace: bool) -> list[MetricSample]:
        pending = state.pending
        if not pending:
            self._trim(state)
            return []
        outputs: list[MetricSample] = []
        watermark = state.trades.watermark
        book_ts = state.last_ts if state.last_ts is not None else 0
        grace_ns = self.config.trade_grace_ns
        while pending:
            ts = pending[0].ts
            known = watermark is not None and watermark > ts
            if not known and not (grace and book_ts >= ts + grace_ns):
                break
            outputs.append(self._complete(state, pending.popleft()))
        self._trim(state)
        return outputs

    def _complete(self, state: _BookState, sample: _Pending) -> MetricSample:
        flow = state.trades.flow(sample.ts - self.config.flow_window_ns, sample.ts)
        return MetricSample(
            book=state.book,
            ts=sample.ts,
            receive_ts=sample.receive_ts,
            book_seq=sample.book_seq,
            venue_seq=sample.venue_seq,
            metrics=sample.metrics,
            updates_per_s=sample.updates_per_s,
            flow=flow,
            verdict=sample.verdict,
            crunch_active=sample.crunch_active,
        )

    def _trim(self, state: _BookState) -> None:
        if len(state.trades) < state.trim_at:
            return
        # Future samples are at or after the oldest pending sample, else at or after the last book.
        horizon = state.pending[0].ts if state.pending else state.last_ts
        cut = None if horizon is None else horizon - self.config.flow_window_ns
        watermark = state.trades.watermark
        if watermark is not None:
            oldest_kept = watermark - self.config.trade_retention_ns
            cut = oldest_kept if cut is None else max(cut, oldest_kept)
        if cut is not None:
            state.trades.trim(cut)
        state.trim_at = max(_TRIM_EVERY, 2 * len(state.trades))
