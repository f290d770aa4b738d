"""Binance USD-M's book continuity rule, as documented (sources in services/book_builder/core/sequence.py)."""

import pytest

from schemas.common import ExchangeId
from schemas.market_data import BookSequence
from services.book_builder.core.sequence import Verdict
from tests.venues.book_rules import APPLY, GAP, STALE, seq, verdict_of

# (first delta after a snapshot?, book id, delta ids, verdict, why)
CASES = [
    # Binance: drop u < lastUpdateId; first has U <= lastUpdateId <= u; then pu == previous u.
    (True, 100, seq(95, first=90, prev=89), STALE, "older than the snapshot"),
    (True, 100, seq(105, first=96, prev=95), APPLY, "straddles the snapshot"),
    (True, 100, seq(100, first=100, prev=99), APPLY, "ends at the snapshot id"),
    (True, 100, seq(110, first=102, prev=101), GAP, "starts after the snapshot"),
    (True, 100, seq(110, first=101, prev=100), APPLY, "pu is the snapshot id"),
    (False, 105, seq(110, first=106, prev=105), APPLY, "pu chains"),
    (False, 105, seq(110, first=107, prev=106), GAP, "pu does not chain"),
    (False, 105, seq(105, first=104, prev=103), STALE, "a repeat"),
]


@pytest.mark.parametrize(
    ("first", "book_last", "delta", "expected", "why"), CASES, ids=[c[-1] for c in CASES]
)
def test_book_rule(first: bool, book_last: int, delta: BookSequence, expected: Verdict, why: str) -> None:
    assert verdict_of(ExchangeId.BINANCE_USDM, first, book_last, delta) is expected, why
