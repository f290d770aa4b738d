"""CoinDCX futures: full depth snapshots; should the parser ever emit diffs, ordering by the
message version is all that can be checked."""

from services.book_builder.core.rules import BookSpec, SnapshotSource
from services.book_builder.core.sequence import IncreasingRule

BOOK_SPEC = BookSpec(IncreasingRule("coindcx"), SnapshotSource.STREAM)
