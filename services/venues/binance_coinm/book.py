"""Binance COIN-M: the USD-M rule (``U``/``u``/``pu``); books start from the REST depth snapshot."""

from services.book_builder.core.rules import BookSpec, SnapshotSource
from services.book_builder.core.sequence import BinanceSequenceRule

BOOK_SPEC = BookSpec(BinanceSequenceRule(), SnapshotSource.REST)
