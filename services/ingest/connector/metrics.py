"""Prometheus metrics of the live connectors (rates come from ``rate()`` over the counters)."""

from prometheus_client import Counter, Gauge, Histogram

MESSAGES = Counter(
    "perpwatch_ingest_messages_total",
    "WebSocket frames received, by the channel they carried (control: acks, pongs).",
    ["exchange", "channel"],
)
PARSE_ERRORS = Counter(
    "perpwatch_ingest_parse_errors_total",
    "Frames the venue parser rejected (each one also goes to dlq.v1).",
    ["exchange", "error_type"],
)
RECONNECTS = Counter(
    "perpwatch_ingest_reconnects_total",
    "Connection losses followed by a reconnect, by cause.",
    ["exchange", "reason"],
)
FEED_LAG = Histogram(
    "perpwatch_ingest_feed_lag_seconds",
    "Receive time minus the venue's event time (includes clock skew between us and the venue).",
    ["exchange", "channel"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CONNECTIONS_UP = Gauge(
    "perpwatch_ingest_connections_up", "WebSocket connections currently open.", ["exchange"]
)
REST_REQUESTS = Counter(
    "perpwatch_ingest_rest_requests_total",
    "REST calls by HTTP status (0: no answer).",
    ["exchange", "status"],
)
RATE_LIMITED = Counter(
    "perpwatch_ingest_rate_limited_total",
    "REST answers 418/429 that paused the venue's bucket.",
    ["exchange"],
)
SNAPSHOTS = Counter("perpwatch_ingest_book_snapshots_total", "REST book snapshots published.", ["exchange"])
BOOK_RESUBSCRIBES = Counter(
    "perpwatch_ingest_book_resubscribes_total",
    "One symbol's book channel resubscribed after its stream broke (venues with snapshots on the stream).",
    ["exchange"],
)
DERIVED_INSTRUMENT_EVENTS = Counter(
    "perpwatch_ingest_derived_instrument_events_total",
    "Events normalized with an instrument derived from the venue's naming rules (symbol not in the instrument list).",
    ["exchange", "native_symbol"],
)
