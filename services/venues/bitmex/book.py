"""BitMEX: no sequence ids, stream order; ``partial`` is the snapshot."""

from services.book_builder.core.rules import BookSpec, SnapshotSource
from services.book_builder.core.sequence import StreamOrderRule

BOOK_SPEC = BookSpec(StreamOrderRule("bitmex"), SnapshotSource.STREAM)
