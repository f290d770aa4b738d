"""Bitget: every part perpwatch has for the venue (see ``services/venues/__init__.py``)."""

from schemas.common import ExchangeId
from services.venues.parts import VenueParts

PARTS = VenueParts(
    exchange=ExchangeId.BITGET,
    adapter="adapter:BitgetAdapter",
    dialect="dialect:BitgetDialect",
    book_spec="book:BOOK_SPEC",
    instruments="instruments.json",
    history="history:BitgetHistory",
)
