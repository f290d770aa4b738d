"""KuCoin Futures: one sequence per level change, contiguous; books start from the REST snapshot."""

from services.book_builder.core.rules import BookSpec, SnapshotSource
from services.book_builder.core.sequence import ContiguousRangeRule

BOOK_SPEC = BookSpec(ContiguousRangeRule("kucoin_futures"), SnapshotSource.REST)
