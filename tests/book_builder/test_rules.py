"""Each venue's continuity rule, as documented (sources in services/book_builder/core/sequence.py)."""

import pytest

from schemas.common import ExchangeId
from schemas.market_data import BookSequence
from services.book_builder.core.rules import SnapshotSource, book_spec_for
from services.book_builder.core.sequence import Verdict

APPLY, STALE, GAP = Verdict.APPLY, Verdict.STALE, Verdict.GAP


def seq(last: int, *, first: int | None = None, prev: int | None = None) -> BookSequence:
    return BookSequence(first=first, last=last, prev=prev)


# (venue, first delta after a snapshot?, book id, delta ids, verdict, why)
CASES = [
    # Binance: drop u < lastUpdateId; first has U <= lastUpdateId <= u; then pu == previous u.
    (ExchangeId.BINANCE_USDM, True, 100, seq(95, first=90, prev=89), STALE, "older than the snapshot"),
    (ExchangeId.BINANCE_USDM, True, 100, seq(105, first=96, prev=95), APPLY, "straddles the snapshot"),
    (ExchangeId.BINANCE_USDM, True, 100, seq(100, first=100, prev=99), APPLY, "ends at the snapshot id"),
    (ExchangeId.BINANCE_USDM, True, 100, seq(110, first=102, prev=101), GAP, "starts after the snapshot"),
    (ExchangeId.BINANCE_USDM, True, 100, seq(110, first=101, prev=100), APPLY, "pu is the snapshot id"),
    (ExchangeId.BINANCE_USDM, False, 105, seq(110, first=106, prev=105), APPLY, "pu chains"),
    (ExchangeId.BINANCE_USDM, False, 105, seq(110, first=107, prev=106), GAP, "pu does not chain"),
    (ExchangeId.BINANCE_USDM, False, 105, seq(105, first=104, prev=103), STALE, "a repeat"),
    (ExchangeId.BINANCE_COINM, False, 7, seq(9, first=8, prev=7), APPLY, "COIN-M is the same rule"),
    # OKX: prevSeqId == book seqId; heartbeat repeats the id; a reset goes below prevSeqId.
    (ExchangeId.OKX, True, 100, seq(103, prev=100), APPLY, "prevSeqId chains to the snapshot"),
    (ExchangeId.OKX, False, 103, seq(103, prev=103), APPLY, "heartbeat: no change, same id"),
    (ExchangeId.OKX, False, 103, seq(5, prev=103), APPLY, "id reset after maintenance"),
    (ExchangeId.OKX, False, 103, seq(110, prev=105), GAP, "a message is missing"),
    (ExchangeId.OKX, False, 103, seq(101, prev=99), STALE, "older than the book"),
    (ExchangeId.OKX, False, 103, seq(110), GAP, "an update must carry prevSeqId"),
    # Deribit: prev_change_id == previous change_id.
    (ExchangeId.DERIBIT, True, 50, seq(57, prev=50), APPLY, "chains to the snapshot"),
    (ExchangeId.DERIBIT, False, 57, seq(60, prev=58), GAP, "a change is missing"),
    # Gate.io: U <= base+1 <= u applies, u < base+1 is stale, U > base+1 is a gap.
    (ExchangeId.GATEIO, True, 100, seq(100, first=95), STALE, "u < baseId + 1"),
    (ExchangeId.GATEIO, True, 100, seq(105, first=99), APPLY, "contains baseId + 1"),
    (ExchangeId.GATEIO, True, 100, seq(105, first=101), APPLY, "starts at baseId + 1"),
    (ExchangeId.GATEIO, True, 100, seq(105, first=102), GAP, "U > baseId + 1"),
    (ExchangeId.GATEIO, False, 105, seq(110, first=106), APPLY, "next range"),
    # KuCoin futures: one change per message, sequence continuous.
    (ExchangeId.KUCOIN_FUTURES, True, 16, seq(16, first=16), STALE, "the snapshot's own sequence"),
    (ExchangeId.KUCOIN_FUTURES, True, 16, seq(17, first=17), APPLY, "the next sequence"),
    (ExchangeId.KUCOIN_FUTURES, False, 17, seq(19, first=19), GAP, "18 is missing"),
    # Bybit: u continuous.
    (ExchangeId.BYBIT, True, 13079592, seq(13079593), APPLY, "u + 1"),
    (ExchangeId.BYBIT, False, 13079593, seq(13079595), GAP, "u skipped one"),
    # MEXC: version == previous version + 1.
    (ExchangeId.MEXC, True, 500, seq(501, first=501), APPLY, "version + 1"),
    (ExchangeId.MEXC, False, 501, seq(503, first=503), GAP, "version skipped"),
    (ExchangeId.MEXC, False, 501, seq(500, first=500), STALE, "older version"),
    # Phemex: sequence is shared with other events: only order is checked.
    (ExchangeId.PHEMEX, True, 17652788219, seq(17652788961), APPLY, "newer, not contiguous"),
    (ExchangeId.PHEMEX, False, 17652788961, seq(17652788961), STALE, "not newer"),
    # Bitget: pseq chains when sent, otherwise seq must increase.
    (ExchangeId.BITGET, False, 820531524124, seq(820531530480, prev=820531524124), APPLY, "pseq chains"),
    (ExchangeId.BITGET, False, 820531524124, seq(820531530480, prev=820531525000), GAP, "pseq skips"),
    (ExchangeId.BITGET, False, 820531524124, seq(820531530480), APPLY, "no pseq: newer seq"),
    (ExchangeId.BITGET, False, 820531524124, seq(820531524000), STALE, "no pseq: older seq"),
    # BitMEX: no ids at all; every delta applies in stream order.
    (ExchangeId.BITMEX, True, 0, seq(0), APPLY, "first after partial"),
    (ExchangeId.BITMEX, False, 0, seq(0), APPLY, "stream order"),
    # Hyperliquid: full snapshots only; a delta cannot be placed.
    (ExchangeId.HYPERLIQUID, False, 1, seq(2), GAP, "no deltas on this venue"),
]


@pytest.mark.parametrize(
    ("exchange", "first", "book_last", "delta", "verdict", "why"), CASES, ids=[c[-1] for c in CASES]
)
def test_venue_rule(
    exchange: ExchangeId, first: bool, book_last: int, delta: BookSequence, verdict: Verdict, why: str
) -> None:
    rule = book_spec_for(exchange).rule
    got = rule.first_after_snapshot(delta, book_last) if first else rule.next(delta, book_last)
    assert got is verdict, why


def test_every_venue_has_a_rule_and_a_snapshot_source() -> None:
    rest = {e for e in ExchangeId if book_spec_for(e).snapshot_source is SnapshotSource.REST}
    assert rest == {
        ExchangeId.BINANCE_USDM,
        ExchangeId.BINANCE_COINM,
        ExchangeId.GATEIO,
        ExchangeId.KUCOIN_FUTURES,
        ExchangeId.MEXC,
    }
    assert book_spec_for(ExchangeId.OKX).checksum is not None


def test_rest_bootstrapped_venues_are_those_whose_adapter_serves_a_rest_snapshot() -> None:
    """The resync path must match the venue modules: REST fetch exactly where one exists."""
    from services.ingest.venues import adapter_for, available_exchanges
    from services.instruments.catalog import load_snapshot

    catalog = load_snapshot()
    for exchange in available_exchanges():
        instruments = [i for (venue, _), i in catalog._by_native.items() if venue is exchange]
        if not instruments:
            continue
        has_rest = (
            adapter_for(exchange, catalog).book_snapshot_request(instruments[0].native_symbol) is not None
        )
        assert (book_spec_for(exchange).snapshot_source is SnapshotSource.REST) == has_rest, exchange.value
