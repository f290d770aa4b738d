"""Funding of one leg, normalized by the venue's own interval (never an assumed 8 hours)."""

from dataclasses import dataclass

HOUR_S = 3600
HOURS_PER_YEAR = 24 * 365


@dataclass(frozen=True, slots=True)
class FundingQuote:
    """The latest ``md.funding.v1`` of a leg, as floats."""

    ts: int
    rate: float
    """Rate for one interval, a fraction (0.0001 = 1 bp); a long pays it when positive."""
    interval_s: int
    next_funding_ts: int
    mark: float | None = None
    index: float | None = None

    @property
    def rate_per_hour(self) -> float:
        return self.rate * HOUR_S / self.interval_s

    @property
    def apr(self) -> float:
        """Simple annualized rate (no compounding), a fraction: 0.1095 = 10.95 % a year."""
        return self.rate_per_hour * HOURS_PER_YEAR

    @property
    def basis(self) -> float | None:
        """(mark - index) / index, when the venue sends both."""
        if self.mark is None or self.index is None or self.index <= 0.0:
            return None
        return (self.mark - self.index) / self.index


def differential_apr(long_leg: FundingQuote, short_leg: FundingQuote) -> float:
    """What a position long ``long_leg`` / short ``short_leg`` earns a year from funding, a fraction.

    A long pays its venue's rate and a short receives it, so the carry is short APR - long APR.
    """
    return short_leg.apr - long_leg.apr
