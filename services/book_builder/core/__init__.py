"""The book-builder's pure core: no I/O, no clock, deterministic for a given input order."""

from services.book_builder.core.book import L2Book, Level
from services.book_builder.core.builder import (
    BookBuilder,
    BookInvalidated,
    BookState,
    BuilderCheckpoint,
    BuilderCounters,
    DepthSnapshot,
    InvalidReason,
    Outcome,
    TopOfBook,
)
from services.book_builder.core.checksum import ChecksumSpec, WireUnits, interleaved_crc32
from services.book_builder.core.decode import RejectedInput, decode_book_event
from services.book_builder.core.rules import BookSpec, SnapshotSource
from services.book_builder.core.sequence import (
    BinanceSequenceRule,
    ContiguousRangeRule,
    IncreasingRule,
    PrevIdSequenceRule,
    SequenceRule,
    SnapshotOnlyRule,
    StreamOrderRule,
    Verdict,
)

__all__ = [
    "BinanceSequenceRule",
    "BookBuilder",
    "BookInvalidated",
    "BookSpec",
    "BookState",
    "BuilderCheckpoint",
    "BuilderCounters",
    "ChecksumSpec",
    "ContiguousRangeRule",
    "DepthSnapshot",
    "IncreasingRule",
    "InvalidReason",
    "L2Book",
    "Level",
    "Outcome",
    "PrevIdSequenceRule",
    "RejectedInput",
    "SequenceRule",
    "SnapshotOnlyRule",
    "SnapshotSource",
    "StreamOrderRule",
    "TopOfBook",
    "Verdict",
    "WireUnits",
    "decode_book_event",
    "interleaved_crc32",
]
