"""One venue book's lifecycle: wait for a snapshot, apply deltas in sequence, resync on a gap.

The builder only ever reports a top of book while the book is provably consistent: after a
snapshot, with every delta since then applied in the venue's order, and not crossed. Deltas that
arrive before the snapshot (or during a resync) are buffered, then applied or skipped by the
venue's rule, so none is lost while the snapshot is on its way.
"""

from collections import deque
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

from schemas.market_data import BookDelta, BookSnapshot
from services.book_builder.core.book import L2Book
from services.book_builder.core.sequence import SequenceRule, Verdict


class BookState(Enum):
    AWAITING_SNAPSHOT = "awaiting_snapshot"
    LIVE = "live"


@dataclass(frozen=True, slots=True)
class TopOfBook:
    bid_price: Decimal
    bid_quantity: Decimal
    ask_price: Decimal
    ask_quantity: Decimal
    venue_seq: int
    book_seq: int
    exchange_ts: int
    receive_ts: int


@dataclass(frozen=True, slots=True)
class BookInvalidated:
    reason: str


@dataclass(slots=True)
class BuilderCounters:
    snapshots: int = 0
    applied: int = 0
    stale: int = 0
    gaps: int = 0
    resyncs: int = 0
    crossed: int = 0
    buffer_overflows: int = 0


Outcome = TopOfBook | BookInvalidated


class BookBuilder:
    def __init__(self, rule: SequenceRule, *, max_buffered: int = 10_000) -> None:
        self.rule = rule
        self.book = L2Book()
        self.state = BookState.AWAITING_SNAPSHOT
        self.last_seq: int | None = None
        self.counters = BuilderCounters()
        self._first_after_snapshot = False
        self._buffer: deque[BookDelta] = deque(maxlen=max_buffered)
        self._published_top: tuple[Decimal, Decimal, Decimal, Decimal] | None = None
        self._book_seq = 0
        self._resyncing = False

    def on_snapshot(self, snapshot: BookSnapshot) -> list[Outcome]:
        self.counters.snapshots += 1
        if self._resyncing:
            self.counters.resyncs += 1
            self._resyncing = False
        self.book.clear()
        self.book.apply_bids(snapshot.bids)
        self.book.apply_asks(snapshot.asks)
        self.last_seq = snapshot.sequence.last
        self.state = BookState.LIVE
        self._first_after_snapshot = True
        outcomes: list[Outcome] = []
        if self.book.is_crossed():
            return self._invalidate("snapshot is crossed", crossed=True)
        self._emit_top(snapshot.sequence.last, snapshot.exchange_ts, snapshot.receive_ts, outcomes)
        buffered, self._buffer = list(self._buffer), deque(maxlen=self._buffer.maxlen)
        for delta in buffered:
            outcomes.extend(self.on_delta(delta))
        return outcomes

    def on_delta(self, delta: BookDelta) -> list[Outcome]:
        if self.state is BookState.AWAITING_SNAPSHOT:
            if len(self._buffer) == self._buffer.maxlen:
                self.counters.buffer_overflows += 1
            self._buffer.append(delta)
            return []
        assert self.last_seq is not None
        if self._first_after_snapshot:
            verdict = self.rule.first_after_snapshot(delta.sequence, self.last_seq)
        else:
            verdict = self.rule.next(delta.sequence, self.last_seq)
        if verdict is Verdict.STALE:
            self.counters.stale += 1
            return []
        if verdict is Verdict.GAP:
            self.counters.gaps += 1
            outcomes = self._invalidate(
                f"sequence gap: book at {self.last_seq}, delta {delta.sequence.first}..{delta.sequence.last}"
                f" (prev {delta.sequence.prev})"
            )
            self._buffer.append(delta)
            return outcomes
        self.book.apply_bids(delta.bids)
        self.book.apply_asks(delta.asks)
        self.last_seq = delta.sequence.last
        self._first_after_snapshot = False
        self.counters.applied += 1
        if self.book.is_crossed():
            return self._invalidate(f"crossed after update {delta.sequence.last}", crossed=True)
        applied: list[Outcome] = []
        self._emit_top(delta.sequence.last, delta.exchange_ts, delta.receive_ts, applied)
        return applied

    def _invalidate(self, reason: str, *, crossed: bool = False) -> list[Outcome]:
        if crossed:
            self.counters.crossed += 1
        self.state = BookState.AWAITING_SNAPSHOT
        self.book.clear()
        self.last_seq = None
        self._published_top = None
        self._resyncing = True
        return [BookInvalidated(reason)]

    def _emit_top(self, venue_seq: int, exchange_ts: int, receive_ts: int, out: list[Outcome]) -> None:
        bid, ask = self.book.best_bid(), self.book.best_ask()
        if bid is None or ask is None:
            return
        top = (bid[0], bid[1], ask[0], ask[1])
        if top == self._published_top:
            return
        self._published_top = top
        self._book_seq += 1
        out.append(TopOfBook(*top, venue_seq, self._book_seq, exchange_ts, receive_ts))
