"""Prometheus metrics of the query API (served on the service's observability port)."""

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter(
    "perpwatch_api_requests_total", "HTTP requests answered, by method and status.", ["method", "status"]
)
REQUEST_SECONDS = Histogram(
    "perpwatch_api_request_seconds",
    "Time to answer one HTTP request.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
WS_CLIENTS = Gauge("perpwatch_api_ws_clients", "WebSocket clients connected.")
WS_RECORDS = Counter("perpwatch_api_ws_records_total", "Kafka records fanned out, by topic.", ["topic"])
WS_DROPPED = Counter(
    "perpwatch_api_ws_dropped_total", "Messages dropped (oldest first) from slow WebSocket clients' queues."
)
