"""Outputs of the liquidity service (``liquidity.*`` topics): book metrics and liquidity crunches.

Prices and sizes are decimal strings like every other contract; ratios (bps, imbalance, z-scores)
are JSON numbers, always finite. Depth bands count resting size within ``bps`` of the mid (or of
the remaining side's best price when a side is empty); the book carries only its top levels, so a
band wider than ``bid_reach_bps``/``ask_reach_bps`` is a lower bound.
"""

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from schemas.common import (
    Contract,
    DecimalString,
    InstrumentEvent,
    NonNegativeDecimal,
    PositiveDecimal,
    TimestampNs,
)

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


class DepthBand(Contract):
    """Resting size within ``bps`` of the reference price, per side."""

    bps: Annotated[int, Field(gt=0, description="Half-width of the band around the mid, bps.")]
    bid_base: NonNegativeDecimal = Field(description="Bid size in the band, base units.")
    ask_base: NonNegativeDecimal = Field(description="Ask size in the band, base units.")
    bid_notional: NonNegativeDecimal = Field(description="Bid size in the band, quote currency.")
    ask_notional: NonNegativeDecimal = Field(description="Ask size in the band, quote currency.")


class LiquidityMetrics(InstrumentEvent):
    """One sample of a book's liquidity (``liquidity.metrics.v1``), on an exchange-time cadence.

    ``exchange_ts``/``receive_ts`` are those of the ``book.l2.v1`` message sampled. The detection
    fields are the crunch rule's reading of this sample against baselines built only from the
    samples before it; they are null until the baselines are warm.
    """

    book_seq: int = Field(ge=0, description="book.l2.v1 message number sampled.")
    venue_seq: int | None = Field(description="Venue update id the book reflects.")
    best_bid: PositiveDecimal | None
    best_ask: PositiveDecimal | None
    mid: PositiveDecimal | None = Field(description="(best bid + best ask) / 2; null when a side is empty.")
    microprice: PositiveDecimal | None = Field(
        description="(bid * ask_qty + ask * bid_qty) / (bid_qty + ask_qty): leans towards the thin side."
    )
    spread_bps: FiniteFloat | None = Field(description="(ask - bid) / mid in bps; null when a side is empty.")
    depth: list[DepthBand] = Field(description="Depth within 10, 25, 50 and 100 bps of the mid.")
    bid_reach_bps: FiniteFloat = Field(description="How far from the mid the deepest visible bid is, bps.")
    ask_reach_bps: FiniteFloat = Field(description="How far from the mid the deepest visible ask is, bps.")
    bid_levels: int = Field(ge=0)
    ask_levels: int = Field(ge=0)
    imbalance: FiniteFloat | None = Field(
        ge=-1, le=1, description="(bid - ask) / (bid + ask) base size over the top imbalance_levels levels."
    )
    imbalance_levels: int = Field(gt=0)
    slippage_notional: PositiveDecimal = Field(description="Size of the market order walked, quote currency.")
    buy_slippage_bps: FiniteFloat | None = Field(
        description="VWAP of a market buy of slippage_notional above the mid, bps; null when the asks are too thin."
    )
    sell_slippage_bps: FiniteFloat | None = Field(
        description="VWAP of a market sell of slippage_notional below the mid, bps; null when the bids are too thin."
    )
    book_updates_per_s: FiniteFloat = Field(
        ge=0, description="book.l2.v1 messages per second, trailing window."
    )
    trade_window_s: FiniteFloat = Field(gt=0, description="Window of the trade-flow fields, seconds.")
    trade_count: int = Field(ge=0)
    taker_buy_base: NonNegativeDecimal
    taker_sell_base: NonNegativeDecimal
    taker_buy_notional: NonNegativeDecimal
    taker_sell_notional: NonNegativeDecimal
    trade_flow_base: DecimalString = Field(description="Taker buy minus taker sell volume, base units.")
    trade_flow_imbalance: FiniteFloat | None = Field(
        ge=-1, le=1, description="(buy - sell) / (buy + sell) taker base volume; null without trades."
    )
    depth_band_bps: int = Field(gt=0, description="The band X the crunch rule watches.")
    spread_baseline_bps: FiniteFloat | None
    spread_scale_bps: FiniteFloat | None = Field(
        description="Robust sigma of the spread (1.4826 MAD, floored)."
    )
    spread_z: FiniteFloat | None
    log_depth: FiniteFloat = Field(description="ln(1 + notional within depth_band_bps, both sides).")
    log_depth_baseline: FiniteFloat | None
    log_depth_scale: FiniteFloat | None
    depth_z: FiniteFloat | None
    cusum: FiniteFloat = Field(ge=0, description="One-sided CUSUM of -depth_z (sigmas).")
    breach: bool = Field(description="This sample meets the crunch rule.")
    crunch_active: bool = Field(description="A crunch is ongoing after this sample.")


class CrunchPhase(StrEnum):
    STARTED = "started"
    ENDED = "ended"


class CrunchSeverity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class CrunchRule(Contract):
    """The rule's parameters, so an event can be judged on its own."""

    k: FiniteFloat = Field(gt=0, description="z-score threshold of both signals.")
    band_bps: int = Field(gt=0, description="X: depth band watched, bps.")
    sustain: int = Field(gt=0, description="N: consecutive breaching samples to start.")
    end_after: int = Field(gt=0, description="M: consecutive samples inside the bounds to end.")
    baseline: str = Field(description="median (rolling median/MAD) or ewma.")
    window: int = Field(gt=0, description="Samples in the baseline (the EWMA span for ewma).")
    warmup: int = Field(gt=0, description="Samples a baseline needs before anything can fire.")
    depth_test: str = Field(description="zscore or cusum.")


class CrunchEvidence(Contract):
    """One sample as the rule read it."""

    ts: TimestampNs
    spread_bps: FiniteFloat | None
    spread_baseline_bps: FiniteFloat | None
    spread_scale_bps: FiniteFloat | None
    spread_z: FiniteFloat | None
    depth_notional: FiniteFloat = Field(
        ge=0, description="Notional within the band, both sides, quote currency."
    )
    log_depth: FiniteFloat
    log_depth_baseline: FiniteFloat | None
    log_depth_scale: FiniteFloat | None
    depth_z: FiniteFloat | None
    cusum: FiniteFloat = Field(ge=0)
    imbalance: FiniteFloat | None
    spread_breach: bool
    depth_breach: bool
    score: FiniteFloat = Field(ge=0)


class LiquidityAnomaly(InstrumentEvent):
    """A liquidity crunch starting or ending (``liquidity.anomalies.v1``).

    ``exchange_ts`` is the sample that declared it (the N-th breaching sample, or the M-th calm one).
    ``started`` carries the N samples that met the rule; ``ended`` the M samples back inside the
    bounds, the duration and the peaks over the whole crunch. Severity: ``score = min(spread_z,
    -depth_z) / k * (1 + |imbalance|)``; low < 2 <= medium < 4 <= high < 8 <= critical.
    """

    phase: CrunchPhase
    crunch_id: Annotated[
        str, Field(min_length=1, description="exchange:symbol:started_ts, shared by both phases.")
    ]
    started_ts: TimestampNs = Field(description="First sample of the streak that met the rule, ns.")
    ended_ts: TimestampNs | None = Field(description="First sample back inside the bounds (ended only), ns.")
    duration_s: FiniteFloat | None = Field(ge=0, description="ended_ts - started_ts, seconds (ended only).")
    severity: CrunchSeverity
    severity_score: FiniteFloat = Field(ge=0)
    peak_spread_z: FiniteFloat | None
    peak_depth_z: FiniteFloat | None
    samples: int = Field(gt=0, description="Samples of the crunch so far, from the start of the streak.")
    rule: CrunchRule
    evidence: list[CrunchEvidence]
