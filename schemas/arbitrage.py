"""Outputs of the arbitrage service (``arb.*`` topics).

A pair is ordered: buy on ``buy`` (lift its asks), sell on ``sell`` (hit its bids), the same base
quantity on both legs. Spreads are in basis points of the pair's mid (the mean of the two venues'
mids), after both venues' taker fees where the name says "executable". Funding figures are per
leg, normalized by that venue's own interval; ``apr`` values are simple (not compounded) yearly
fractions, 0.1095 = 10.95 % a year.
"""

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from schemas.common import (
    CanonicalSymbol,
    Contract,
    DecimalString,
    ExchangeId,
    NonNegativeDecimal,
    PositiveDecimal,
    TimestampNs,
)


class OpportunityKind(StrEnum):
    SPREAD = "spread"
    """Buy on one venue and sell on the other now, for a profit after fees."""
    FUNDING = "funding"
    """Hold long on one venue and short on the other to earn the funding differential."""


class OpportunityEventType(StrEnum):
    OPENED = "opened"
    UPDATED = "updated"
    CLOSED = "closed"


class ExecutableSpread(Contract):
    """The pair's spread for one notional, walked through both books (VWAP), after taker fees."""

    notional: PositiveDecimal = Field(description="Quote units; the base quantity is notional / mid.")
    spread_bps: DecimalString | None = Field(
        description="(sell VWAP - buy VWAP) / mid * 1e4 - both taker fees; null when either book is too thin."
    )
    buy_vwap: PositiveDecimal | None = Field(
        description="Average price lifting the buy venue's asks; null if too thin."
    )
    sell_vwap: PositiveDecimal | None = Field(
        description="Average price hitting the sell venue's bids; null if too thin."
    )


class LegFunding(Contract):
    """The latest funding of one leg (``md.funding.v1``), normalized by the venue's own interval."""

    exchange_ts: TimestampNs
    rate: DecimalString = Field(
        description="Rate for one interval, a fraction; a long pays it when positive."
    )
    interval_s: Annotated[
        int, Field(gt=0, description="The venue's funding interval for this symbol, seconds.")
    ]
    rate_per_hour: DecimalString
    apr: DecimalString = Field(description="rate_per_hour * 24 * 365, a fraction.")
    next_funding_ts: TimestampNs
    time_to_funding_ms: int = Field(description="next_funding_ts minus the event's ts, milliseconds.")
    basis: DecimalString | None = Field(
        default=None, description="(mark - index) / index, when the venue sends both."
    )


class ArbLeg(Contract):
    """One side of the pair as the evaluation saw it."""

    exchange: ExchangeId
    symbol: CanonicalSymbol
    quote: Annotated[
        str, Field(min_length=1, description="Quote currency of the contract, e.g. USDT or USD.")
    ]
    taker_fee_bps: NonNegativeDecimal
    book_ts: TimestampNs | None = Field(
        description="Exchange time of the book levels used; null without a book."
    )
    best_bid: PositiveDecimal | None
    best_ask: PositiveDecimal | None
    funding: LegFunding | None


class PairEvaluation(Contract):
    """Fields shared by every ``arb.*`` event: one ordered pair at one evaluation."""

    symbol: CanonicalSymbol = Field(
        description="The buy leg's symbol (the same as the sell leg's unless cross-quote)."
    )
    ts: TimestampNs = Field(description="Evaluation time: the newest exchange_ts seen for this symbol.")
    buy: ArbLeg
    sell: ArbLeg
    gross_spread_bps: DecimalString | None = Field(
        description="(best bid of sell - best ask of buy) / mid * 1e4, before fees; null without both books."
    )
    mid: PositiveDecimal | None = Field(description="Mean of the two venues' mids.")
    executable: list[ExecutableSpread] = Field(description="One entry per configured notional, ascending.")
    funding_differential_apr: DecimalString | None = Field(
        description="Long buy / short sell: sell APR - buy APR, a yearly fraction; null without both fundings."
    )

    @property
    def key(self) -> str:
        """Kafka key: the symbol, so one symbol's events keep their order."""
        return self.symbol


class ArbOpportunity(PairEvaluation):
    """An opportunity's lifecycle (``arb.opportunities.v1``): opened, updated with its peak, closed.

    It opens only after it persisted (N evaluations or T ms) with every guard passed (valid,
    fresh, unskewed books and a sane gross spread), and may not reopen during a cooldown.
    """

    opportunity_id: Annotated[
        str,
        Field(
            min_length=1,
            description="kind:buy_exchange:symbol>sell_exchange:symbol@opened_ts; deterministic.",
        ),
    ]
    event: OpportunityEventType
    kind: OpportunityKind
    seq: Annotated[int, Field(ge=0, description="0 for opened, then +1 per event of this opportunity.")]
    first_seen_ts: TimestampNs = Field(description="First qualifying evaluation of the run that opened it.")
    opened_ts: TimestampNs
    closed_ts: TimestampNs | None = Field(description="Set on closed only.")
    duration_ms: Annotated[int, Field(ge=0)] | None = Field(description="closed_ts - opened_ts; closed only.")
    value_bps: DecimalString = Field(
        description="spread: executable spread at the smallest notional; funding: differential APR in bps."
    )
    peak_bps: DecimalString = Field(description="Highest value_bps since opened.")
    peak_ts: TimestampNs
    notional: PositiveDecimal | None = Field(
        description="spread: the largest notional whose executable spread reaches the open threshold."
    )
    reason: str = Field(
        default="", description="Why it closed: converged, too_thin, or guard:<name>; empty otherwise."
    )


class ArbSpread(PairEvaluation):
    """A sampled evaluation of one ordered pair (``arb.spreads.v1``), at a fixed event-time cadence."""

    guard: str = Field(
        default="",
        description="The guard that would block an opening now (invalid_book, stale, skew, sanity_cap); empty if none.",
    )
