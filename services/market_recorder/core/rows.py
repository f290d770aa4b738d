"""One row per market-data event, in the column order of migration 0001's tables.

Every table's primary key is the event's natural key, so writing a row twice is a no-op.
"""

from datetime import UTC, datetime
from decimal import Decimal

from schemas.market_data import Funding, Liquidation, OpenInterest, Trade

TradeRow = tuple[datetime, str, str, str, str, Decimal, Decimal, Decimal, datetime]
FundingRow = tuple[datetime, str, str, Decimal, int, datetime, Decimal | None, Decimal | None, datetime]
OpenInterestRow = tuple[datetime, str, str, Decimal, Decimal | None, datetime]
LiquidationRow = tuple[datetime, str, str, str, Decimal, Decimal, Decimal, datetime]

TRADE_COLUMNS = (
    "ts",
    "exchange",
    "symbol",
    "trade_id",
    "side",
    "price",
    "quantity",
    "notional",
    "receive_ts",
)
FUNDING_COLUMNS = (
    "ts",
    "exchange",
    "symbol",
    "rate",
    "interval_s",
    "next_funding_ts",
    "mark_price",
    "index_price",
    "receive_ts",
)
OPEN_INTEREST_COLUMNS = ("ts", "exchange", "symbol", "open_interest", "open_interest_notional", "receive_ts")
LIQUIDATION_COLUMNS = ("ts", "exchange", "symbol", "side", "price", "quantity", "notional", "receive_ts")


def timestamp(ns: int) -> datetime:
    """Nanoseconds to an aware datetime; PostgreSQL keeps microseconds, so truncate, never round."""
    return datetime.fromtimestamp(ns // 1000 / 1_000_000, tz=UTC)


def trade_row(trade: Trade) -> TradeRow:
    return (
        timestamp(trade.exchange_ts),
        trade.exchange.value,
        trade.symbol,
        trade.trade_id,
        trade.side.value,
        trade.price,
        trade.quantity,
        trade.notional,
        timestamp(trade.receive_ts),
    )


def funding_row(funding: Funding) -> FundingRow:
    return (
        timestamp(funding.exchange_ts),
        funding.exchange.value,
        funding.symbol,
        funding.rate,
        funding.interval_s,
        timestamp(funding.next_funding_ts),
        funding.mark_price,
        funding.index_price,
        timestamp(funding.receive_ts),
    )


def open_interest_row(oi: OpenInterest) -> OpenInterestRow:
    return (
        timestamp(oi.exchange_ts),
        oi.exchange.value,
        oi.symbol,
        oi.open_interest,
        oi.open_interest_notional,
        timestamp(oi.receive_ts),
    )


def liquidation_row(liquidation: Liquidation) -> LiquidationRow:
    return (
        timestamp(liquidation.exchange_ts),
        liquidation.exchange.value,
        liquidation.symbol,
        liquidation.side.value,
        liquidation.price,
        liquidation.quantity,
        liquidation.notional,
        timestamp(liquidation.receive_ts),
    )
