"""Bybit: consecutive update ids ``u``; a snapshot comes on subscribe (and whenever Bybit resends one)."""

from services.book_builder.core.rules import BookSpec, SnapshotSource
from services.book_builder.core.sequence import ContiguousRangeRule

BOOK_SPEC = BookSpec(ContiguousRangeRule("bybit"), SnapshotSource.STREAM)
