"""OKX: ``prevSeqId`` chains to ``seqId``; the snapshot comes on subscribe; CRC32 checksum (0: not sent)."""

from services.book_builder.core.checksum import interleaved_crc32
from services.book_builder.core.rules import BookSpec, SnapshotSource
from services.book_builder.core.sequence import PrevIdSequenceRule

BOOK_SPEC = BookSpec(PrevIdSequenceRule("okx"), SnapshotSource.STREAM, checksum=interleaved_crc32)
