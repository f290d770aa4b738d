"""Is a venue's book stream still continuous? The light check an ingestor keeps per connection.

The book builder rebuilds the books; an ingestor only needs to know when one symbol's stream broke,
so that on venues that send their snapshots on the stream (OKX, Bybit, Bitget, Deribit, ...) it can
resubscribe that one symbol (the venue answers with a fresh snapshot) instead of leaving the book
broken until the next reconnect. The same venue rules as the builder's (the venue's ``BookSpec``), no levels.
Pure and deterministic: the shell feeds it the book events of one session.
"""

from dataclasses import dataclass

from schemas.market_data import BookSequence
from services.book_builder.core.rules import BookSpec, SnapshotSource
from services.book_builder.core.sequence import SequenceRule, Verdict


@dataclass
class _Stream:
    last: int | None = None
    """The id the book is at (the snapshot's, then the last applied delta's); None: no ids."""
    first_after_snapshot: bool = True
    broken: bool = False


class ContinuityWatch:
    """One session's book streams of one venue; ``on_delta`` says when a stream breaks."""

    def __init__(self, rule: SequenceRule) -> None:
        self.rule = rule
        self._streams: dict[str, _Stream] = {}
        self.breaks = 0

    def reset(self) -> None:
        """A new session: every stream starts again from its next snapshot."""
        self._streams.clear()

    def on_snapshot(self, native_symbol: str, sequence: BookSequence | None) -> None:
        self._streams[native_symbol] = _Stream(sequence.last if sequence is not None else None)

    def on_delta(self, native_symbol: str, sequence: BookSequence | None) -> bool:
        """True when this delta breaks the symbol's stream; said once per break, until the next
        snapshot. Deltas before the session's first snapshot, or without ids, are not judged."""
        stream = self._streams.get(native_symbol)
        if stream is None or stream.broken or sequence is None or stream.last is None:
            return False
        if stream.first_after_snapshot:
            verdict = self.rule.first_after_snapshot(sequence, stream.last)
        else:
            verdict = self.rule.next(sequence, stream.last)
        if verdict is Verdict.APPLY:
            stream.last = sequence.last
            stream.first_after_snapshot = False
        elif verdict is Verdict.GAP:
            stream.broken = True
            self.breaks += 1
            return True
        return False

    def broken(self, native_symbol: str) -> bool:
        stream = self._streams.get(native_symbol)
        return stream is not None and stream.broken


def continuity_watch_for(spec: BookSpec) -> ContinuityWatch | None:
    """A watch for venues whose books restart from a snapshot on the stream; None for venues whose
    books start from REST (the book builder fetches those snapshots itself)."""
    if spec.snapshot_source is not SnapshotSource.STREAM:
        return None
    return ContinuityWatch(spec.rule)
