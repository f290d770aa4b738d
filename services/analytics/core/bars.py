"""OHLCV bars cut by exchange time, deduped by trade id, final after a grace period.

One ``InstrumentBars`` per venue and symbol holds every bar interval of that instrument. Time is
the instrument's *watermark*: the largest ``exchange_ts`` of its trades so far. A bar
``[start, start + interval)`` stays open until the watermark reaches ``start + interval + grace``,
so a trade that arrives out of order within the grace period still lands in (amends) its bar.
Then the bar is emitted once, final. A trade whose bar was already emitted is *late*: it changes
nothing and the caller dead-letters it. Every interval is aligned to the Unix epoch, so a late
trade is judged on its shortest interval (the first of its bars to close) and is either applied
to all intervals or to none, which keeps 1 s bars summing exactly to 1 m bars.

An interval without trades yields a bar carrying the previous close with volume 0, up to
``max_gap_bars`` bars in a row; a longer silence (a halted feed, a restart days later) is skipped
instead of filled with thousands of empty bars.
"""

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Any

ZERO = Decimal(0)


@dataclass(slots=True)
class Bar:
    """One interval's aggregate. ``start_ns`` is inclusive, ``start_ns + interval_ns`` exclusive."""

    interval_ns: int
    start_ns: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    notional: Decimal
    buy_volume: Decimal
    sell_volume: Decimal
    trade_count: int
    # Trade order inside a bar is by exchange time; these break ties for open/close.
    first_ts: int
    last_ts: int

    @property
    def end_ns(self) -> int:
        return self.start_ns + self.interval_ns

    @classmethod
    def empty(cls, interval_ns: int, start_ns: int, previous_close: Decimal) -> "Bar":
        p = previous_close
        return cls(interval_ns, start_ns, p, p, p, p, ZERO, ZERO, ZERO, ZERO, 0, start_ns, start_ns)

    def add(self, ts: int, price: Decimal, quantity: Decimal, notional: Decimal, buy: bool) -> None:
        if ts < self.first_ts:  # an amending trade that happened before the bar's first one
            self.open = price
            self.first_ts = ts
        if ts >= self.last_ts:
            self.close = price
            self.last_ts = ts
        if price > self.high:
            self.high = price
        if price < self.low:
            self.low = price
        self.volume += quantity
        self.notional += notional
        if buy:
            self.buy_volume += quantity
        else:
            self.sell_volume += quantity
        self.trade_count += 1

    def merge(self, other: "Bar") -> None:
        """Fold a following, shorter bar into this one (for rollups)."""
        if self.trade_count == 0 and other.trade_count > 0:
            self.open = other.open
            self.high = other.high
            self.low = other.low
        elif other.trade_count > 0:
            self.high = max(self.high, other.high)
            self.low = min(self.low, other.low)
        self.close = other.close
        self.volume += other.volume
        self.notional += other.notional
        self.buy_volume += other.buy_volume
        self.sell_volume += other.sell_volume
        self.trade_count += other.trade_count
        self.last_ts = max(self.last_ts, other.last_ts)

    def to_state(self) -> list[Any]:
        return [
            self.interval_ns,
            self.start_ns,
            *(str(v) for v in (self.open, self.high, self.low, self.close)),
            *(str(v) for v in (self.volume, self.notional, self.buy_volume, self.sell_volume)),
            self.trade_count,
            self.first_ts,
            self.last_ts,
        ]

    @classmethod
    def from_state(cls, state: list[Any]) -> "Bar":
        o, h, low, c, volume, notional, buys, sells = (Decimal(v) for v in state[2:10])
        count, first_ts, last_ts = (int(v) for v in state[10:13])
        return cls(
            int(state[0]),
            int(state[1]),
            o,
            h,
            low,
            c,
            volume,
            notional,
            buys,
            sells,
            count,
            first_ts,
            last_ts,
        )


def new_bar(interval_ns: int, start_ns: int, ts: int, price: Decimal) -> Bar:
    return Bar(interval_ns, start_ns, price, price, price, price, ZERO, ZERO, ZERO, ZERO, 0, ts, ts)


_NONE: list[Bar] = []  # shared empty result: callers only read it


class TradeVerdict(Enum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    LATE = "late"


@dataclass(frozen=True, slots=True)
class TradeResult:
    verdict: TradeVerdict
    closed: list[Bar]
    reason: str = ""


@dataclass(slots=True)
class _Series:
    """The bars of one interval: the open ones by start, and where the final ones end."""

    interval_ns: int
    open_bars: dict[int, Bar]
    last_final_start: int | None = None
    last_close: Decimal | None = None


class InstrumentBars:
    """Every bar interval of one instrument. Deterministic for a given trade order."""

    def __init__(
        self,
        intervals_ns: Iterable[int],
        *,
        grace_ns: int,
        max_gap_bars: int = 3600,
        dedupe_window_ns: int = 60_000_000_000,
    ) -> None:
        intervals = sorted(set(intervals_ns))
        if not intervals or intervals[0] <= 0:
            raise ValueError("bar intervals must be positive")
        if grace_ns < 0:
            raise ValueError("grace must not be negative")
        self.grace_ns = grace_ns
        self.max_gap_bars = max_gap_bars
        self._series = [_Series(i, {}) for i in intervals]
        self.watermark: int | None = None
        # Trade ids are kept for ``dedupe_window_ns`` of event time, and at least until the
        # trade's shortest bar is final: a resend older than that is judged late (and
        # dead-lettered), so it can never be counted twice. Pruned in arrival order, which only
        # ever keeps an id longer than needed.
        self._seen: dict[str, int] = {}
        self._seen_order: deque[tuple[int, str]] = deque()
        self.duplicates = 0
        self.late = 0
        # The watermark at which the next bar of any interval becomes final (None: recompute). Most
        # trades close nothing, and this keeps them from walking every interval to find that out.
        self._next_due: int | None = None
        self._shortest_ns = intervals[0]
        self._horizon_ns = max(intervals[0] + grace_ns, dedupe_window_ns)

    @property
    def intervals_ns(self) -> tuple[int, ...]:
        return tuple(s.interval_ns for s in self._series)

    def on_trade(
        self, trade_id: str, ts: int, price: Decimal, quantity: Decimal, notional: Decimal, buy: bool
    ) -> TradeResult:
        seen = self._seen
        if trade_id in seen:
            self.duplicates += 1
            return TradeResult(TradeVerdict.DUPLICATE, _NONE, f"trade id {trade_id} already counted")
        shortest = self._shortest_ns
        bar_start = ts - ts % shortest
        last_final = self._series[0].last_final_start
        if last_final is not None and bar_start <= last_final:
            self.late += 1
            behind_ms = ((self.watermark or ts) - ts) / 1e6
            return TradeResult(
                TradeVerdict.LATE,
                _NONE,
                f"late (or resent) trade {trade_id}: exchange_ts {ts} is {behind_ms:.3f} ms behind the latest trade; "
                f"its {shortest // 1_000_000} ms bar at {bar_start} was already emitted "
                f"(grace {self.grace_ns // 1_000_000} ms)",
            )
        seen[trade_id] = ts
        self._seen_order.append((ts, trade_id))
        for series in self._series:
            start = ts - ts % series.interval_ns
            bar = series.open_bars.get(start)
            if bar is None:
                bar = series.open_bars[start] = new_bar(series.interval_ns, start, ts, price)
                if series.last_final_start is None:
                    self._next_due = None  # an earlier first bar moves the next closing time
            bar.add(ts, price, quantity, notional, buy)
        watermark = self.watermark
        if watermark is None or ts > watermark:
            self.watermark = watermark = ts
        due = self._next_due
        closed = self._close_due() if due is None or watermark >= due else _NONE
        order = self._seen_order
        horizon = watermark - self._horizon_ns
        while order[0][0] < horizon:  # the trade just appended is never older than the horizon
            seen.pop(order.popleft()[1], None)
        return TradeResult(TradeVerdict.ACCEPTED, closed)

    def _close_due(self) -> list[Bar]:
        assert self.watermark is not None
        cutoff = self.watermark - self.grace_ns  # a bar ending at or before this is final
        closed: list[Bar] = []
        for series in self._series:
            step = series.interval_ns
            if series.last_final_start is not None:
                next_start = series.last_final_start + step
            elif series.open_bars:
                next_start = min(series.open_bars)
            else:
                continue
            while next_start + step <= cutoff:
                bar = series.open_bars.pop(next_start, None)
                if bar is None:
                    upto = min(series.open_bars) if series.open_bars else cutoff - cutoff % step
                    if (upto - next_start) // step > self.max_gap_bars:
                        next_start = upto  # a long silence: skip it rather than fill it
                        continue
                    assert series.last_close is not None  # a gap follows at least one bar
                    bar = Bar.empty(step, next_start, series.last_close)
                closed.append(bar)
                series.last_final_start = next_start
                series.last_close = bar.close
                next_start += step
        self._next_due = self._due_at()
        return closed

    def _due_at(self) -> int | None:
        """The smallest watermark at which some open or gap bar becomes final."""
        due = None
        for series in self._series:
            if series.last_final_start is not None:
                end = series.last_final_start + 2 * series.interval_ns
            elif series.open_bars:
                end = min(series.open_bars) + series.interval_ns
            else:
                continue
            if due is None or end < due:
                due = end
        return None if due is None else due + self.grace_ns

    def open_bars(self) -> list[Bar]:
        """Bars still open (not yet final), shortest interval first."""
        return [bar for s in self._series for bar in sorted(s.open_bars.values(), key=lambda b: b.start_ns)]

    # --- checkpoints ---------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        return {
            "watermark": self.watermark,
            "series": [
                {
                    "interval_ns": s.interval_ns,
                    "last_final_start": s.last_final_start,
                    "last_close": None if s.last_close is None else str(s.last_close),
                    "open": [b.to_state() for b in s.open_bars.values()],
                }
                for s in self._series
            ],
            "seen": [[ts, trade_id] for ts, trade_id in self._seen_order if trade_id in self._seen],
            "duplicates": self.duplicates,
            "late": self.late,
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.watermark = state["watermark"]
        by_interval = {s.interval_ns: s for s in self._series}
        for saved in state["series"]:
            series = by_interval.get(int(saved["interval_ns"]))
            if series is None:
                continue  # the configured intervals changed: that interval starts afresh
            series.last_final_start = saved["last_final_start"]
            series.last_close = None if saved["last_close"] is None else Decimal(saved["last_close"])
            series.open_bars = {bar.start_ns: bar for bar in map(Bar.from_state, saved["open"])}
        self._seen_order = deque((int(ts), str(trade_id)) for ts, trade_id in state["seen"])
        self._seen = {trade_id: ts for ts, trade_id in self._seen_order}
        self.duplicates = int(state["duplicates"])
        self.late = int(state["late"])
        self._next_due = None


class BarRollup:
    """Longer bars from a continuous stream of final shorter ones (5 m -> 15 m, 1 h).

    A bucket is emitted when its last short bar arrives, or, after a skipped silence, when a short
    bar of a later bucket arrives first.
    """

    def __init__(self, interval_ns: int) -> None:
        self.interval_ns = interval_ns
        self.current: Bar | None = None

    def add(self, bar: Bar) -> list[Bar]:
        done: list[Bar] = []
        start = bar.start_ns - bar.start_ns % self.interval_ns
        if self.current is not None and self.current.start_ns != start:
            done.append(self.current)
            self.current = None
        if self.current is None:
            self.current = Bar.empty(self.interval_ns, start, bar.open)
            self.current.first_ts = bar.first_ts
        self.current.merge(bar)
        if bar.end_ns == start + self.interval_ns:
            done.append(self.current)
            self.current = None
        return done

    def to_state(self) -> list[Any] | None:
        return None if self.current is None else self.current.to_state()

    def restore(self, state: list[Any] | None) -> None:
        self.current = None if state is None else Bar.from_state(state)
