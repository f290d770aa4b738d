"""Deribit's book continuity rule, as documented (sources in services/book_builder/core/sequence.py)."""

import pytest

from schemas.common import ExchangeId
from schemas.market_data import BookSequence
from services.book_builder.core.sequence import Verdict
from tests.venues.book_rules import APPLY, GAP, seq, verdict_of

# (first delta after a snapshot?, book id, delta ids, verdict, why)
CASES = [
    # Deribit: prev_change_id == previous change_id.
    (True, 50, seq(57, prev=50), APPLY, "chains to the snapshot"),
    (False, 57, seq(60, prev=58), GAP, "a change is missing"),
]


@pytest.mark.parametrize(
    ("first", "book_last", "delta", "expected", "why"), CASES, ids=[c[-1] for c in CASES]
)
def test_book_rule(first: bool, book_last: int, delta: BookSequence, expected: Verdict, why: str) -> None:
    assert verdict_of(ExchangeId.DERIBIT, first, book_last, delta) is expected, why
