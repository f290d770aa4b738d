"""The venue's public market data held in memory, and the fan-out to WebSocket clients.

Fed by one task (:mod:`services.matching.gateway.feed`) with committed records of
``venue.md.v1`` and ``venue.trades.v1``. Depth is rebuilt by applying every ``l2`` update from
the start of the topic; each symbol's ``l2_seq`` is gapless from 1, so a book whose first update
is not 1 (the topic's retention dropped the start) or that skips a number is flagged incomplete
until the next depth record: the venue publishes every book's full depth on the compacted
``venue.depth.v1`` at start and then now and then. The feed reads those first, and a depth record
replaces the book (complete again) at its ``l2_seq``; ``l2`` updates it already includes are
skipped. The top of book is the latest ``bbo`` event, exact either way.

Nothing here awaits: a subscriber registered and given a depth snapshot in one synchronous step
receives exactly the updates after that snapshot.
"""

import asyncio
import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

import orjson
from sortedcontainers import SortedDict

from services.matching.gateway.models import Bbo, Depth, DepthLevel

log = logging.getLogger(__name__)

Stream = Literal["trades", "md"]


@dataclass
class SymbolBook:
    symbol: str
    # Keys sort best first: bids by negated price, asks by price. Values keep the wire text.
    bids: Any = field(default_factory=SortedDict)
    asks: Any = field(default_factory=SortedDict)
    seq: int = 0
    l2_seq: int = 0
    complete: bool = True
    top: dict[str, Any] | None = None

    def apply_level(self, event: dict[str, Any]) -> None:
        l2_seq = int(event["l2_seq"])
        if l2_seq <= self.l2_seq:
            return  # already in the book: a depth record included it, or it was delivered again
        if l2_seq != self.l2_seq + 1:
            if self.complete:
                log.warning(
                    "l2 gap: depth marked incomplete",
                    extra={"symbol": self.symbol, "expected": self.l2_seq + 1, "got": l2_seq},
                )
            self.complete = False
        self.l2_seq = l2_seq
        self.seq = int(event["seq"])
        price = Decimal(event["price"])
        side = self.bids if event["side"] == "bid" else self.asks
        key = -price if event["side"] == "bid" else price
        if Decimal(event["quantity"]) == 0:
            side.pop(key, None)
        else:
            side[key] = (event["price"], event["quantity"])

    def apply_depth(self, event: dict[str, Any]) -> None:
        """A full-depth record: the book after ``l2_seq``. An older one than the book is ignored;
        one the book already matches (complete, same ``l2_seq``) changes nothing."""
        l2_seq = int(event["l2_seq"])
        if l2_seq < self.l2_seq or (self.complete and l2_seq == self.l2_seq):
            return
        if not self.complete:
            log.info(
                "depth complete again from a depth record", extra={"symbol": self.symbol, "l2_seq": l2_seq}
            )
        self.bids = SortedDict(
            {-Decimal(lvl["price"]): (lvl["price"], lvl["quantity"]) for lvl in event["bids"]}
        )
        self.asks = SortedDict(
            {Decimal(lvl["price"]): (lvl["price"], lvl["quantity"]) for lvl in event["asks"]}
        )
        self.l2_seq = l2_seq
        self.seq = max(self.seq, int(event["seq"]))
        self.complete = True

    def apply_top(self, event: dict[str, Any]) -> None:
        self.seq = int(event["seq"])
        self.top = event

    def depth(self, levels: int) -> Depth:
        def side(book: Any) -> list[DepthLevel]:
            return [DepthLevel(price=p, quantity=q) for p, q in book.values()[:levels]]

        return Depth(
            symbol=self.symbol,
            seq=self.seq,
            l2_seq=self.l2_seq,
            complete=self.complete,
            bids=side(self.bids),
            asks=side(self.asks),
        )

    def bbo(self) -> Bbo | None:
        if self.top is None:
            return None
        return Bbo(
            symbol=self.symbol,
            seq=int(self.top["seq"]),
            l2_seq=int(self.top["l2_seq"]),
            bid_price=self.top["bid_price"],
            bid_quantity=self.top["bid_quantity"],
            ask_price=self.top["ask_price"],
            ask_quantity=self.top["ask_quantity"],
        )


class Subscriber:
    """One WebSocket client's bounded queue; ``None`` in it means: too slow, close."""

    def __init__(self, stream: Stream, symbol: str | None, buffer: int) -> None:
        self.stream = stream
        self.symbol = symbol
        self.overflowed = False
        self._queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize=buffer + 1)
        self._buffer = buffer

    def push(self, message: str) -> None:
        if self.overflowed:
            return
        if self._queue.qsize() >= self._buffer:
            # Dropping silently would hand the client a book with holes: close it instead.
            self.overflowed = True
            self._queue.put_nowait(None)
            return
        self._queue.put_nowait(message)

    async def next(self) -> str | None:
        return await self._queue.get()


class MarketData:
    def __init__(self, ws_buffer: int = 10_000) -> None:
        self.books: dict[str, SymbolBook] = {}
        self._subscribers: set[Subscriber] = set()
        self._ws_buffer = ws_buffer

    def book(self, symbol: str) -> SymbolBook | None:
        return self.books.get(symbol)

    def _book_for(self, symbol: str) -> SymbolBook:
        book = self.books.get(symbol)
        if book is None:
            book = self.books[symbol] = SymbolBook(symbol)
        return book

    def apply_market_data(self, payload: bytes) -> None:
        """One ``venue.md.v1`` record (an ``l2`` or ``bbo`` event), forwarded to subscribers."""
        event = orjson.loads(payload)
        symbol = str(event["symbol"])
        book = self._book_for(symbol)
        if event["kind"] == "l2":
            book.apply_level(event)
        else:
            book.apply_top(event)
        self._publish("md", symbol, payload)

    def apply_depth(self, payload: bytes) -> None:
        """One ``venue.depth.v1`` record: the book at its ``l2_seq``. Not forwarded: a client got
        its depth when it subscribed, and follows it with the ``l2`` updates."""
        event = orjson.loads(payload)
        self._book_for(str(event["symbol"])).apply_depth(event)

    def apply_trade(self, payload: bytes) -> None:
        """One ``venue.trades.v1`` record: only forwarded, trades are not kept."""
        self._publish("trades", str(orjson.loads(payload)["symbol"]), payload)

    def _publish(self, stream: Stream, symbol: str, payload: bytes) -> None:
        message: str | None = None
        for subscriber in self._subscribers:
            if subscriber.stream == stream and subscriber.symbol in (None, symbol):
                message = message or payload.decode()
                subscriber.push(message)

    def subscribe(self, stream: Stream, symbol: str | None) -> tuple[Subscriber, list[Depth]]:
        """Register a client; for ``md`` also the depth it starts from (one per known symbol)."""
        subscriber = Subscriber(stream, symbol, self._ws_buffer)
        self._subscribers.add(subscriber)
        snapshots: list[Depth] = []
        if stream == "md":
            books = [self.books[symbol]] if symbol in self.books else []
            if symbol is None:
                books = list(self.books.values())
            snapshots = [book.depth(max(len(book.bids), len(book.asks))) for book in books]
        return subscriber, snapshots

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)
