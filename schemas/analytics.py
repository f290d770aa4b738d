"""Outputs of the market-analytics service (``analytics.*`` topics).

Bars themselves go to ``md.candles.v1`` (``schemas.market_data.Candle``). Statistics are binary
floats (they are estimates, not amounts); prices, quantities and notionals stay decimal strings.
A statistic that cannot be computed is ``null`` with its reason in ``null_reasons``, never NaN.
"""

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from schemas.common import (
    CanonicalSymbol,
    Contract,
    ExchangeId,
    InstrumentEvent,
    NonNegativeDecimal,
    PositiveDecimal,
    Side,
    TimestampNs,
)

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


class SpikeMetric(StrEnum):
    LOG_VOLUME = "log_volume"
    OI_CHANGE = "oi_change"


class Spike(InstrumentEvent):
    """A bar whose metric is far from its rolling baseline (``analytics.spikes.v1``).

    ``exchange_ts`` is the bar's open time. The baseline is the ``window`` bars before this one;
    the bar itself is never in its own baseline. ``log_volume`` is ln(base volume) of a bar with
    trades; ``oi_change`` is the change in open interest (base units) from the previous bar's
    last observation to this bar's last one. Volume fires on ``z >= threshold``, OI on ``|z| >=``.
    """

    timeframe_s: Annotated[int, Field(gt=0)]
    close_ts: TimestampNs
    metric: SpikeMetric
    value: FiniteFloat
    baseline_mean: FiniteFloat
    baseline_std: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    z: FiniteFloat
    threshold: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    window: Annotated[int, Field(gt=1, description="Bars in the baseline.")]


class FlowKind(StrEnum):
    LIQUIDATION = "liquidation"
    LARGE_TRADE = "large_trade"


class FlowWindow(InstrumentEvent):
    """Liquidations or large trades of one side in one event-time window (``analytics.flow.v1``).

    ``exchange_ts`` is the window's open time. Emitted once, when a later event of the same
    instrument and kind shows the window (plus the grace period) is over; windows without events
    are not emitted. Cross-venue sums are the ``analytics_flow_all_venues`` view.
    """

    type: Literal["window"] = "window"
    kind: FlowKind
    side: Side = Field(description="Liquidations: side of the liquidation order. Trades: taker side.")
    window_s: Annotated[int, Field(gt=0)]
    close_ts: TimestampNs
    count: Annotated[int, Field(gt=0)]
    quantity: NonNegativeDecimal = Field(description="Base units.")
    notional: NonNegativeDecimal = Field(description="Quote currency.")
    notional_usd: NonNegativeDecimal | None = Field(
        default=None, description="Quote notional when the quote currency is USD or a USD stablecoin."
    )


class LargeTrade(InstrumentEvent):
    """One trade at or above the symbol's USD notional threshold (``analytics.flow.v1``)."""

    type: Literal["large_trade"] = "large_trade"
    trade_id: Annotated[str, Field(min_length=1)]
    side: Side
    price: PositiveDecimal
    quantity: PositiveDecimal = Field(description="Base units.")
    notional_usd: PositiveDecimal
    threshold_usd: PositiveDecimal


FlowEvent = Annotated[FlowWindow | LargeTrade, Field(discriminator="type")]
"""Windows and single large trades share one topic, keyed by instrument."""


class PairLeg(Contract):
    exchange: ExchangeId
    symbol: CanonicalSymbol


class PairStats(Contract):
    """Statistics of a configured pair on one aligned bar close (``analytics.pairs.v1``).

    Both legs' closes are taken as natural logs: y = ln(close of leg a), x = ln(close of leg b).
    Rolling statistics use the last ``window`` aligned closes, up to and including this one.
    ``spread`` = y - (ols_alpha + ols_beta * x) at this close; ``spread_z`` is its z-score in the
    window's spreads. ``half_life_bars`` comes from regressing the spread change on the lagged
    spread. ``kalman_beta`` is the filtered hedge ratio after this close, over all history.
    """

    pair: Annotated[str, Field(min_length=1, description="Configured pair name.")]
    leg_a: PairLeg
    leg_b: PairLeg
    interval_s: Annotated[int, Field(gt=0)]
    exchange_ts: TimestampNs = Field(description="Open time of the aligned bars.")
    close_ts: TimestampNs
    window: Annotated[int, Field(gt=0, description="Aligned closes in the rolling window.")]
    observations: Annotated[int, Field(ge=0, description="Aligned closes actually available (<= window).")]
    close_a: PositiveDecimal
    close_b: PositiveDecimal
    ols_beta: FiniteFloat | None = None
    ols_alpha: FiniteFloat | None = None
    kalman_beta: FiniteFloat | None = None
    spread: FiniteFloat | None = None
    spread_z: FiniteFloat | None = None
    correlation: FiniteFloat | None = None
    coint_pvalue: FiniteFloat | None = None
    half_life_bars: FiniteFloat | None = None
    null_reasons: dict[str, str] = Field(
        default_factory=dict, description="For each null statistic: why it could not be computed."
    )

    @property
    def key(self) -> str:
        return self.pair
