"""Prometheus metrics shared by every service, labelled by service so one dashboard fits all."""

from prometheus_client import Counter, Gauge, Histogram

MESSAGES_CONSUMED = Counter(
    "perpwatch_messages_consumed_total", "Kafka records consumed.", ["service", "topic"]
)
EVENTS_PUBLISHED = Counter(
    "perpwatch_events_published_total", "Events produced to Kafka.", ["service", "topic"]
)
DEAD_LETTERS = Counter(
    "perpwatch_dead_letters_total",
    "Inputs rejected to the dead-letter topic.",
    ["service", "source", "error_type"],
)
SINK_ROWS = Counter("perpwatch_sink_rows_written_total", "Rows written to the database.", ["table"])
SINK_BATCH_SECONDS = Histogram(
    "perpwatch_sink_batch_seconds",
    "Time to write and commit one batch, retries included.",
    ["table"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
SINK_RETRIES = Counter(
    "perpwatch_sink_retries_total", "Database batch attempts that failed and were retried.", ["table"]
)
OFFSET_COMMITS = Counter(
    "perpwatch_offset_commits_total", "Kafka offset commits after a durable sink commit.", ["service"]
)
CONSUMER_LAG = Gauge(
    "perpwatch_consumer_lag", "Records on the input topic not yet consumed.", ["service", "topic"]
)
