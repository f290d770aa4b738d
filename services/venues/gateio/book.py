"""Gate.io: contiguous ``U``..``u`` ranges; books start from the REST order book."""

from services.book_builder.core.rules import BookSpec, SnapshotSource
from services.book_builder.core.sequence import ContiguousRangeRule

BOOK_SPEC = BookSpec(ContiguousRangeRule("gateio"), SnapshotSource.REST)
