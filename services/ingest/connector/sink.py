"""Where a connector's output goes: normalized events, status changes and rejected frames.

The ingest service writes them to Kafka; tests and ``perpwatch capture`` keep them in memory.
A ``FrameTap`` sees the raw traffic (what ``perpwatch capture`` records).
"""

from dataclasses import dataclass, field
from typing import Protocol

from schemas.common import InstrumentEvent
from schemas.dead_letter import DeadLetter
from schemas.market_data import ConnectorStatus


class EventSink(Protocol):
    async def events(self, events: list[InstrumentEvent]) -> None: ...

    async def status(self, status: ConnectorStatus) -> None: ...

    async def reject(self, letter: DeadLetter) -> None: ...


class FrameTap(Protocol):
    """Raw traffic of every connection, in the order it happened."""

    def connected(self, connection_id: str, url: str, ts: int) -> None: ...

    def sent(self, connection_id: str, frame: str, ts: int) -> None: ...

    def received(self, connection_id: str, raw: bytes | str, ts: int) -> None: ...

    def rest(self, path: str, native_symbol: str, body: bytes, ts: int, purpose: str) -> None:
        """A REST answer the feed used; ``purpose`` is ``book_snapshot`` or ``open_interest``."""
        ...

    def disconnected(self, connection_id: str, detail: str, ts: int) -> None: ...


@dataclass
class MemorySink:
    """Keeps everything (``keep_events=False`` only counts events, for long captures)."""

    keep_events: bool = True
    received: list[InstrumentEvent] = field(default_factory=list)
    statuses: list[ConnectorStatus] = field(default_factory=list)
    rejected: list[DeadLetter] = field(default_factory=list)
    event_count: int = 0

    async def events(self, events: list[InstrumentEvent]) -> None:
        self.event_count += len(events)
        if self.keep_events:
            self.received.extend(events)

    async def status(self, status: ConnectorStatus) -> None:
        self.statuses.append(status)

    async def reject(self, letter: DeadLetter) -> None:
        self.rejected.append(letter)
