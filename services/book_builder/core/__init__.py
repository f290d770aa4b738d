"""The book-builder's pure core: no I/O, no clock, deterministic for a given input order."""

from services.book_builder.core.book import L2Book
from services.book_builder.core.builder import BookBuilder, BookState, BuilderCounters, TopOfBook
from services.book_builder.core.sequence import BinanceSequenceRule, SequenceRule, Verdict

__all__ = [
    "BinanceSequenceRule",
    "BookBuilder",
    "BookState",
    "BuilderCounters",
    "L2Book",
    "SequenceRule",
    "TopOfBook",
    "Verdict",
]
