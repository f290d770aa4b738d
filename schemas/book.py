"""Outputs of the book-builder (``book.*`` topics)."""

from enum import StrEnum

from pydantic import Field, model_validator

from schemas.common import InstrumentEvent, NonNegativeDecimal, PositiveDecimal
from schemas.market_data import PriceLevel


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


class BookStatus(StrEnum):
    VALID = "valid"
    INVALID = "invalid"


class BookDepth(InstrumentEvent):
    """Top levels of a validated book (``book.l2.v1``), throttled per book by event time.

    A ``valid`` message carries the top ``depth`` levels per side of a consistent book (never
    crossed). An ``invalid`` message is published at once when the venue's continuity rule
    breaks (sequence gap, checksum mismatch, crossed book): it carries no levels, and the book
    stays invalid until a ``valid`` message follows the resync.
    """

    status: BookStatus
    reason: str = Field(default="", description="Why the book became invalid; empty when valid.")
    book_seq: int = Field(ge=0, description="Builder's counter of book.l2.v1 messages for this book.")
    venue_seq: int | None = Field(
        description="Venue update id the levels reflect (for an invalid book: the last consistent id, if any)."
    )
    depth: int = Field(gt=0, description="Levels requested per side (fewer when the book is shallower).")
    bids: list[PriceLevel] = Field(description="Best (highest) first.")
    asks: list[PriceLevel] = Field(description="Best (lowest) first.")

    @model_validator(mode="after")
    def _consistent(self) -> "BookDepth":
        if self.status is BookStatus.INVALID and (self.bids or self.asks):
            raise ValueError("an invalid book carries no levels")
        if self.bids and self.asks and self.bids[0][0] >= self.asks[0][0]:
            raise ValueError("a valid book is never crossed or locked")
        return self
