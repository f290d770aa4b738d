"""One venue book's lifecycle: wait for a snapshot, apply deltas in sequence, resync on a break.

The builder only ever reports a book while it is provably consistent: after a snapshot, with
every delta since then applied in the venue's order, matching the venue's checksum when one is
sent, and not crossed or locked. Deltas that arrive before the snapshot (or while a resync is
under way) are buffered, then applied or skipped by the venue's rule once the snapshot is there,
so none is lost while the snapshot is on its way.

Outputs, in order, for each event:

- ``BookInvalidated`` when the venue's rule breaks (gap, checksum mismatch, crossed or locked
  book): the book is cleared and waits for the next snapshot;
- ``TopOfBook`` whenever the best bid or ask (price or quantity) changes;
- ``DepthSnapshot`` of the top ``depth`` levels, at most once per ``depth_interval_ns`` of
  *event* time (``exchange_ts``), and at once when the book becomes valid again. The core has no
  clock, so the same input always gives the same output.
"""

from collections import deque
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import Enum

from schemas.market_data import BookDelta, BookSnapshot
from services.book_builder.core.book import L2Book, Level
from services.book_builder.core.bounds import TickBounds, check_against_mid, price_range, tick_bounds
from services.book_builder.core.checksum import ChecksumSpec
from services.book_builder.core.sequence import SequenceRule, Verdict

Top = tuple[Decimal, Decimal, Decimal, Decimal]


class BookState(Enum):
    AWAITING_SNAPSHOT = "awaiting_snapshot"
    LIVE = "live"


class InvalidReason(Enum):
    GAP = "gap"
    CHECKSUM = "checksum"
    CROSSED = "crossed"


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
class DepthSnapshot:
    bids: list[Level]
    asks: list[Level]
    venue_seq: int
    book_seq: int
    exchange_ts: int
    receive_ts: int


@dataclass(frozen=True, slots=True)
class BookInvalidated:
    kind: InvalidReason
    reason: str
    venue_seq: int | None
    """The last update id the book was consistent at, when there was one."""
    book_seq: int
    """Number of this status in the depth stream (shares the counter with ``DepthSnapshot``)."""
    exchange_ts: int
    receive_ts: int


Outcome = TopOfBook | DepthSnapshot | BookInvalidated


@dataclass(slots=True)
class BuilderCounters:
    snapshots: int = 0
    stale_snapshots: int = 0
    applied: int = 0
    level_updates: int = 0
    stale: int = 0
    gaps: int = 0
    resyncs: int = 0
    crossed: int = 0
    checksum_checks: int = 0
    checksum_failures: int = 0
    buffer_overflows: int = 0


@dataclass(frozen=True, slots=True)
class BuilderCheckpoint:
    """Everything a LIVE builder needs to continue exactly as if it had never stopped."""

    last_seq: int
    first_after_snapshot: bool
    bids: list[Level]
    asks: list[Level]
    published_top: Top | None
    top_seq: int
    depth_seq: int
    last_depth_ts: int | None
    depth_pending: bool
    counters: BuilderCounters = field(default_factory=BuilderCounters)


class BookBuilder:
    def __init__(
        self,
        rule: SequenceRule,
        *,
        checksum: ChecksumSpec | None = None,
        snapshot_always_resets: bool = True,
        depth: int = 50,
        depth_interval_ns: int = 100_000_000,
        max_buffered: int = 10_000,
        tick: Decimal | None = None,
    ) -> None:
        """``snapshot_always_resets``: False for REST-bootstrapped venues, where a snapshot older
        than the live book (a late or duplicate resync answer) is ignored instead of rewinding it.
        ``tick``: the instrument's tick, when known, to bound prices by (``core.bounds``).
        """
        self.rule = rule
        self.checksum = checksum
        self.snapshot_always_resets = snapshot_always_resets
        self.depth = depth
        self.depth_interval_ns = depth_interval_ns
        self.book = L2Book()
        self.state = BookState.AWAITING_SNAPSHOT
        self.last_seq: int | None = None
        self.counters = BuilderCounters()
        self._first_after_snapshot = False
        self._buffer: deque[BookDelta] = deque(maxlen=max_buffered)
        self._published_top: Top | None = None
        self._top_seq = 0
        self._depth_seq = 0
        self._last_depth_ts: int | None = None
        self._depth_pending = False
        self._resyncing = False
        self.tick_bounds: TickBounds | None = tick_bounds(tick) if tick is not None else None

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    @property
    def broken(self) -> bool:
        """True from a break (gap, checksum, crossed) until a snapshot makes the book consistent."""
        return self._resyncing

    def on_event(self, event: BookSnapshot | BookDelta) -> list[Outcome]:
        """Apply one event; raises ``RejectedInput`` for implausible prices, the book unchanged."""
        self.check_prices(event)
        if isinstance(event, BookDelta):
            return self.on_delta(event)
        return self.on_snapshot(event)

    def check_prices(self, event: BookSnapshot | BookDelta) -> None:
        """The bounds of ``core.bounds``: the tick's always, the mid's while the book is live.

        Deltas buffered while waiting for a snapshot have only the tick's: there is no mid yet.
        """
        bids, asks = event.bids, event.asks
        ranges = price_range(bids), price_range(asks)
        bounds = self.tick_bounds
        if bounds is not None:
            bounds.check(ranges[0], "bid")
            bounds.check(ranges[1], "ask")
        if self.state is not BookState.LIVE:
            return
        bid, ask = self.book.best_bid(), self.book.best_ask()
        if bid is None or ask is None:
            return
        mid = (bid[0] + ask[0]) / 2
        if isinstance(event, BookDelta):
            check_against_mid(mid, bids, asks, f"update {event.sequence.last}", ranges)
            return
        resting_bids = [level for level in bids if level[1]]
        resting_asks = [level for level in asks if level[1]]
        check_against_mid(
            mid,
            [max(resting_bids)] if resting_bids else [],
            [min(resting_asks)] if resting_asks else [],
            f"snapshot {event.sequence.last} best",
        )

    def on_snapshot(self, snapshot: BookSnapshot) -> list[Outcome]:
        last = snapshot.sequence.last
        if (
            not self.snapshot_always_resets
            and self.state is BookState.LIVE
            and self.last_seq is not None
            and last < self.last_seq
        ):
            self.counters.stale_snapshots += 1
            return []
        self.counters.snapshots += 1
        self.book.clear()
        self.book.apply_bids(snapshot.bids)
        self.book.apply_asks(snapshot.asks)
        self.last_seq = last
        self.state = BookState.LIVE
        self._first_after_snapshot = True
        outcomes: list[Outcome] = []
        if self.book.is_crossed():
            self.counters.crossed += 1
            return self._invalidate(
                InvalidReason.CROSSED,
                f"snapshot {last} is crossed",
                snapshot.exchange_ts,
                snapshot.receive_ts,
            )
        if not self._checksum_matches(snapshot.checksum):
            return self._invalidate(
                InvalidReason.CHECKSUM,
                f"snapshot {last} does not match checksum {snapshot.checksum}",
                snapshot.exchange_ts,
                snapshot.receive_ts,
            )
        resyncing, self._resyncing = self._resyncing, False
        self._emit(last, snapshot.exchange_ts, snapshot.receive_ts, outcomes)
        if self._buffer:
            buffered = list(self._buffer)
            self._buffer.clear()
            for delta in buffered:
                outcomes.extend(self.on_delta(delta))
        if self.state is not BookState.LIVE:
            # The buffered deltas do not connect to this snapshot (it is older than they are):
            # what it showed is already known to be behind, so only the invalidation goes out.
            last_break = max(i for i, o in enumerate(outcomes) if isinstance(o, BookInvalidated))
            return outcomes[last_break:]
        if resyncing:
            self.counters.resyncs += 1
        return outcomes

    def on_delta(self, delta: BookDelta) -> list[Outcome]:
        if self.state is BookState.AWAITING_SNAPSHOT:
            self._buffer_delta(delta)
            return []
        sequence = delta.sequence
        book_last: int = self.last_seq  # type: ignore[assignment]  # always set while LIVE
        if self._first_after_snapshot:
            verdict = self.rule.first_after_snapshot(sequence, book_last)
        else:
            verdict = self.rule.next(sequence, book_last)
        if verdict is Verdict.STALE:
            self.counters.stale += 1
            return []
        if verdict is Verdict.GAP:
            self.counters.gaps += 1
            invalidated = self._invalidate(
                InvalidReason.GAP,
                f"sequence gap: book at {book_last}, delta {sequence.first}..{sequence.last} "
                f"(prev {sequence.prev}) under the {self.rule.name} rule",
                delta.exchange_ts,
                delta.receive_ts,
            )
            self._buffer_delta(delta)  # it may follow the next snapshot
            return invalidated
        book = self.book
        changed = book.apply_bids(delta.bids) + book.apply_asks(delta.asks)
        self.last_seq = sequence.last
        self._first_after_snapshot = False
        counters = self.counters
        counters.applied += 1
        counters.level_updates += changed
        if book.is_crossed():
            counters.crossed += 1
            return self._invalidate(
                InvalidReason.CROSSED,
                f"crossed or locked after update {sequence.last}",
                delta.exchange_ts,
                delta.receive_ts,
            )
        checksum = delta.checksum
        if checksum and self.checksum is not None and not self._checksum_matches(checksum):
            return self._invalidate(
                InvalidReason.CHECKSUM,
                f"update {sequence.last} does not match checksum {checksum}",
                delta.exchange_ts,
                delta.receive_ts,
            )
        if not changed:
            return []  # a heartbeat (OKX sends empty updates that repeat the id)
        outcomes: list[Outcome] = []
        self._emit(sequence.last, delta.exchange_ts, delta.receive_ts, outcomes)
        return outcomes

    # --- checkpoints ---------------------------------------------------------------------

    def checkpoint(self) -> BuilderCheckpoint | None:
        """The full state of a LIVE book; None while waiting for a snapshot (nothing to keep)."""
        if self.state is not BookState.LIVE or self.last_seq is None:
            return None
        return BuilderCheckpoint(
            last_seq=self.last_seq,
            first_after_snapshot=self._first_after_snapshot,
            bids=self.book.bids(),
            asks=self.book.asks(),
            published_top=self._published_top,
            top_seq=self._top_seq,
            depth_seq=self._depth_seq,
            last_depth_ts=self._last_depth_ts,
            depth_pending=self._depth_pending,
            counters=replace(self.counters),
        )

    def restore(self, checkpoint: BuilderCheckpoint) -> None:
        self.book.clear()
        self.book.apply_bids(checkpoint.bids)
        self.book.apply_asks(checkpoint.asks)
        self.last_seq = checkpoint.last_seq
        self.state = BookState.LIVE
        self._first_after_snapshot = checkpoint.first_after_snapshot
        self._buffer.clear()
        self._published_top = checkpoint.published_top
        self._top_seq = checkpoint.top_seq
        self._depth_seq = checkpoint.depth_seq
        self._last_depth_ts = checkpoint.last_depth_ts
        self._depth_pending = checkpoint.depth_pending
        self._resyncing = False
        self.counters = replace(checkpoint.counters)

    # --- internals -----------------------------------------------------------------------

    def _buffer_delta(self, delta: BookDelta) -> None:
        if not self.rule.places_deltas:
            self.counters.stale += 1
            return
        if len(self._buffer) == self._buffer.maxlen:
            # The oldest delta goes: it is the most likely to be older than the next snapshot.
            self.counters.buffer_overflows += 1
        self._buffer.append(delta)

    def _checksum_matches(self, expected: int | None) -> bool:
        spec = self.checksum
        if spec is None or not expected:
            return True
        self.counters.checksum_checks += 1
        actual = spec.compute(self.book.bids(spec.depth), self.book.asks(spec.depth))
        if actual == expected:
            return True
        self.counters.checksum_failures += 1
        return False

    def _invalidate(
        self, kind: InvalidReason, reason: str, exchange_ts: int, receive_ts: int
    ) -> list[Outcome]:
        consistent_at = self.last_seq if self.state is BookState.LIVE and kind is InvalidReason.GAP else None
        self.state = BookState.AWAITING_SNAPSHOT
        self.book.clear()
        self.last_seq = None
        # The next consistent book publishes its top and its depth at once.
        self._published_top = None
        self._last_depth_ts = None
        self._depth_pending = False
        self._resyncing = True
        self._depth_seq += 1
        return [BookInvalidated(kind, reason, consistent_at, self._depth_seq, exchange_ts, receive_ts)]

    def _emit(self, venue_seq: int, exchange_ts: int, receive_ts: int, out: list[Outcome]) -> None:
        book = self.book
        bid, ask = book.best_bid(), book.best_ask()
        if bid is not None and ask is not None:
            top = (bid[0], bid[1], ask[0], ask[1])
            if top != self._published_top:
                self._published_top = top
                self._top_seq += 1
                out.append(TopOfBook(*top, venue_seq, self._top_seq, exchange_ts, receive_ts))
        last_depth = self._last_depth_ts
        if last_depth is None or exchange_ts - last_depth >= self.depth_interval_ns:
            self._last_depth_ts = exchange_ts
            self._depth_pending = False
            self._depth_seq += 1
            depth = self.depth
            out.append(
                DepthSnapshot(
                    book.bids(depth), book.asks(depth), venue_seq, self._depth_seq, exchange_ts, receive_ts
                )
            )
        else:
            self._depth_pending = True
