"""Deribit: ``prev_change_id`` chains to ``change_id``; the snapshot comes on subscribe."""

from services.book_builder.core.rules import BookSpec, SnapshotSource
from services.book_builder.core.sequence import PrevIdSequenceRule

BOOK_SPEC = BookSpec(PrevIdSequenceRule("deribit"), SnapshotSource.STREAM)
