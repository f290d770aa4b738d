"""Response shapes of the query API (they are the OpenAPI schema at /docs).

Prices, quantities and other ``numeric`` columns travel as decimal strings, as on the topics;
``double precision`` statistics as JSON numbers; times as ISO 8601 UTC.
"""

from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

Dec = str
"""A decimal number as a string, e.g. "61800.20" (no binary float in between)."""

T = TypeVar("T")


class Out(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Page(Out, Generic[T]):
    items: list[T]
    limit: int = Field(description="Page size asked for.")
    offset: int = Field(description="Rows skipped before this page.")
    next_offset: int | None = Field(description="Offset of the next page; null on the last page.")


class ConnectionStatus(Out):
    state: str = Field(description="connected, disconnected, stale, resubscribed or rate_limited.")
    detail: str
    connection_id: str
    symbols: list[str]
    ts: datetime = Field(description="When the connector reported this state.")


class ExchangeInfo(Out):
    exchange: str
    instruments: int = Field(description="Instruments in the catalog snapshot.")
    symbols: list[str] = Field(description="Canonical symbols, e.g. BTC-USDT-PERP.")
    linear: int
    inverse: int
    quotes: list[str] = Field(description="Quote currencies of its instruments.")
    funding_intervals_s: list[int]
    status: ConnectionStatus | None = Field(
        description="Latest md.status.v1 (live, from Kafka); null if none."
    )


class Quote(Out):
    exchange: str
    symbol: str
    ts: datetime
    bid_price: Dec
    bid_qty: Dec
    ask_price: Dec
    ask_qty: Dec
    venue_seq: int


class BestQuote(Out):
    symbol: str
    venues: int
    best_bid_exchange: str
    best_bid: Dec
    best_ask_exchange: str
    best_ask: Dec
    spread_bps: float = Field(
        description="(best ask - best bid) / mid in bps; negative: crossed across venues."
    )


class Prices(Page[Quote]):
    best: list[BestQuote] = Field(description="Cross-venue best bid and ask per symbol of this page.")


class Level(Out):
    price: Dec
    quantity: Dec


class Book(Out):
    exchange: str
    symbol: str
    ts: datetime
    venue_seq: int
    book_seq: int
    bids: list[Level] = Field(description="Best (highest) first.")
    asks: list[Level] = Field(description="Best (lowest) first.")


class CandleOut(Out):
    exchange: str
    symbol: str
    ts: datetime = Field(description="Open time of the bar.")
    interval_s: int
    open: Dec
    high: Dec
    low: Dec
    close: Dec
    volume: Dec
    notional: Dec
    trade_count: int
    buy_volume: Dec | None = None
    sell_volume: Dec | None = None


class FundingOut(Out):
    exchange: str
    symbol: str
    ts: datetime
    rate: Dec
    interval_s: int
    next_funding_ts: datetime
    mark_price: Dec | None
    index_price: Dec | None


class OpenInterestOut(Out):
    exchange: str
    symbol: str
    ts: datetime
    open_interest: Dec
    open_interest_notional: Dec | None


class ArbOpportunityOut(Out):
    ts: datetime
    opportunity_id: str
    seq: int
    event: str = Field(description="opened, updated or closed.")
    kind: str = Field(description="spread or funding.")
    symbol: str
    buy_exchange: str
    sell_exchange: str
    sell_symbol: str
    opened_ts: datetime
    closed_ts: datetime | None
    duration_ms: int | None
    value_bps: Dec
    peak_bps: Dec
    notional: Dec | None
    gross_spread_bps: Dec | None
    notionals: list[Dec]
    executable_bps: list[Dec | None]
    funding_differential_apr: Dec | None
    buy_fee_bps: Dec
    sell_fee_bps: Dec
    reason: str


class ArbSpreadOut(Out):
    ts: datetime
    symbol: str
    buy_exchange: str
    sell_exchange: str
    sell_symbol: str
    gross_spread_bps: Dec
    mid: Dec
    notionals: list[Dec]
    executable_bps: list[Dec | None]
    funding_differential_apr: Dec | None
    guard: str


class DepthBand(Out):
    bps: int
    bid_depth: Dec
    ask_depth: Dec
    bid_notional: Dec
    ask_notional: Dec


class LiquidityOut(Out):
    ts: datetime
    exchange: str
    symbol: str
    best_bid: Dec | None
    best_ask: Dec | None
    mid: Dec | None
    spread_bps: float | None
    bands: list[DepthBand] = Field(description="Depth within 10, 25, 50 and 100 bps of the mid.")
    imbalance: float | None
    buy_slippage_bps: float | None
    sell_slippage_bps: float | None
    spread_z: float | None
    depth_z: float | None
    crunch_active: bool


class LiquidityAnomalyOut(Out):
    ts: datetime
    exchange: str
    symbol: str
    phase: str = Field(description="started or ended.")
    crunch_id: str
    started_ts: datetime
    ended_ts: datetime | None
    duration_s: float | None
    severity: str
    severity_score: float
    peak_spread_z: float | None
    peak_depth_z: float | None


class AlertOut(Out):
    ts: datetime = Field(description="Exchange time of the notification.")
    idempotency_key: str
    fingerprint: str
    status: str = Field(description="firing or resolved.")
    rule_id: str
    rule_name: str
    severity: str
    labels: dict[str, Any]
    metric: str
    condition: str
    threshold: Dec
    value: Dec | None
    starts_at: datetime
    ends_at: datetime | None
    reminder: int
    summary: str
    suppressed: str = Field(description="Why it was not delivered; empty when delivered.")


class ErrorDetail(Out):
    status: int
    code: str
    message: str
    correlation_id: str
    details: list[dict[str, Any]] | None = None


class ErrorResponse(Out):
    error: ErrorDetail


def wire(value: Any) -> Any:
    """Database values as the API sends them: numeric -> decimal string, arrays element-wise."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, list):
        return [wire(item) for item in value]
    return value


def wire_row(row: dict[str, Any]) -> dict[str, Any]:
    return {key: wire(value) for key, value in row.items()}
