"""KuCoin Futures's book continuity rule, as documented (sources in services/book_builder/core/sequence.py)."""

import pytest

from schemas.common import ExchangeId
from schemas.market_data import BookSequence
from services.book_builder.core.sequence import Verdict
from tests.venues.book_rules import APPLY, GAP, STALE, seq, verdict_of

# (first delta after a snapshot?, book id, delta ids, verdict, why)
CASES = [
    # KuCoin futures: one change per message, sequence continuous.
    (True, 16, seq(16, first=16), STALE, "the snapshot's own sequence"),
    (True, 16, seq(17, first=17), APPLY, "the next sequence"),
    (False, 17, seq(19, first=19), GAP, "18 is missing"),
]


@pytest.mark.parametrize(
    ("first", "book_last", "delta", "expected", "why"), CASES, ids=[c[-1] for c in CASES]
)
def test_book_rule(first: bool, book_last: int, delta: BookSequence, expected: Verdict, why: str) -> None:
    assert verdict_of(ExchangeId.KUCOIN_FUTURES, first, book_last, delta) is expected, why
