"""Bitget's book continuity rule, as documented (sources in services/book_builder/core/sequence.py)."""

import pytest

from schemas.common import ExchangeId
from schemas.market_data import BookSequence
from services.book_builder.core.sequence import Verdict
from tests.venues.book_rules import APPLY, GAP, STALE, seq, verdict_of

# (first delta after a snapshot?, book id, delta ids, verdict, why)
CASES = [
    # Bitget: pseq chains when sent, otherwise seq must increase.
    (False, 820531524124, seq(820531530480, prev=820531524124), APPLY, "pseq chains"),
    (False, 820531524124, seq(820531530480, prev=820531525000), GAP, "pseq skips"),
    (False, 820531524124, seq(820531530480), APPLY, "no pseq: newer seq"),
    (False, 820531524124, seq(820531524000), STALE, "no pseq: older seq"),
]


@pytest.mark.parametrize(
    ("first", "book_last", "delta", "expected", "why"), CASES, ids=[c[-1] for c in CASES]
)
def test_book_rule(first: bool, book_last: int, delta: BookSequence, expected: Verdict, why: str) -> None:
    assert verdict_of(ExchangeId.BITGET, first, book_last, delta) is expected, why
