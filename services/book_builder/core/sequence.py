"""Venue continuity rules: does this delta follow what the book already holds?

Each venue documents its own rule; a rule object answers for one delta, given the update id the
book is at (``book_last``: the snapshot's id, then the last applied delta's). It never mutates
anything, which keeps the builder's state in one place. The parsers map venue ids into
``BookSequence(first, last, prev)`` (see its docstring); the rules below read only that.

Sources, checked against each venue's documentation:

- Binance USD-M / COIN-M "How to manage a local order book correctly"
  (developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams/
  How-to-manage-a-local-order-book-correctly): drop ``u < lastUpdateId``; the first applied
  event has ``U <= lastUpdateId <= u``; afterwards ``pu`` equals the previous ``u``.
- OKX (www.okx.com/docs-v5, order book channel, "seqId"/"prevSeqId"): ``prevSeqId`` of a message
  equals ``seqId`` of the previous one; snapshots carry ``prevSeqId = -1``; a heartbeat with no
  change repeats the id (``prevSeqId == seqId``); after maintenance ``seqId`` may be reset below
  ``prevSeqId`` and the chain continues from there.
- Deribit ``book.{instrument}.{interval}`` (docs.deribit.com/subscriptions/orderbook): every
  message except the first carries ``prev_change_id``, equal to the previous ``change_id``.
- Gate.io futures ``futures.order_book_update`` (gate.io/article/19776, "How to maintain local
  order book"): base id ``b`` from REST ``with_id=true``; drop ``u < b + 1``; apply when
  ``U <= b + 1 <= u``; ``U > b + 1`` means updates were lost.
- KuCoin futures ``/contractMarket/level2`` (kucoin.com/docs-new/3470082w0): one change per
  message, ``sequence`` continuous from the REST ``level2/snapshot`` sequence.
- Bybit v5 ``orderbook.{depth}.{symbol}`` (bybit-exchange.github.io/docs/v5/websocket/public/
  orderbook): ``u`` is continuous; a snapshot (also ``u = 1`` after a service restart) resets
  the book. ``seq`` is a cross-depth version that is not continuous, so it is not used.
- MEXC futures "Incremental Order Book Maintenance Mechanism" (mexc.com/api-docs/futures/
  websocket-api/incremental-order-book-maintenance-mechanism): each ``version`` must equal the
  previous ``version + 1``, starting from the REST ``depth`` snapshot's version.
- Phemex ``orderbook`` (github.com/phemex/phemex-api-docs): ``sequence`` increases but is shared
  with other events of the symbol, so it is not contiguous: only ordering can be checked.
- Bitget ``books``: ``seq`` increases; ``pseq`` (when sent) links to the previous message; the
  CRC32 ``checksum`` is the integrity check.
- BitMEX ``orderBookL2``: no sequence ids; ``partial`` resets the book, later actions apply in
  stream order.
- Hyperliquid ``l2Book`` and CoinDCX futures depth: every message is a full snapshot.
"""

from enum import Enum
from typing import Protocol

from schemas.market_data import BookSequence


class Verdict(Enum):
    APPLY = "apply"
    STALE = "stale"  # already contained in the book (e.g. older than the snapshot): skip it
    GAP = "gap"  # something is missing between the book and this delta: resync


class SequenceRule(Protocol):
    name: str
    places_deltas: bool
    """True when ids tell whether a delta is older or newer than a snapshot. Only then are
    deltas that arrive while the book waits for a snapshot buffered; without ids they are
    dropped, since the next snapshot (a fresh subscription) already contains them."""

    def first_after_snapshot(self, delta: BookSequence, snapshot_last: int) -> Verdict: ...

    def next(self, delta: BookSequence, book_last: int) -> Verdict: ...


class BinanceSequenceRule:
    """``U``/``u``/``pu``: the first diff overlaps the snapshot, then ``pu`` chains."""

    name = "binance"
    places_deltas = True

    def first_after_snapshot(self, delta: BookSequence, snapshot_last: int) -> Verdict:
        if delta.last < snapshot_last:
            return Verdict.STALE
        first = delta.first if delta.first is not None else delta.last
        # pu == lastUpdateId: the snapshot ends exactly where this diff begins.
        return Verdict.APPLY if first <= snapshot_last or delta.prev == snapshot_last else Verdict.GAP

    def next(self, delta: BookSequence, book_last: int) -> Verdict:
        if delta.prev == book_last:
            return Verdict.APPLY
        return Verdict.STALE if delta.last <= book_last else Verdict.GAP


class PrevIdSequenceRule:
    """``prev`` must equal the book's id: OKX ``prevSeqId``, Deribit ``prev_change_id``.

    Comparing only ``prev`` is what accepts OKX heartbeats (``prev == last``) and the id reset
    after maintenance (``last < prev``). With ``ordered_without_prev`` (Bitget, whose ``pseq``
    is not always sent) a delta without ``prev`` is accepted when its id is newer.
    """

    places_deltas = True

    def __init__(self, name: str, *, ordered_without_prev: bool = False) -> None:
        self.name = name
        self._ordered_without_prev = ordered_without_prev

    def first_after_snapshot(self, delta: BookSequence, snapshot_last: int) -> Verdict:
        return self.next(delta, snapshot_last)

    def next(self, delta: BookSequence, book_last: int) -> Verdict:
        if delta.prev is None or (self._ordered_without_prev and delta.prev == 0):
            if self._ordered_without_prev:
                return Verdict.APPLY if delta.last > book_last else Verdict.STALE
            return Verdict.GAP
        if delta.prev == book_last:
            return Verdict.APPLY
        return Verdict.STALE if delta.last <= book_last else Verdict.GAP


class ContiguousRangeRule:
    """Update ids without holes: the delta's ``first..last`` must contain ``book_last + 1``.

    Gate.io ``U``/``u``, KuCoin ``sequence`` (first = last), Bybit ``u`` and MEXC ``version``.
    """

    places_deltas = True

    def __init__(self, name: str) -> None:
        self.name = name

    def first_after_snapshot(self, delta: BookSequence, snapshot_last: int) -> Verdict:
        return self.next(delta, snapshot_last)

    def next(self, delta: BookSequence, book_last: int) -> Verdict:
        if delta.last <= book_last:
            return Verdict.STALE
        first = delta.first if delta.first is not None else delta.last
        return Verdict.APPLY if first <= book_last + 1 else Verdict.GAP


class IncreasingRule:
    """Only ordering can be checked (Phemex ``sequence``): newer applies, older or equal is stale."""

    places_deltas = True

    def __init__(self, name: str) -> None:
        self.name = name

    def first_after_snapshot(self, delta: BookSequence, snapshot_last: int) -> Verdict:
        return self.next(delta, snapshot_last)

    def next(self, delta: BookSequence, book_last: int) -> Verdict:
        return Verdict.APPLY if delta.last > book_last else Verdict.STALE


class StreamOrderRule:
    """No usable ids (BitMEX ``orderBookL2``): every delta after the snapshot applies in order."""

    places_deltas = False

    def __init__(self, name: str) -> None:
        self.name = name

    def first_after_snapshot(self, delta: BookSequence, snapshot_last: int) -> Verdict:
        return Verdict.APPLY

    def next(self, delta: BookSequence, book_last: int) -> Verdict:
        return Verdict.APPLY


class SnapshotOnlyRule:
    """Venues that only send full books (Hyperliquid): a delta means a parser bug."""

    places_deltas = False

    def __init__(self, name: str) -> None:
        self.name = name

    def first_after_snapshot(self, delta: BookSequence, snapshot_last: int) -> Verdict:
        return Verdict.GAP

    def next(self, delta: BookSequence, book_last: int) -> Verdict:
        return Verdict.GAP
