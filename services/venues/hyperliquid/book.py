"""Hyperliquid: every ``l2Book`` message is a full book."""

from services.book_builder.core.rules import BookSpec, SnapshotSource
from services.book_builder.core.sequence import SnapshotOnlyRule

BOOK_SPEC = BookSpec(SnapshotOnlyRule("hyperliquid"), SnapshotSource.STREAM)
