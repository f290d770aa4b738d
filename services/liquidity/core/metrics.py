"""Liquidity metrics of one book snapshot: spread, mid, micro-price, depth bands, imbalance, slippage.

Money stays in ``Decimal`` (mid, micro-price, depth in base units and quote notional are exact
sums of the venue's own numbers, so two runs and two languages agree to the last digit); ratios
(bps, imbalance) are floats because they are read by people and thresholds, never summed again.

Conventions, chosen so every metric is defined for every book the builder can publish:

- Levels are ``(price, quantity)`` best first, quantities in base units, as in ``book.l2.v1``.
- The reference price of the depth bands is the mid; when one side is empty it is the best price
  of the other side (the empty side then has zero depth in every band, which is exactly what a
  drained side is). With both sides empty there is no reference and no metric at all.
- Depth bands count levels whose price lies within ``X`` bps of the reference, inclusive. The
  book holds only its top levels, so a band wider than ``reach_bps`` (how far the visible levels
  go) is a lower bound; ``bid_reach_bps``/``ask_reach_bps`` say so.
- Slippage is the VWAP of a market order of ``notional`` quote units walking the other side,
  against the mid, in bps (a buy pays above, a sell receives below; both are positive costs).
  It is ``None`` when the visible side holds less than the notional.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

Level = tuple[Decimal, Decimal]
"""(price, base quantity), best first."""

DEPTH_BANDS_BPS: tuple[int, ...] = (10, 25, 50, 100)
"""The depth bands every sample carries (the issue fixes them; the crunch rule picks one)."""

_ZERO = Decimal(0)
_TWO = Decimal(2)
_BPS = Decimal(10_000)


@dataclass(frozen=True, slots=True)
class DepthBand:
    """Resting size within ``bps`` of the reference price, per side."""

    bps: int
    bid_base: Decimal
    ask_base: Decimal
    bid_notional: Decimal
    ask_notional: Decimal

    @property
    def notional(self) -> Decimal:
        return self.bid_notional + self.ask_notional


@dataclass(frozen=True, slots=True)
class BookMetrics:
    """Everything measured on one book snapshot (no time window involved)."""

    best_bid: Decimal | None
    best_ask: Decimal | None
    mid: Decimal | None
    """None unless both sides are present."""
    spread_bps: float | None
    microprice: Decimal | None
    """Size-weighted: (bid * ask_qty + ask * bid_qty) / (bid_qty + ask_qty); leans to the thin side's price."""
    reference: Decimal
    """Price the depth bands are measured from (the mid, or the one side's best)."""
    bands: tuple[DepthBand, ...]
    bid_reach_bps: float
    """Distance of the deepest visible bid from the reference; 0 for an empty side."""
    ask_reach_bps: float
    imbalance: float | None
    """(bid - ask) / (bid + ask) base size over the top ``imbalance_levels``; +1 all bids, -1 all asks."""
    buy_slippage_bps: float | None
    sell_slippage_bps: float | None
    bid_levels: int
    ask_levels: int

    def band(self, bps: int) -> DepthBand:
        for band in self.bands:
            if band.bps == bps:
                return band
        raise KeyError(f"no {bps} bps depth band (bands: {[b.bps for b in self.bands]})")


def mid_and_spread(bids: Sequence[Level], asks: Sequence[Level]) -> tuple[Decimal | None, float | None]:
    """Mid and quoted spread in bps; (None, None) when a side is empty."""
    if not bids or not asks:
        return None, None
    bid, ask = bids[0][0], asks[0][0]
    mid = (bid + ask) / _TWO
    return mid, float((ask - bid) / mid * _BPS)


def microprice(bids: Sequence[Level], asks: Sequence[Level]) -> Decimal | None:
    if not bids or not asks:
        return None
    (bid, bid_qty), (ask, ask_qty) = bids[0], asks[0]
    total = bid_qty + ask_qty
    if total == 0:
        return (bid + ask) / _TWO
    # Four digits finer than the venue's own price: enough to place it inside one tick, short on the wire.
    exponent = min(_exponent(bid), _exponent(ask)) - 4
    return ((bid * ask_qty + ask * bid_qty) / total).quantize(Decimal(1).scaleb(exponent))


def _exponent(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return exponent if isinstance(exponent, int) else 0


def side_bands(
    levels: Sequence[Level], reference: Decimal, bands_bps: Sequence[int], *, bid: bool
) -> tuple[list[Decimal], list[Decimal], float]:
    """Cumulative (base, notional) per band for one side, and the side's reach in bps.

    One walk over the side: levels are best first, so each band's sum is a prefix sum and the
    walk stops at the first level beyond the widest band.
    """
    limits = [
        reference * (_BPS - bps) / _BPS if bid else reference * (_BPS + bps) / _BPS for bps in bands_bps
    ]
    widest = limits[-1]
    base = [_ZERO] * len(limits)
    notional = [_ZERO] * len(limits)
    run_base = _ZERO
    run_notional = _ZERO
    band = 0
    for price, quantity in levels:
        if (price < widest) if bid else (price > widest):
            break
        while (price < limits[band]) if bid else (price > limits[band]):
            base[band], notional[band] = run_base, run_notional
            band += 1
        run_base += quantity
        run_notional += price * quantity
    for rest in range(band, len(limits)):
        base[rest], notional[rest] = run_base, run_notional
    if not levels:
        return base, notional, 0.0
    deepest = levels[-1][0]
    reach = (reference - deepest) if bid else (deepest - reference)
    return base, notional, float(reach / reference * _BPS)


def imbalance(bids: Sequence[Level], asks: Sequence[Level], levels: int) -> float | None:
    """(bid - ask) / (bid + ask) over the top ``levels`` per side, in base units; None if both are empty."""
    bid_size = sum((q for _, q in bids[:levels]), _ZERO)
    ask_size = sum((q for _, q in asks[:levels]), _ZERO)
    total = bid_size + ask_size
    if total == 0:
        return None
    return float((bid_size - ask_size) / total)


def vwap_for_notional(levels: Sequence[Level], notional: Decimal) -> Decimal | None:
    """Average price of a market order spending ``notional`` quote units on these levels.

    None when the levels hold less than the notional (the book is too thin to say).
    """
    remaining = notional
    filled_base = _ZERO
    for price, quantity in levels:
        level_notional = price * quantity
        if level_notional >= remaining:
            filled_base += remaining / price
            return notional / filled_base
        remaining -= level_notional
        filled_base += quantity
    return None


def slippage_bps(
    levels: Sequence[Level], notional: Decimal, mid: Decimal | None, *, buy: bool
) -> float | None:
    """Cost of the walk against the mid, in bps (positive: worse than the mid)."""
    if mid is None or notional <= 0:
        return None
    vwap = vwap_for_notional(levels, notional)
    if vwap is None:
        return None
    cost = (vwap - mid) if buy else (mid - vwap)
    return float(cost / mid * _BPS)


def book_metrics(
    bids: Sequence[Level],
    asks: Sequence[Level],
    *,
    imbalance_levels: int = 5,
    slippage_notional: Decimal = Decimal(100_000),
    bands_bps: Sequence[int] = DEPTH_BANDS_BPS,
) -> BookMetrics | None:
    """All the per-book metrics; None for a book with no level at all (nothing to measure)."""
    if not bids and not asks:
        return None
    mid, spread = mid_and_spread(bids, asks)
    reference = mid if mid is not None else (bids[0][0] if bids else asks[0][0])
    bid_base, bid_notional, bid_reach = side_bands(bids, reference, bands_bps, bid=True)
    ask_base, ask_notional, ask_reach = side_bands(asks, reference, bands_bps, bid=False)
    bands = tuple(
        DepthBand(bps, bid_base[i], ask_base[i], bid_notional[i], ask_notional[i])
        for i, bps in enumerate(bands_bps)
    )
    return BookMetrics(
        best_bid=bids[0][0] if bids else None,
        best_ask=asks[0][0] if asks else None,
        mid=mid,
        spread_bps=spread,
        microprice=microprice(bids, asks),
        reference=reference,
        bands=bands,
        bid_reach_bps=bid_reach,
        ask_reach_bps=ask_reach,
        imbalance=imbalance(bids, asks, imbalance_levels),
        buy_slippage_bps=slippage_bps(asks, slippage_notional, mid, buy=True),
        sell_slippage_bps=slippage_bps(bids, slippage_notional, mid, buy=False),
        bid_levels=len(bids),
        ask_levels=len(asks),
    )
