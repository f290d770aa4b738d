"""Live venue connectors: WebSocket feeds with heartbeats, reconnects, a stall watchdog,
per-connection subscription limits, and a rate-limited REST side (snapshots, tokens, polls).

Everything venue-specific comes from the venue's ``VenueAdapter``; nothing here names a venue.
"""

from services.ingest.connector.connector import (
    ConnectorOptions,
    VenueConnector,
    instruments_of,
    plan_connections,
    resolve_symbols,
)
from services.ingest.connector.sink import EventSink, FrameTap, MemorySink

__all__ = [
    "ConnectorOptions",
    "EventSink",
    "FrameTap",
    "MemorySink",
    "VenueConnector",
    "instruments_of",
    "plan_connections",
    "resolve_symbols",
]
