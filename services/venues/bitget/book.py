"""Bitget: ``pseq`` chains to ``seq`` (ordered when absent); the snapshot comes on subscribe; CRC32 checksum."""

from services.book_builder.core.checksum import interleaved_crc32
from services.book_builder.core.rules import BookSpec, SnapshotSource
from services.book_builder.core.sequence import PrevIdSequenceRule

BOOK_SPEC = BookSpec(
    PrevIdSequenceRule("bitget", ordered_without_prev=True), SnapshotSource.STREAM, checksum=interleaved_crc32
)
