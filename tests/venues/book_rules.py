"""What the venues' book-rule tests (``tests/venues/<exchange>/test_book.py``) share."""

from schemas.common import ExchangeId
from schemas.market_data import BookSequence
from services.book_builder.core.sequence import Verdict
from services.venues import book_spec_for

APPLY, STALE, GAP = Verdict.APPLY, Verdict.STALE, Verdict.GAP


def seq(last: int, *, first: int | None = None, prev: int | None = None) -> BookSequence:
    return BookSequence(first=first, last=last, prev=prev)


def verdict_of(exchange: ExchangeId, first: bool, book_last: int, delta: BookSequence) -> Verdict:
    """The venue's rule on ``delta``: as the first delta after a snapshot at ``book_last``, or next."""
    rule = book_spec_for(exchange).rule
    return rule.first_after_snapshot(delta, book_last) if first else rule.next(delta, book_last)
