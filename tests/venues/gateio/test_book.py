"""Gate.io's book continuity rule, as documented (sources in services/book_builder/core/sequence.py)."""

import pytest

from schemas.common import ExchangeId
from schemas.market_data import BookSequence
from services.book_builder.core.sequence import Verdict
from tests.venues.book_rules import APPLY, GAP, STALE, seq, verdict_of

# (first delta after a snapshot?, book id, delta ids, verdict, why)
CASES = [
    # Gate.io: U <= base+1 <= u applies, u < base+1 is stale, U > base+1 is a gap.
    (True, 100, seq(100, first=95), STALE, "u < baseId + 1"),
    (True, 100, seq(105, first=99), APPLY, "contains baseId + 1"),
    (True, 100, seq(105, first=101), APPLY, "starts at baseId + 1"),
    (True, 100, seq(105, first=102), GAP, "U > baseId + 1"),
    (False, 105, seq(110, first=106), APPLY, "next range"),
]


@pytest.mark.parametrize(
    ("first", "book_last", "delta", "expected", "why"), CASES, ids=[c[-1] for c in CASES]
)
def test_book_rule(first: bool, book_last: int, delta: BookSequence, expected: Verdict, why: str) -> None:
    assert verdict_of(ExchangeId.GATEIO, first, book_last, delta) is expected, why
