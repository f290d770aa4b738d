"""Binance USD-M: ``U``/``u``/``pu`` update ids on diffs only; books start from the REST depth snapshot."""

from services.book_builder.core.rules import BookSpec, SnapshotSource
from services.book_builder.core.sequence import BinanceSequenceRule

BOOK_SPEC = BookSpec(BinanceSequenceRule(), SnapshotSource.REST)
