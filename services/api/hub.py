"""Fan-out of Kafka records to WebSocket clients, with a bounded queue per client.

A record is serialized once (its Kafka value is embedded as it is, never re-encoded) and the
same bytes object is queued for every client whose filters match. A client that does not read
keeps at most ``queue_size`` messages: the oldest one is dropped for each new one and the
client's drop counter goes up; every message it then receives carries that counter, so a slow
client knows what it missed, and memory stays bounded whatever the clients do.
"""

import asyncio
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from services.api.metrics import WS_CLIENTS, WS_DROPPED, WS_RECORDS

# Arbitrage events name two venues, in nested legs.
_LEGS = ("buy", "sell")


@dataclass(frozen=True)
class Filters:
    """Empty set: no filter on that dimension."""

    topics: frozenset[str] = frozenset()
    exchanges: frozenset[str] = frozenset()
    symbols: frozenset[str] = frozenset()

    def matches(self, topic: str, exchanges: tuple[str, ...], symbols: tuple[str, ...]) -> bool:
        if self.topics and topic not in self.topics:
            return False
        if self.exchanges and not self.exchanges.intersection(exchanges):
            return False
        return not (self.symbols and not self.symbols.intersection(symbols))


class Subscriber:
    def __init__(self, filters: Filters, queue_size: int) -> None:
        self.filters = filters
        self.queue: deque[bytes] = deque(maxlen=queue_size)
        self.dropped = 0
        self.delivered = 0
        self._ready = asyncio.Event()

    def offer(self, body: bytes) -> None:
        if len(self.queue) == self.queue.maxlen:
            self.dropped += 1  # deque(maxlen) drops the oldest on append
            WS_DROPPED.inc()
        self.queue.append(body)
        self._ready.set()

    def take_nowait(self) -> bytes | None:
        if not self.queue:
            return None
        self.delivered += 1
        return b'{"dropped":%d,' % self.dropped + self.queue.popleft()

    async def take(self) -> bytes:
        while True:
            message = self.take_nowait()
            if message is not None:
                return message
            self._ready.clear()
            await self._ready.wait()


@dataclass
class LiveState:
    """The latest connector status per venue (md.status.v1 has no table)."""

    status: dict[str, dict[str, Any]] = field(default_factory=dict)

    def apply(self, topic: str, event: dict[str, Any]) -> None:
        if topic != "md.status.v1":
            return
        exchange = event.get("exchange")
        ts = event.get("ts")
        if not isinstance(exchange, str) or not isinstance(ts, int):
            return
        known = self.status.get(exchange)
        if known is None or ts >= known["ts_ns"]:
            self.status[exchange] = {
                "state": str(event.get("state", "")),
                "detail": str(event.get("detail", "")),
                "connection_id": str(event.get("connection_id", "")),
                "symbols": [str(s) for s in event.get("symbols", [])],
                "ts": datetime.fromtimestamp(ts / 1e9, UTC),
                "ts_ns": ts,
            }


def _values(event: dict[str, Any], name: str) -> tuple[str, ...]:
    """The event's ``name`` field and its legs' (``buy.exchange``, ``sell.exchange``)."""
    found = [event.get(name)]
    for leg in _LEGS:
        if isinstance(part := event.get(leg), dict):
            found.append(part.get(name))
    return tuple(value for value in found if isinstance(value, str))


class Hub:
    def __init__(self, topics: list[str], queue_size: int, live: LiveState | None = None) -> None:
        self.topics = frozenset(topics)
        self.queue_size = queue_size
        self.live = live or LiveState()
        self.subscribers: set[Subscriber] = set()
        self.published = 0
        self.unreadable = 0

    def subscribe(self, filters: Filters) -> Subscriber:
        subscriber = Subscriber(filters, self.queue_size)
        self.subscribers.add(subscriber)
        WS_CLIENTS.set(len(self.subscribers))
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)
        WS_CLIENTS.set(len(self.subscribers))

    def publish(self, topic: str, key: bytes | None, value: bytes) -> None:
        """One Kafka record: update the live state, queue it for every matching subscriber."""
        try:
            event = orjson.loads(value)
        except orjson.JSONDecodeError:
            self.unreadable += 1
            return
        if not isinstance(event, dict):
            self.unreadable += 1
            return
        self.published += 1
        WS_RECORDS.labels(topic).inc()
        self.live.apply(topic, event)
        exchanges = _values(event, "exchange")
        symbols = _values(event, "symbol")
        body: bytes | None = None
        for subscriber in self.subscribers:
            if subscriber.filters.matches(topic, exchanges, symbols):
                if body is None:
                    body = (
                        b'"topic":'
                        + orjson.dumps(topic)
                        + b',"key":'
                        + orjson.dumps(key.decode(errors="replace") if key is not None else None)
                        + b',"event":'
                        + value
                        + b"}"
                    )
                subscriber.offer(body)
