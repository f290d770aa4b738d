"""The book-builder's shell: ``md.book.v1`` in; ``book.bbo.v1``, ``book.l2.v1``, rows out.

Books are kept per ``exchange:symbol`` and belong to the input partition they arrive on. For
each book the pure core (``core.builder.BookBuilder``) applies the venue's continuity rule; this
shell turns its outcomes into:

- ``book.bbo.v1`` + a ``book_bbo`` row on every top-of-book change;
- ``book.l2.v1``: the top ``PERPWATCH_BOOK_DEPTH`` levels, at most every 100 ms of event time
  per book, and an ``invalid`` status message at once when the book breaks; a ``book_depth`` row
  at most once per second of event time;
- metrics (gaps, resyncs, crossed books, checksum failures, update rate, book age).

Resync (see ``resync.py``): a broken book is cleared and publishes nothing until it is consistent
again. REST-bootstrapped venues (Binance, Gate.io, KuCoin, MEXC) get a snapshot fetched by the
builder and published to ``md.book.v1``; stream-snapshot venues wait for the venue's next one.

Restart and rebalance (see ``checkpoints.py``): when partitions are assigned, each book is rebuilt
from its latest checkpoint and ``md.book.v1`` is replayed from there up to the committed offset
with every output suppressed, so a restarted builder continues with exactly the state, sequence
numbers and throttles it had, and never publishes a book it has not rebuilt. A book without a
checkpoint starts empty and waits for (or asks for) a snapshot, like a new one.
"""

import logging
import time
from dataclasses import dataclass
from typing import Any

from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from schemas.book import BookDepth, BookStatus, BookTop
from schemas.common import ExchangeId
from services.book_builder.checkpoints import (
    CHECKPOINT_TOPIC,
    MAX_CHECKPOINT_LEVELS,
    BookCheckpointRecord,
    checkpoint_record,
    ensure_checkpoint_topic,
    read_checkpoints,
)
from services.book_builder.core.bounds import tick_bounds
from services.book_builder.core.builder import (
    BookBuilder,
    BookInvalidated,
    BookState,
    DepthSnapshot,
    InvalidReason,
    TopOfBook,
)
from services.book_builder.core.decode import decode_book_event, trusted
from services.book_builder.core.rules import SnapshotSource
from services.book_builder.metrics import BOOK_AGE, CHECKPOINTS, BookMetrics
from services.book_builder.resync import ResyncRequests, SnapshotFetcher, http_fetcher
from services.book_builder.venues import new_builder
from services.book_builder.wire import encode_book_depth
from services.instruments.catalog import InstrumentCatalog, load_snapshot
from services.runtime.service import Output, RejectedInput
from services.runtime.settings import Settings, get_settings
from services.runtime.sink import Table, ns_to_datetime
from services.runtime.topics import partitions_of
from services.venues import book_spec_for

log = logging.getLogger(__name__)

INPUT_TOPIC = "md.book.v1"
# Books for instruments missing from the instrument list (derived ones, or keys nobody listed).
MAX_UNLISTED_BOOKS = 200
BOOTSTRAP_GRACE_NS = 3_000_000_000

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
BOOK_DEPTH = Table(
    "book_depth",
    (
        "ts",
        "exchange",
        "symbol",
        "venue_seq",
        "book_seq",
        "depth",
        "bid_prices",
        "bid_qtys",
        "ask_prices",
        "ask_qtys",
        "receive_ts",
    ),
)


@dataclass(eq=False)
class _Book:
    exchange: ExchangeId
    symbol: str
    native_symbol: str
    partition: TopicPartition
    builder: BookBuilder
    metrics: BookMetrics
    rest_resync: bool
    skip_through: int = -1  # input offsets up to this one are already in the restored state
    last_offset: int = -1
    last_depth_row_ts: int | None = None
    live: bool = False  # the last record was past the replay, so outputs were published
    dirty: bool = False  # changed since the last checkpoint was taken
    last_checkpoint: float | None = None
    oversize_logged: bool = False
    gauge_valid: bool = False
    resyncs_seen: int = 0
    waiting_since_ts: int | None = None  # event time the book started waiting for a snapshot


class BookBuilderProcessor:
    service = "book-builder"
    inputs: tuple[str, ...] = (INPUT_TOPIC,)
    row_origin = {BOOK_BBO.name: INPUT_TOPIC, BOOK_DEPTH.name: INPUT_TOPIC}

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        fetcher: SnapshotFetcher = http_fetcher,
        catalog: InstrumentCatalog | None = None,
        depth_interval_ms: int = 100,
        depth_row_interval_ms: int = 1000,
        checkpoint_interval_s: float = 30.0,
    ) -> None:
        self.decoders = {INPUT_TOPIC: decode_book_event}
        self.encoders = {"book.l2.v1": encode_book_depth}
        self._settings = settings
        self._fetcher = fetcher
        self._catalog = catalog
        self._depth_interval_ns = depth_interval_ms * 1_000_000
        self._depth_row_interval_ns = depth_row_interval_ms * 1_000_000
        self._checkpoint_interval_s = checkpoint_interval_s
        self._books: dict[bytes, _Book] = {}
        self._unlisted: set[bytes] = set()  # keys of books whose instrument the catalog does not list
        self._live_from: dict[TopicPartition, int] = {}
        self._pending_checkpoints: list[BookCheckpointRecord] = []
        self._resync: ResyncRequests | None = None

    # --- configuration -------------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = get_settings()
        return self._settings

    @property
    def catalog(self) -> InstrumentCatalog:
        if self._catalog is None:
            self._catalog = load_snapshot()
        return self._catalog

    @property
    def resync(self) -> ResyncRequests:
        if self._resync is None:
            self._resync = ResyncRequests(self.settings, self.catalog, self._fetcher)
        return self._resync

    # --- partition lifecycle -------------------------------------------------------------

    def assigned(self, partitions: set[TopicPartition]) -> None:
        self._drop(partitions)

    def revoked(self, partitions: set[TopicPartition]) -> None:
        self._drop(partitions)

    def _admit(self, key: bytes, event: Any) -> None:
        """A book for every listed instrument, and at most ``MAX_UNLISTED_BOOKS`` others.

        Every book holds levels and its own metric label sets: a producer inventing keys must
        not be able to grow either without bound.
        """
        if self.catalog.lists(event.exchange, event.native_symbol):
            return
        if len(self._unlisted) >= MAX_UNLISTED_BOOKS:
            raise RejectedInput(
                "unknown_instrument",
                f"{event.exchange.value} {event.native_symbol!r} is not in the instrument list and "
                f"{MAX_UNLISTED_BOOKS} unlisted books exist already",
            )
        self._unlisted.add(key)

    def _drop(self, partitions: set[TopicPartition]) -> None:
        dropped = {key for key, book in self._books.items() if book.partition in partitions}
        self._unlisted -= dropped
        for key in dropped:
            book = self._books.pop(key)
            book.metrics.valid.set(0)
            BOOK_AGE.last_update_ns.pop((book.exchange.value, book.symbol), None)
        if self._resync is not None:
            self._resync.cancel({key.decode() for key in dropped})
        self._pending_checkpoints = [
            c
            for c in self._pending_checkpoints
            if TopicPartition(c.input_topic, c.input_partition) not in partitions
        ]
        for tp in partitions:
            self._live_from.pop(tp, None)

    async def restore(
        self, partitions: set[TopicPartition], committed: dict[TopicPartition, int | None], settings: Settings
    ) -> dict[TopicPartition, int]:
        """Rebuild the assigned partitions' books from checkpoints; return where to replay from."""
        if self._settings is None:
            self._settings = settings
        input_partitions = await partitions_of(settings, settings.topic_name(INPUT_TOPIC))
        await ensure_checkpoint_topic(settings, max(1, len(input_partitions)))
        checkpoints = await read_checkpoints(settings, {(tp.topic, tp.partition) for tp in partitions})
        return self.restore_from(list(checkpoints.values()), partitions, committed)

    def restore_from(
        self,
        checkpoints: list[BookCheckpointRecord],
        partitions: set[TopicPartition],
        committed: dict[TopicPartition, int | None],
    ) -> dict[TopicPartition, int]:
        """Install the books of these checkpoints; records before ``committed`` replay silently."""
        for tp in partitions:
            self._live_from[tp] = committed.get(tp) or 0
        positions: dict[TopicPartition, int] = {}
        restored = 0
        for checkpoint in checkpoints:
            tp = TopicPartition(checkpoint.input_topic, checkpoint.input_partition)
            resume = committed.get(tp)
            if tp not in partitions or resume is None or checkpoint.input_offset >= resume:
                continue  # not covered by a commit: never restore ahead of the group
            book = self._new_book(checkpoint.exchange, checkpoint.symbol, checkpoint.native_symbol, tp)
            book.builder.restore(checkpoint.builder_checkpoint())
            book.skip_through = book.last_offset = checkpoint.input_offset
            book.last_depth_row_ts = checkpoint.last_depth_row_ts
            book.resyncs_seen = book.builder.counters.resyncs
            self._books[checkpoint.key.encode()] = book
            positions[tp] = min(positions.get(tp, resume), checkpoint.input_offset + 1)
            restored += 1
        log.info(
            "books restored from checkpoints", extra={"books": restored, "checkpoints": len(checkpoints)}
        )
        return positions

    # --- records -------------------------------------------------------------------------

    def handle(self, record: ConsumerRecord[bytes, bytes], event: Any, out: Output) -> None:
        # The runtime has checked that the record's key, if any, is this one.
        key = event.key.encode()
        book = self._books.get(key)
        if book is None:
            self._admit(key, event)
            book = self._books[key] = self._new_book(
                event.exchange,
                event.symbol,
                event.native_symbol,
                TopicPartition(record.topic, record.partition),
            )
        offset = record.offset
        if offset <= book.skip_through:
            return
        outcomes = book.builder.on_event(event)
        book.last_offset = offset
        book.dirty = True
        live = offset >= self._live_from.get(book.partition, 0)
        book.live = live
        metrics = book.metrics
        if live:
            metrics.updates.inc()
            if event.bids or event.asks:
                metrics.level_updates.inc(len(event.bids) + len(event.asks))
            BOOK_AGE.last_update_ns[(book.exchange.value, book.symbol)] = event.exchange_ts
        for outcome in outcomes:
            if type(outcome) is TopOfBook:
                if live:
                    self._publish_top(book, outcome, out)
            elif type(outcome) is DepthSnapshot:
                if live:
                    self._publish_depth(book, outcome, out)
                elif self._depth_row_due(book, outcome.exchange_ts):
                    book.last_depth_row_ts = outcome.exchange_ts  # keeps the row throttle deterministic
            elif type(outcome) is BookInvalidated:
                self._on_invalidated(book, outcome, out, live=live)
        resyncs = book.builder.counters.resyncs
        if resyncs != book.resyncs_seen:
            if live:
                metrics.resyncs.inc(resyncs - book.resyncs_seen)
            book.resyncs_seen = resyncs
        valid = book.builder.state is BookState.LIVE
        if valid != book.gauge_valid:
            book.gauge_valid = valid
            metrics.valid.set(1 if valid else 0)
            if valid and book.rest_resync:
                self.resync.recovered(key.decode())
        if valid:
            book.waiting_since_ts = None
        elif book.waiting_since_ts is None:
            book.waiting_since_ts = event.exchange_ts
        if not valid and live and book.rest_resync and self._resync_due(book, event.exchange_ts):
            self.resync.request(key.decode(), book.exchange, book.native_symbol)

    async def close(self) -> None:
        """Called by the runtime at shutdown: stop resync fetches and their publisher."""
        if self._resync is not None:
            await self._resync.close()

    def end_batch(self, out: Output) -> None:
        """Publish the checkpoints taken at the end of the previous batch; take this batch's."""
        for checkpoint in self._pending_checkpoints:
            out.publish(CHECKPOINT_TOPIC, checkpoint)
            CHECKPOINTS.labels("published").inc()
        self._pending_checkpoints = []
        now = time.monotonic()
        for book in self._books.values():
            if not (book.dirty and book.live):
                continue
            if book.last_checkpoint is not None and now - book.last_checkpoint < self._checkpoint_interval_s:
                continue
            if book.builder.book.bid_count + book.builder.book.ask_count > MAX_CHECKPOINT_LEVELS:
                if not book.oversize_logged:
                    book.oversize_logged = True
                    CHECKPOINTS.labels("too_large").inc()
                    log.warning(
                        "book too deep to checkpoint", extra={"book": f"{book.exchange.value}:{book.symbol}"}
                    )
                continue
            state = book.builder.checkpoint()
            if state is None:
                continue
            self._pending_checkpoints.append(
                checkpoint_record(
                    exchange=book.exchange,
                    symbol=book.symbol,
                    native_symbol=book.native_symbol,
                    input_topic=book.partition.topic,
                    input_partition=book.partition.partition,
                    input_offset=book.last_offset,
                    state=state,
                    last_depth_row_ts=book.last_depth_row_ts,
                )
            )
            book.dirty = False
            book.last_checkpoint = now

    # --- outputs -------------------------------------------------------------------------

    def _new_book(self, exchange: ExchangeId, symbol: str, native_symbol: str, tp: TopicPartition) -> _Book:
        spec = book_spec_for(exchange)
        builder = new_builder(
            exchange,
            native_symbol,
            self.catalog,
            depth=self.settings.book_depth,
            depth_interval_ns=self._depth_interval_ns,
        )
        if self.catalog.lists(exchange, native_symbol):
            # Prices are bounded by the instrument's tick (core.bounds); unknown ticks are 0.
            builder.tick_bounds = tick_bounds(self.catalog.get(exchange, native_symbol).tick_size)
        return _Book(
            exchange=exchange,
            symbol=symbol,
            native_symbol=native_symbol,
            partition=tp,
            builder=builder,
            metrics=BookMetrics.of(exchange.value, symbol),
            rest_resync=spec.snapshot_source is SnapshotSource.REST,
        )

    def _publish_top(self, book: _Book, top: TopOfBook, out: Output) -> None:
        event = trusted(
            BookTop,
            {
                "exchange": book.exchange,
                "symbol": book.symbol,
                "native_symbol": book.native_symbol,
                "exchange_ts": top.exchange_ts,
                "receive_ts": top.receive_ts,
                "venue_seq": top.venue_seq,
                "book_seq": top.book_seq,
                "bid_price": top.bid_price,
                "bid_quantity": top.bid_quantity,
                "ask_price": top.ask_price,
                "ask_quantity": top.ask_quantity,
            },
        )
        out.publish("book.bbo.v1", event)
        out.add_row(BOOK_BBO, book_bbo_row(event))

    def _publish_depth(self, book: _Book, depth: DepthSnapshot, out: Output) -> None:
        event = trusted(
            BookDepth,
            {
                "exchange": book.exchange,
                "symbol": book.symbol,
                "native_symbol": book.native_symbol,
                "exchange_ts": depth.exchange_ts,
                "receive_ts": depth.receive_ts,
                "status": BookStatus.VALID,
                "reason": "",
                "book_seq": depth.book_seq,
                "venue_seq": depth.venue_seq,
                "depth": self.settings.book_depth,
                "bids": depth.bids,
                "asks": depth.asks,
            },
        )
        out.publish("book.l2.v1", event)
        if self._depth_row_due(book, depth.exchange_ts):
            book.last_depth_row_ts = depth.exchange_ts
            out.add_row(BOOK_DEPTH, book_depth_row(event))

    @staticmethod
    def _resync_due(book: _Book, exchange_ts: int) -> bool:
        """A broken book asks at once; a book that never had a snapshot first gives the ingestor's
        own bootstrap snapshot ``BOOTSTRAP_GRACE_NS`` of event time to arrive."""
        if book.builder.broken:
            return True
        since = book.waiting_since_ts
        return since is not None and exchange_ts - since >= BOOTSTRAP_GRACE_NS

    def _depth_row_due(self, book: _Book, exchange_ts: int) -> bool:
        last = book.last_depth_row_ts
        return last is None or exchange_ts - last >= self._depth_row_interval_ns

    def _on_invalidated(self, book: _Book, invalid: BookInvalidated, out: Output, *, live: bool) -> None:
        if not live:
            return
        metrics = book.metrics
        if invalid.kind is InvalidReason.GAP:
            metrics.gaps.inc()
        elif invalid.kind is InvalidReason.CROSSED:
            metrics.crossed.inc()
        else:
            metrics.checksum_failures.inc()
        log.warning(
            "book invalidated, resyncing",
            extra={
                "book": f"{book.exchange.value}:{book.symbol}",
                "kind": invalid.kind.value,
                "reason": invalid.reason,
            },
        )
        out.publish(
            "book.l2.v1",
            trusted(
                BookDepth,
                {
                    "exchange": book.exchange,
                    "symbol": book.symbol,
                    "native_symbol": book.native_symbol,
                    "exchange_ts": invalid.exchange_ts,
                    "receive_ts": invalid.receive_ts,
                    "status": BookStatus.INVALID,
                    "reason": f"{invalid.kind.value}: {invalid.reason}",
                    "book_seq": invalid.book_seq,
                    "venue_seq": invalid.venue_seq,
                    "depth": self.settings.book_depth,
                    "bids": [],
                    "asks": [],
                },
            ),
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


def book_depth_row(depth: BookDepth) -> tuple[Any, ...]:
    return (
        ns_to_datetime(depth.exchange_ts),
        depth.exchange.value,
        depth.symbol,
        depth.venue_seq,
        depth.book_seq,
        depth.depth,
        [price for price, _ in depth.bids],
        [quantity for _, quantity in depth.bids],
        [price for price, _ in depth.asks],
        [quantity for _, quantity in depth.asks],
        ns_to_datetime(depth.receive_ts),
    )
