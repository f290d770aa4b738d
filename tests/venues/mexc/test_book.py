"""MEXC's book continuity rule, as documented (sources in services/book_builder/core/sequence.py)."""

import pytest

from schemas.common import ExchangeId
from schemas.market_data import BookSequence
from services.book_builder.core.sequence import Verdict
from tests.venues.book_rules import APPLY, GAP, STALE, seq, verdict_of

# (first delta after a snapshot?, book id, delta ids, verdict, why)
CASES = [
    # MEXC: version == previous version + 1.
    (True, 500, seq(501, first=501), APPLY, "version + 1"),
    (False, 501, seq(503, first=503), GAP, "version skipped"),
    (False, 501, seq(500, first=500), STALE, "older version"),
]


@pytest.mark.parametrize(
    ("first", "book_last", "delta", "expected", "why"), CASES, ids=[c[-1] for c in CASES]
)
def test_book_rule(first: bool, book_last: int, delta: BookSequence, expected: Verdict, why: str) -> None:
    assert verdict_of(ExchangeId.MEXC, first, book_last, delta) is expected, why
