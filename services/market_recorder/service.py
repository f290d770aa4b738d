"""The market-recorder: md.trades, md.funding, md.open_interest and md.liquidations into tables.

Idempotent by natural keys (migration 0001), trades deduped by venue trade id. It keeps no
state that matters for correctness, so a restart simply resumes at the committed offsets.
"""

from typing import Any

from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from schemas.market_data import Funding, Liquidation, OpenInterest, Trade
from services.market_recorder.core.dedupe import RecentTradeIds
from services.market_recorder.core.rows import (
    FUNDING_COLUMNS,
    LIQUIDATION_COLUMNS,
    OPEN_INTEREST_COLUMNS,
    TRADE_COLUMNS,
    funding_row,
    liquidation_row,
    open_interest_row,
    trade_row,
)
from services.runtime.service import Output, RejectedInput
from services.runtime.sink import Table

MARKET_TRADES = Table("market_trades", TRADE_COLUMNS)
FUNDING_RATES = Table("funding_rates", FUNDING_COLUMNS)
OPEN_INTEREST = Table("open_interest", OPEN_INTEREST_COLUMNS)
LIQUIDATIONS = Table("liquidations", LIQUIDATION_COLUMNS)


class MarketRecorder:
    service = "market-recorder"
    inputs: tuple[str, ...] = ("md.trades.v1", "md.funding.v1", "md.open_interest.v1", "md.liquidations.v1")
    row_origin = {
        MARKET_TRADES.name: "md.trades.v1",
        FUNDING_RATES.name: "md.funding.v1",
        OPEN_INTEREST.name: "md.open_interest.v1",
        LIQUIDATIONS.name: "md.liquidations.v1",
    }

    def __init__(self, recent_trade_ids: int = 10_000) -> None:
        self._recent = RecentTradeIds(recent_trade_ids)
        self.duplicate_trades = 0

    def assigned(self, partitions: set[TopicPartition]) -> None:
        return None

    def revoked(self, partitions: set[TopicPartition]) -> None:
        return None

    def handle(self, record: ConsumerRecord[bytes, bytes], event: Any, out: Output) -> None:
        if isinstance(event, Trade):
            if self._recent.first_time(event.key, event.trade_id):
                out.add_row(MARKET_TRADES, trade_row(event))
            else:
                self.duplicate_trades += 1
        elif isinstance(event, Funding):
            out.add_row(FUNDING_RATES, funding_row(event))
        elif isinstance(event, OpenInterest):
            out.add_row(OPEN_INTEREST, open_interest_row(event))
        elif isinstance(event, Liquidation):
            out.add_row(LIQUIDATIONS, liquidation_row(event))
        else:
            raise RejectedInput("unexpected_event", f"{type(event).__name__} on {record.topic}")
