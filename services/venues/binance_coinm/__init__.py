"""Binance COIN-M futures: every part perpwatch has for the venue (see ``services/venues/__init__.py``)."""

from schemas.common import ExchangeId
from services.venues.parts import VenueParts

PARTS = VenueParts(
    exchange=ExchangeId.BINANCE_COINM,
    adapter="adapter:BinanceCoinmAdapter",
    dialect="dialect:BinanceCoinmDialect",
    book_spec="book:BOOK_SPEC",
    instruments="instruments.json",
    history="history:BinanceCoinmHistory",
)
