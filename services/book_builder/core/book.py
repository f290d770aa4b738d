"""An aggregated L2 book: price -> quantity per side, best price first."""

from collections.abc import Iterable
from decimal import Decimal

from sortedcontainers import SortedDict

Level = tuple[Decimal, Decimal]
_ZERO = Decimal(0)


class L2Book:
    """Bids are keyed by negated price so that both sides iterate best-first."""

    __slots__ = ("_asks", "_bids")

    def __init__(self) -> None:
        self._bids: SortedDict = SortedDict()
        self._asks: SortedDict = SortedDict()

    def clear(self) -> None:
        self._bids.clear()
        self._asks.clear()

    def apply_bids(self, levels: Iterable[Level]) -> None:
        bids = self._bids
        for price, quantity in levels:
            if quantity == _ZERO:
                bids.pop(-price, None)
            else:
                bids[-price] = quantity

    def apply_asks(self, levels: Iterable[Level]) -> None:
        asks = self._asks
        for price, quantity in levels:
            if quantity == _ZERO:
                asks.pop(price, None)
            else:
                asks[price] = quantity

    def best_bid(self) -> Level | None:
        if not self._bids:
            return None
        neg_price, quantity = self._bids.peekitem(0)
        return -neg_price, quantity

    def best_ask(self) -> Level | None:
        if not self._asks:
            return None
        price, quantity = self._asks.peekitem(0)
        return price, quantity

    def is_crossed(self) -> bool:
        """Crossed or locked: a consistent book always has best bid < best ask."""
        bid, ask = self.best_bid(), self.best_ask()
        return bid is not None and ask is not None and bid[0] >= ask[0]

    def bids(self, depth: int | None = None) -> list[Level]:
        items = self._bids.items() if depth is None else self._bids.items()[:depth]
        return [(-p, q) for p, q in items]

    def asks(self, depth: int | None = None) -> list[Level]:
        items = self._asks.items() if depth is None else self._asks.items()[:depth]
        return list(items)

    def __len__(self) -> int:
        return len(self._bids) + len(self._asks)
