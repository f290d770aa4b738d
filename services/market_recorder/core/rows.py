"""One row per market-data event, in the column order of migration 0001's tables.

Every table's primary key is the event's natural key, so writing a row twice is a no-op.
"""

from datetime import datetime
from decimal import Decimal

from schemas.market_data import Funding, Liquidation, OpenInterest, Trade
from services.runtime.timestamps import ns_to_datetime

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


def trade_row(trade: Trade) -> TradeRow:
    return (
        ns_to_datetime(trade.exchange_ts),
        trade.exchange.value,
        trade.symbol,
        trade.trade_id,
        trade.side.value,
        trade.price,
        trade.quantity,
        trade.notional,
        ns_to_datetime(trade.receive_ts),
    )


def funding_row(funding: Funding) -> FundingRow:
    return (
        ns_to_datetime(funding.exchange_ts),
        funding.exchange.value,
        funding.symbol,
        funding.rate,
        funding.interval_s,
        ns_to_datetime(funding.next_funding_ts),
        funding.mark_price,
        funding.index_price,
        ns_to_datetime(funding.receive_ts),
    )


def open_interest_row(oi: OpenInterest) -> OpenInterestRow:
    return (
        ns_to_datetime(oi.exchange_ts),
        oi.exchange.value,
        oi.symbol,
        oi.open_interest,
        oi.open_interest_notional,
        ns_to_datetime(oi.receive_ts),
    )


def liquidation_row(liquidation: Liquidation) -> LiquidationRow:
    return (
        ns_to_datetime(liquidation.exchange_ts),
        liquidation.exchange.value,
        liquidation.symbol,
        liquidation.side.value,
        liquidation.price,
        liquidation.quantity,
        liquidation.notional,
        ns_to_datetime(liquidation.receive_ts),
    )
