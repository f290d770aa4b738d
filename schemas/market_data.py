"""Normalized market data published by the ingestors on the ``md.*`` topics.

Units, for every venue: quantities are in base-asset units (contracts already multiplied out,
inverse contracts already converted), notionals in the quote currency.
"""

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, model_validator

from schemas.common import (
    Contract,
    DecimalString,
    ExchangeId,
    InstrumentEvent,
    NonNegativeDecimal,
    PositiveDecimal,
    Side,
    TimestampNs,
)


class Trade(InstrumentEvent):
    """One execution on the venue (``md.trades.v1``)."""

    trade_id: Annotated[str, Field(min_length=1, description="The venue's trade id, unique per symbol.")]
    side: Side = Field(description="Side of the taker (aggressor).")
    price: PositiveDecimal
    quantity: PositiveDecimal = Field(description="Base units.")
    notional: PositiveDecimal = Field(description="Quote currency.")


PriceLevel = Annotated[
    tuple[PositiveDecimal, NonNegativeDecimal],
    Field(description="[price, quantity] in base units; quantity 0 in a delta deletes the level."),
]
"""One aggregated level as a ``[price, quantity]`` pair: compact for deep books, as venues send it."""


class BookSequence(Contract):
    """The venue's own sequence ids, as the venue names them, so a builder can check continuity.

    Mapping per venue (first / last / prev): Binance U / u / pu, OKX - / seqId / prevSeqId,
    Deribit - / change_id / prev_change_id, Gate.io and KuCoin U / u / -, Bybit - / u / -.
    """

    first: int | None = Field(default=None, description="First update id covered by this frame.")
    last: int = Field(description="Last update id covered by this frame (the book's id after it).")
    prev: int | None = Field(default=None, description="Last update id of the previous frame.")


class BookSnapshot(InstrumentEvent):
    """A full (or top-N) book that replaces the builder's state (``md.book.v1``)."""

    type: Literal["snapshot"] = "snapshot"
    sequence: BookSequence
    bids: list[PriceLevel] = Field(description="Best (highest) first.")
    asks: list[PriceLevel] = Field(description="Best (lowest) first.")
    checksum: int | None = Field(default=None, description="Venue checksum of the book, when sent.")


class BookDelta(InstrumentEvent):
    """Changed levels since the previous frame (``md.book.v1``)."""

    type: Literal["delta"] = "delta"
    sequence: BookSequence
    bids: list[PriceLevel]
    asks: list[PriceLevel]
    checksum: int | None = Field(default=None, description="Venue checksum after applying, when sent.")


BookEvent = Annotated[BookSnapshot | BookDelta, Field(discriminator="type")]
"""Snapshots and deltas share one topic so that their relative order is kept."""


class BestBidOffer(InstrumentEvent):
    """The venue's own top of book (``md.bbo.v1``), e.g. Binance ``bookTicker``."""

    bid_price: PositiveDecimal
    bid_quantity: NonNegativeDecimal
    ask_price: PositiveDecimal
    ask_quantity: NonNegativeDecimal
    sequence: int | None = Field(default=None, description="Venue update id of the book, when sent.")


class Funding(InstrumentEvent):
    """Funding rate of a perpetual (``md.funding.v1``)."""

    rate: DecimalString = Field(description="Rate for one interval, as a fraction (0.0001 = 1 bp).")
    interval_s: Annotated[int, Field(gt=0, description="Funding interval, seconds.")]
    next_funding_ts: TimestampNs = Field(description="When the next funding is settled, ns.")
    mark_price: PositiveDecimal | None = None
    index_price: PositiveDecimal | None = None


class OpenInterest(InstrumentEvent):
    """Open interest (``md.open_interest.v1``)."""

    open_interest: NonNegativeDecimal = Field(description="Base units.")
    open_interest_notional: NonNegativeDecimal | None = Field(default=None, description="Quote currency.")


class Liquidation(InstrumentEvent):
    """A forced liquidation order reported by the venue (``md.liquidations.v1``)."""

    side: Side = Field(description="Side of the liquidation order: sell = a long was liquidated.")
    price: PositiveDecimal
    quantity: PositiveDecimal = Field(description="Base units.")
    notional: PositiveDecimal = Field(description="Quote currency.")


CandleSource = Literal["trades", "venue"]


class Candle(InstrumentEvent):
    """OHLCV bar (``md.candles.v1``). ``exchange_ts`` is the bar's open time."""

    interval_s: Annotated[int, Field(gt=0)]
    close_ts: TimestampNs
    open: PositiveDecimal
    high: PositiveDecimal
    low: PositiveDecimal
    close: PositiveDecimal
    volume: NonNegativeDecimal = Field(description="Base units.")
    notional: NonNegativeDecimal = Field(description="Quote currency.")
    trade_count: Annotated[int, Field(ge=0)]
    closed: bool = Field(description="False while the bar is still forming.")
    buy_volume: NonNegativeDecimal | None = Field(
        default=None, description="Base units bought by takers; null when the producer does not split."
    )
    sell_volume: NonNegativeDecimal | None = Field(
        default=None, description="Base units sold by takers; null when the producer does not split."
    )
    source: CandleSource = Field(
        default="trades",
        description="trades: built by perpwatch from md.trades.v1; venue: the venue's own kline, "
        "fetched from its REST history by the backfill.",
    )

    @model_validator(mode="after")
    def _high_low_bound_the_bar(self) -> "Candle":
        if not (self.low <= min(self.open, self.close) and max(self.open, self.close) <= self.high):
            raise ValueError("candle high/low must bound open and close")
        return self


class ConnectorState(StrEnum):
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    STALE = "stale"
    RESUBSCRIBED = "resubscribed"
    RATE_LIMITED = "rate_limited"


class ConnectorStatus(Contract):
    """Health of one venue connection (``md.status.v1``), keyed by exchange."""

    exchange: ExchangeId
    connection_id: Annotated[str, Field(min_length=1)]
    state: ConnectorState
    detail: str = ""
    symbols: list[str] = Field(default_factory=list, description="Canonical symbols on this connection.")
    ts: TimestampNs

    @property
    def key(self) -> str:
        return self.exchange.value
