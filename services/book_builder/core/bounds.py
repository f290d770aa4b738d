"""Plausible book prices: against the instrument's tick, and against the live book's mid.

The decoder bounds a number's digits (40), so ``"1e999999"`` or ``"1e400"`` never reach a book,
but a well-formed price can still be absurd for its instrument: ``0.0000001`` or ``10^30`` for
BTC, or a bid a thousand times the mid that crosses the book and forces a resync. Venues do send
prices off their tick sometimes (a tick change not yet in the instrument list, a price printed in
another unit), so the rules are loose on purpose and catch only what no venue sends:

- against the tick (when the instrument list knows it): a price below one tick or above
  ``MAX_TICKS`` ticks. Not how fine a price is against the tick: reading a Decimal's exponent
  per level cost a quarter of the book-builder's throughput on the Binance capture, and the
  decoder already bounds every number to 40 digits;
- against the mid of a live book, for levels with a quantity (a deletion cannot harm a book):
  a bid above ``MID_FACTOR`` times the mid or an ask below the mid over ``MID_FACTOR`` (it
  would cross the book: no venue rests such an order, it would have traded), and a bid below
  the mid over ``FAR_FACTOR`` or an ask above ``FAR_FACTOR`` times it. Far resting orders are
  real: the Binance BTCUSDT capture has bids at 1/110 of the mid and asks at 10.007 times it.
  For a snapshot only its best bid and ask are held to this (its top cannot move tenfold
  between two updates of a live feed; a rebuilt book is checked level by level from then on).

A rejected event raises ``RejectedInput("implausible_price")`` before the book changes; the
runtime dead-letters it.
"""

from collections.abc import Sequence
from decimal import Decimal

from schemas.fast_decode import RejectedInput
from services.book_builder.core.book import Level

__all__ = [
    "FAR_FACTOR",
    "MAX_TICKS",
    "MID_FACTOR",
    "TickBounds",
    "check_against_mid",
    "price_range",
    "tick_bounds",
]

MAX_TICKS = 10**10
MID_FACTOR = Decimal(10)
FAR_FACTOR = Decimal(1000)
ERROR_TYPE = "implausible_price"
PriceRange = tuple[Decimal, Decimal]


class TickBounds:
    """The tick rule of one instrument; built once per book."""

    __slots__ = ("_highest", "_lowest", "_tick")

    def __init__(self, tick: Decimal) -> None:
        if not tick > 0:
            raise ValueError(f"a tick must be positive, not {tick}")
        self._tick = tick
        self._lowest = tick
        self._highest = tick * MAX_TICKS

    def check(self, prices: PriceRange | None, side: str) -> None:
        """``prices``: the lowest and highest price of one side's levels (``price_range``)."""
        if prices is None:
            return
        lowest, highest = prices
        if lowest < self._lowest or highest > self._highest:
            price = lowest if lowest < self._lowest else highest
            raise RejectedInput(
                ERROR_TYPE,
                f"{side} price {price} is outside [{self._lowest}, {self._highest}]: one tick "
                f"({self._tick}) to {MAX_TICKS:.0e} ticks",
            )


def price_range(levels: Sequence[Level]) -> PriceRange | None:
    """The lowest and highest price of ``levels`` (min and max run in C: no Python loop per level)."""
    return (min(levels)[0], max(levels)[0]) if levels else None


def tick_bounds(tick: Decimal) -> TickBounds | None:
    """The tick rule for ``tick``; None for an unknown tick (0: not in the venue's list)."""
    return TickBounds(tick) if tick > 0 else None


def check_against_mid(
    mid: Decimal,
    bids: Sequence[Level],
    asks: Sequence[Level],
    what: str,
    ranges: tuple[PriceRange | None, PriceRange | None] | None = None,
) -> None:
    """Reject levels (those with a quantity) implausibly far from ``mid`` on their side.

    ``ranges``: the sides' ``price_range``, when already known. Only when an extreme is out of
    bounds are the levels looked at one by one, deletions left out.
    """
    crossing_bid, crossing_ask = mid * MID_FACTOR, mid / MID_FACTOR
    far_bid, far_ask = mid / FAR_FACTOR, mid * FAR_FACTOR
    bid_range, ask_range = ranges if ranges is not None else (price_range(bids), price_range(asks))
    if bid_range is not None and not (far_bid <= bid_range[0] and bid_range[1] <= crossing_bid):
        for price, quantity in bids:
            if quantity and not far_bid <= price <= crossing_bid:
                raise RejectedInput(
                    ERROR_TYPE, f"{what} bid {price} is outside [{far_bid}, {crossing_bid}]{_OF} {mid}"
                )
    if ask_range is not None and not (crossing_ask <= ask_range[0] and ask_range[1] <= far_ask):
        for price, quantity in asks:
            if quantity and not crossing_ask <= price <= far_ask:
                raise RejectedInput(
                    ERROR_TYPE, f"{what} ask {price} is outside [{crossing_ask}, {far_ask}]{_OF} {mid}"
                )


_OF = f" (mid / {FAR_FACTOR} or {MID_FACTOR} to mid x {MID_FACTOR} or {FAR_FACTOR}) of the book's mid"
