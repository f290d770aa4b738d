"""``venue-recorder``: the venue's order events and trades into TimescaleDB, at least once.

A plain :class:`StreamService` processor on the venue's committed outputs (its consumer reads
with ``read_committed``, so aborted venue transactions never reach the database). Rows are keyed
by their natural keys — ``(exchange, symbol, seq, ts)`` for orders, ``(exchange, symbol,
trade_id, ts)`` for trades, ``ts`` being the record's Kafka timestamp — so a re-delivered batch
inserts nothing new. Symbol listings stay on the topic (they are the venue's configuration, not
activity).
"""

from typing import Any

from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from schemas.venue import VenueOrderEvent, VenueSymbolEvent, VenueTrade
from services.matching.topics import EVENTS_TOPIC, TRADES_TOPIC
from services.runtime.service import Output, RejectedInput
from services.runtime.sink import Row, Table, ns_to_datetime

VENUE_EXCHANGE = "perpwatch"

VENUE_ORDERS = Table(
    "venue_orders",
    (
        "ts",
        "exchange",
        "symbol",
        "seq",
        "account",
        "client_order_id",
        "order_id",
        "status",
        "side",
        "order_type",
        "tif",
        "price",
        "stop_price",
        "quantity",
        "filled_quantity",
        "remaining_quantity",
        "cancelled_quantity",
        "request",
        "reason",
    ),
)
VENUE_TRADES = Table(
    "venue_trades",
    (
        "ts",
        "exchange",
        "symbol",
        "trade_id",
        "seq",
        "price",
        "quantity",
        "aggressor_side",
        "maker_order_id",
        "taker_order_id",
        "maker_account",
        "taker_account",
        "maker_fee",
        "taker_fee",
    ),
)


def _record_ts(record: ConsumerRecord[bytes, bytes]) -> Any:
    return ns_to_datetime(int(record.timestamp) * 1_000_000)


def order_row(event: VenueOrderEvent, record: ConsumerRecord[bytes, bytes]) -> Row:
    return (
        _record_ts(record),
        VENUE_EXCHANGE,
        event.symbol,
        event.seq,
        event.account,
        event.client_order_id,
        event.order_id,
        event.status,
        event.side,
        event.order_type,
        event.tif,
        event.price,
        event.stop_price,
        event.quantity,
        event.filled_quantity,
        event.remaining_quantity,
        event.cancelled_quantity,
        event.request,
        event.reason,
    )


def trade_row(event: VenueTrade, record: ConsumerRecord[bytes, bytes]) -> Row:
    return (
        _record_ts(record),
        VENUE_EXCHANGE,
        event.symbol,
        event.trade_id,
        event.seq,
        event.price,
        event.quantity,
        event.aggressor_side,
        event.maker_order_id,
        event.taker_order_id,
        event.maker_account,
        event.taker_account,
        event.maker_fee,
        event.taker_fee,
    )


class VenueRecorder:
    service = "venue-recorder"
    inputs: tuple[str, ...] = (EVENTS_TOPIC, TRADES_TOPIC)
    row_origin: dict[str, str] = {VENUE_ORDERS.name: EVENTS_TOPIC, VENUE_TRADES.name: TRADES_TOPIC}

    def assigned(self, partitions: set[TopicPartition]) -> None:
        """Stateless: nothing to rebuild."""

    def revoked(self, partitions: set[TopicPartition]) -> None:
        """Stateless: nothing to drop."""

    def handle(self, record: ConsumerRecord[bytes, bytes], event: Any, out: Output) -> None:
        if isinstance(event, VenueOrderEvent):
            out.add_row(VENUE_ORDERS, order_row(event, record))
        elif isinstance(event, VenueTrade):
            out.add_row(VENUE_TRADES, trade_row(event, record))
        elif not isinstance(event, VenueSymbolEvent):
            raise RejectedInput(
                "unexpected_event", f"not a venue order, trade or symbol event: {type(event)}"
            )
