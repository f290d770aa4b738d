"""OKX's book continuity rule, as documented (sources in services/book_builder/core/sequence.py)."""

import pytest

from schemas.common import ExchangeId
from schemas.market_data import BookSequence
from services.book_builder.core.sequence import Verdict
from tests.venues.book_rules import APPLY, GAP, STALE, seq, verdict_of

# (first delta after a snapshot?, book id, delta ids, verdict, why)
CASES = [
    # OKX: prevSeqId == book seqId; heartbeat repeats the id; a reset goes below prevSeqId.
    (True, 100, seq(103, prev=100), APPLY, "prevSeqId chains to the snapshot"),
    (False, 103, seq(103, prev=103), APPLY, "heartbeat: no change, same id"),
    (False, 103, seq(5, prev=103), APPLY, "id reset after maintenance"),
    (False, 103, seq(110, prev=105), GAP, "a message is missing"),
    (False, 103, seq(101, prev=99), STALE, "older than the book"),
    (False, 103, seq(110), GAP, "an update must carry prevSeqId"),
]


@pytest.mark.parametrize(
    ("first", "book_last", "delta", "expected", "why"), CASES, ids=[c[-1] for c in CASES]
)
def test_book_rule(first: bool, book_last: int, delta: BookSequence, expected: Verdict, why: str) -> None:
    assert verdict_of(ExchangeId.OKX, first, book_last, delta) is expected, why
