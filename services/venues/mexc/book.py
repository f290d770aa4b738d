"""MEXC: consecutive versions; books start from the REST depth snapshot."""

from services.book_builder.core.rules import BookSpec, SnapshotSource
from services.book_builder.core.sequence import ContiguousRangeRule

BOOK_SPEC = BookSpec(ContiguousRangeRule("mexc"), SnapshotSource.REST)
