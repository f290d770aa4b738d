"""A new venue: copy this folder to ``services/venues/<exchange id>/`` (README.md says how)."""

from services.venues.parts import VenueParts, placeholder

PARTS = VenueParts(
    # ExchangeId.<NAME>, once the venue is in schemas.common.ExchangeId.
    exchange=placeholder("the venue's ExchangeId in PARTS"),
    adapter="adapter:TemplateAdapter",
    dialect="dialect:TemplateDialect",
    book_spec="book:BOOK_SPEC",
    instruments="instruments.json",
    # Optional: None when the venue has no history endpoints to backfill from (then delete history.py).
    history="history:TemplateHistory",
)
