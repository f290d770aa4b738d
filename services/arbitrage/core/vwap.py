"""Walking one side of a book for a base quantity: the volume-weighted average fill price.

A side is kept as three parallel lists built once per book update (``LadderSide``): prices best
first, cumulative base quantity and cumulative quote cost. A walk is then one bisection and one
partial level, whatever the depth, instead of a loop over levels per notional per pair.
"""

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate
from operator import mul


@dataclass(frozen=True, slots=True)
class LadderSide:
    prices: tuple[float, ...]
    cum_qty: tuple[float, ...]
    cum_cost: tuple[float, ...]

    @classmethod
    def of(cls, levels: Sequence[tuple[float, float]]) -> "LadderSide":
        if not all(quantity > 0.0 for _, quantity in levels):
            levels = [(price, quantity) for price, quantity in levels if quantity > 0.0]
        prices = tuple(price for price, _ in levels)
        quantities = [quantity for _, quantity in levels]
        return cls(prices, tuple(accumulate(quantities)), tuple(accumulate(map(mul, prices, quantities))))

    @property
    def best(self) -> float | None:
        return self.prices[0] if self.prices else None

    @property
    def depth(self) -> float:
        """Base quantity on this side."""
        return self.cum_qty[-1] if self.cum_qty else 0.0


EMPTY_SIDE = LadderSide((), (), ())


def walk_vwap(side: LadderSide, quantity: float) -> float | None:
    """Average price to fill ``quantity`` base units against this side; None when it is too thin.

    Never a guess: a side that cannot fill the whole quantity gives None, not a partial price.
    """
    if quantity <= 0.0:
        return None
    cum_qty = side.cum_qty
    k = bisect_left(cum_qty, quantity)
    if k == len(cum_qty):
        return None
    if k == 0:
        return side.prices[0]
    cost = side.cum_cost[k - 1] + (quantity - cum_qty[k - 1]) * side.prices[k]
    return cost / quantity


def bare_vwap(levels: Sequence[tuple[float, float]], quantity: float) -> float | None:
    """The textbook walk, level by level: the reference for tests and the benchmark baseline."""
    if quantity <= 0.0:
        return None
    remaining = quantity
    cost = 0.0
    for price, size in levels:
        take = size if size < remaining else remaining
        cost += take * price
        remaining -= take
        if remaining <= 0.0:
            return cost / quantity
    return None
