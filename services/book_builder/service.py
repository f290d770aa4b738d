"""The book-builder's shell: ``md.book.v1`` in, ``book.bbo.v1`` and ``book_bbo`` rows out.

Books are kept per ``exchange:symbol`` and belong to the partition they arrive on. When a
partition is assigned (start, restart, rebalance) its books start empty and wait for the next
snapshot in the stream: a builder that has not seen a snapshot publishes nothing, so a
restarted builder can never publish a wrong book.
"""

import logging
from typing import Any

from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from schemas.book import BookTop
from schemas.market_data import BookDelta, BookSnapshot
from services.book_builder.core.builder import BookBuilder, BookInvalidated, TopOfBook
from services.book_builder.core.rules import sequence_rule_for
from services.runtime.service import Output, RejectedInput
from services.runtime.sink import Table, ns_to_datetime

log = logging.getLogger(__name__)

BOOK_BBO = Table(
    "book_bbo",
    (
        "ts",
        "exchange",
        "symbol",
        "venue_seq",
        "book_seq",
        "bid_price",
        "bid_qty",
        "ask_price",
        "ask_qty",
        "receive_ts",
    ),
)


class BookBuilderProcessor:
    service = "book-builder"
    inputs: tuple[str, ...] = ("md.book.v1",)
    row_origin = {BOOK_BBO.name: "md.book.v1"}

    def __init__(self) -> None:
        self._books: dict[str, BookBuilder] = {}
        self._partition_of: dict[str, TopicPartition] = {}

    def assigned(self, partitions: set[TopicPartition]) -> None:
        self._drop(partitions)

    def revoked(self, partitions: set[TopicPartition]) -> None:
        self._drop(partitions)

    def _drop(self, partitions: set[TopicPartition]) -> None:
        for key, tp in list(self._partition_of.items()):
            if tp in partitions:
                del self._books[key], self._partition_of[key]

    def handle(self, record: ConsumerRecord[bytes, bytes], event: Any, out: Output) -> None:
        assert isinstance(event, BookSnapshot | BookDelta)
        key = event.key
        builder = self._books.get(key)
        if builder is None:
            rule = sequence_rule_for(event.exchange)
            if rule is None:
                raise RejectedInput("unsupported_venue", f"no book continuity rule for {event.exchange}")
            builder = self._books[key] = BookBuilder(rule)
            self._partition_of[key] = TopicPartition(record.topic, record.partition)
        outcomes = builder.on_snapshot(event) if isinstance(event, BookSnapshot) else builder.on_delta(event)
        for outcome in outcomes:
            if isinstance(outcome, TopOfBook):
                top = BookTop(
                    exchange=event.exchange,
                    symbol=event.symbol,
                    native_symbol=event.native_symbol,
                    exchange_ts=outcome.exchange_ts,
                    receive_ts=outcome.receive_ts,
                    venue_seq=outcome.venue_seq,
                    book_seq=outcome.book_seq,
                    bid_price=outcome.bid_price,
                    bid_quantity=outcome.bid_quantity,
                    ask_price=outcome.ask_price,
                    ask_quantity=outcome.ask_quantity,
                )
                out.publish("book.bbo.v1", top)
                out.add_row(BOOK_BBO, book_bbo_row(top))
            elif isinstance(outcome, BookInvalidated):
                log.warning(
                    "book invalidated, awaiting snapshot", extra={"book": key, "reason": outcome.reason}
                )


def book_bbo_row(top: BookTop) -> tuple[Any, ...]:
    return (
        ns_to_datetime(top.exchange_ts),
        top.exchange.value,
        top.symbol,
        top.venue_seq,
        top.book_seq,
        top.bid_price,
        top.bid_quantity,
        top.ask_price,
        top.ask_quantity,
        ns_to_datetime(top.receive_ts),
    )
