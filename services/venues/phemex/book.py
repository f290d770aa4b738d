"""Phemex: increasing sequence numbers; the snapshot comes on subscribe."""

from services.book_builder.core.rules import BookSpec, SnapshotSource
from services.book_builder.core.sequence import IncreasingRule

BOOK_SPEC = BookSpec(IncreasingRule("phemex"), SnapshotSource.STREAM)
