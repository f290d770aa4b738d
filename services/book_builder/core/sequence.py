"""Venue continuity rules: does this delta follow what the book already holds?

Each venue documents its own rule; a rule object answers for one delta, given the update id
the book is at. It never mutates anything, which keeps the builder's state in one place.
"""

from enum import Enum
from typing import Protocol

from schemas.market_data import BookSequence


class Verdict(Enum):
    APPLY = "apply"
    STALE = "stale"  # already contained in the book (e.g. older than the snapshot): skip it
    GAP = "gap"  # something is missing between the book and this delta: resync


class SequenceRule(Protocol):
    def first_after_snapshot(self, delta: BookSequence, snapshot_last: int) -> Verdict: ...

    def next(self, delta: BookSequence, book_last: int) -> Verdict: ...


class BinanceSequenceRule:
    """Binance USD-M and COIN-M ("How to manage a local order book correctly").

    After a snapshot with ``lastUpdateId`` L: drop deltas with ``u < L``; the first applied delta
    has ``U <= L <= u``. After that each delta's ``pu`` equals the previous delta's ``u``.
    """

    def first_after_snapshot(self, delta: BookSequence, snapshot_last: int) -> Verdict:
        if delta.last < snapshot_last:
            return Verdict.STALE
        first = delta.first if delta.first is not None else delta.last
        return Verdict.APPLY if first <= snapshot_last else Verdict.GAP

    def next(self, delta: BookSequence, book_last: int) -> Verdict:
        if delta.last <= book_last:
            return Verdict.STALE
        return Verdict.APPLY if delta.prev == book_last else Verdict.GAP
