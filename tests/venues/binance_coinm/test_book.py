"""Binance COIN-M's book continuity rule, as documented (sources in services/book_builder/core/sequence.py)."""

import pytest

from schemas.common import ExchangeId
from schemas.market_data import BookSequence
from services.book_builder.core.sequence import Verdict
from tests.venues.book_rules import APPLY, seq, verdict_of

# (first delta after a snapshot?, book id, delta ids, verdict, why)
CASES = [
    # Binance: drop u < lastUpdateId; first has U <= lastUpdateId <= u; then pu == previous u.
    (False, 7, seq(9, first=8, prev=7), APPLY, "COIN-M is the same rule"),
]


@pytest.mark.parametrize(
    ("first", "book_last", "delta", "expected", "why"), CASES, ids=[c[-1] for c in CASES]
)
def test_book_rule(first: bool, book_last: int, delta: BookSequence, expected: Verdict, why: str) -> None:
    assert verdict_of(ExchangeId.BINANCE_COINM, first, book_last, delta) is expected, why
