"""One leg: the latest book (levels, top, validity) and funding of one (exchange, symbol)."""

from collections.abc import Sequence

from services.arbitrage.core.funding import FundingQuote
from services.arbitrage.core.lifecycle import PairLifecycle
from services.arbitrage.core.vwap import EMPTY_SIDE, LadderSide

Levels = Sequence[tuple[float, float]]


class PairState:
    """Lifecycles and sampling clock of one ordered pair (this leg buys, the other sells)."""

    __slots__ = ("funding", "funding_id", "next_sample_ts", "spread", "spread_id")

    def __init__(self, buy_key: str, sell_key: str) -> None:
        self.spread = PairLifecycle()
        self.funding = PairLifecycle()
        self.next_sample_ts = -1
        # Prefixes of opportunity ids (``...@opened_ts``), made once rather than per evaluation.
        self.spread_id = f"spread:{buy_key}>{sell_key}"
        self.funding_id = f"funding:{buy_key}>{sell_key}"


class Leg:
    """Mutable state of one instrument on one venue, updated by the engine only.

    Levels come from ``book.l2.v1``; ``book.bbo.v1`` refreshes the top (and stands in for the
    levels, as a one-level book, while no depth has arrived). ``book_ts`` is the exchange time of
    the levels the executable spread is walked on: the guards judge that one. The walkable
    ladders are built on first use: most evaluations only need the top.
    """

    __slots__ = (
        "_ask_levels",
        "_asks",
        "_bid_levels",
        "_bids",
        "as_buyer",
        "best_ask",
        "best_bid",
        "book_ts",
        "exchange",
        "fee_bps",
        "funding",
        "has_depth",
        "invalid_reason",
        "key",
        "mid",
        "quote",
        "quoted",
        "symbol",
        "top_ts",
        "valid",
    )

    def __init__(self, exchange: str, symbol: str, quote: str, fee_bps: float) -> None:
        self.exchange = exchange
        self.symbol = symbol
        self.quote = quote
        self.key = f"{exchange}:{symbol}"
        self.fee_bps = fee_bps
        self.valid = False
        self.invalid_reason = "no book yet"
        self.has_depth = False
        self.book_ts = -1
        self.top_ts = -1
        self._bid_levels: Levels = ()
        self._ask_levels: Levels = ()
        self._bids: LadderSide | None = EMPTY_SIDE
        self._asks: LadderSide | None = EMPTY_SIDE
        self.best_bid = 0.0
        self.best_ask = 0.0
        self.mid = 0.0
        self.quoted = False
        """A valid book with both sides: a spread can be computed."""
        self.funding: FundingQuote | None = None
        self.as_buyer: dict[Leg, PairState] = {}
        """The pairs where this leg buys, by the selling leg."""

    @property
    def bids(self) -> LadderSide:
        side = self._bids
        if side is None:
            side = self._bids = LadderSide.of(self._bid_levels)
        return side

    @property
    def asks(self) -> LadderSide:
        side = self._asks
        if side is None:
            side = self._asks = LadderSide.of(self._ask_levels)
        return side

    def set_depth(self, ts: int, bids: Levels, asks: Levels) -> None:
        """Levels best first; the caller keeps them unchanged (they are walked later)."""
        self.valid = True
        self.invalid_reason = ""
        self.has_depth = True
        self.book_ts = ts
        self._bid_levels, self._ask_levels = bids, asks
        self._bids = self._asks = None
        if ts >= self.top_ts:
            self.top_ts = ts
            self._top(_best(bids), _best(asks))
        else:  # a newer book.bbo.v1 already set the top
            self._top(self.best_bid, self.best_ask)

    def set_invalid(self, ts: int, reason: str) -> None:
        """The builder lost the book: nothing of it may be used until a valid depth follows."""
        self.valid = False
        self.invalid_reason = reason or "invalid book"
        self.book_ts = ts
        self.top_ts = max(self.top_ts, ts)
        self._bid_levels = self._ask_levels = ()
        self._bids = self._asks = EMPTY_SIDE
        self._top(0.0, 0.0)

    def set_top(self, ts: int, bid: float, bid_qty: float, ask: float, ask_qty: float) -> None:
        if ts < self.top_ts:
            return  # an older top than the levels we hold: the levels win
        self.top_ts = ts
        if not self.has_depth:
            # book.bbo.v1 is only published for a consistent book: a one-level book until depth comes.
            self.valid = True
            self.invalid_reason = ""
            self.book_ts = ts
            self._bid_levels, self._ask_levels = ((bid, bid_qty),), ((ask, ask_qty),)
            self._bids = self._asks = None
        if self.valid:
            self._top(bid, ask)

    def _top(self, bid: float, ask: float) -> None:
        self.best_bid = bid
        self.best_ask = ask
        self.quoted = self.valid and bid > 0.0 and ask > 0.0
        self.mid = (bid + ask) / 2.0 if self.quoted else 0.0


def _best(levels: Levels) -> float:
    """The first level with a size (a book may carry zero-size levels), 0.0 for an empty side."""
    for price, quantity in levels:
        if quantity > 0.0:
            return price
    return 0.0
