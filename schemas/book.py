"""Outputs of the book-builder (``book.*`` topics)."""

from pydantic import Field

from schemas.common import InstrumentEvent, NonNegativeDecimal, PositiveDecimal


class BookTop(InstrumentEvent):
    """Best bid and offer of a validated book (``book.bbo.v1``), published on every top change.

    Only consistent books are published: never while a gap is being resynced, never crossed.
    ``exchange_ts`` and ``receive_ts`` are those of the venue frame that produced this top.
    """

    venue_seq: int = Field(description="Venue update id the book reflects (Binance u).")
    book_seq: int = Field(ge=0, description="Builder's own counter of published tops for this book.")
    bid_price: PositiveDecimal
    bid_quantity: NonNegativeDecimal
    ask_price: PositiveDecimal
    ask_quantity: NonNegativeDecimal
