"""Per-book Prometheus metrics of the book-builder (labels: exchange, symbol).

Update rate is ``rate(perpwatch_book_updates_total[1m])``; book age is served directly by
``perpwatch_book_age_seconds`` (now minus the venue time of the last applied update), computed at
scrape time so that a silent book visibly ages.
"""

import time
from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client import REGISTRY, Counter, Gauge
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

_BOOK = ["exchange", "symbol"]

BOOK_UPDATES = Counter("perpwatch_book_updates_total", "Book events applied (snapshots and deltas).", _BOOK)
BOOK_LEVEL_UPDATES = Counter("perpwatch_book_level_updates_total", "Price levels set or deleted.", _BOOK)
BOOK_GAPS = Counter("perpwatch_book_gaps_total", "Sequence gaps detected by the venue's rule.", _BOOK)
BOOK_RESYNCS = Counter("perpwatch_book_resyncs_total", "Books made valid again after a break.", _BOOK)
BOOK_CROSSED = Counter("perpwatch_book_crossed_total", "Crossed or locked books detected.", _BOOK)
BOOK_CHECKSUM_FAILURES = Counter(
    "perpwatch_book_checksum_failures_total", "Venue checksum mismatches.", _BOOK
)
BOOK_VALID = Gauge("perpwatch_book_valid", "1 while the book is consistent and published, else 0.", _BOOK)
RESYNC_REQUESTS = Counter(
    "perpwatch_book_resync_requests_total", "REST snapshot requests by outcome.", ["exchange", "outcome"]
)
CHECKPOINTS = Counter("perpwatch_book_checkpoints_total", "Book checkpoints published.", ["outcome"])


@dataclass
class BookMetrics:
    """The labelled children of one book, resolved once (``labels()`` costs about a microsecond)."""

    updates: Counter
    level_updates: Counter
    gaps: Counter
    resyncs: Counter
    crossed: Counter
    checksum_failures: Counter
    valid: Gauge

    @classmethod
    def of(cls, exchange: str, symbol: str) -> "BookMetrics":
        return cls(
            BOOK_UPDATES.labels(exchange, symbol),
            BOOK_LEVEL_UPDATES.labels(exchange, symbol),
            BOOK_GAPS.labels(exchange, symbol),
            BOOK_RESYNCS.labels(exchange, symbol),
            BOOK_CROSSED.labels(exchange, symbol),
            BOOK_CHECKSUM_FAILURES.labels(exchange, symbol),
            BOOK_VALID.labels(exchange, symbol),
        )


class BookAgeCollector(Collector):
    """``perpwatch_book_age_seconds``: seconds since the venue time of each book's last update."""

    def __init__(self) -> None:
        self.last_update_ns: dict[tuple[str, str], int] = {}

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "perpwatch_book_age_seconds",
            "Seconds since the venue event time of the book's last applied update.",
            labels=_BOOK,
        )
        now = time.time_ns()
        for (exchange, symbol), last in list(self.last_update_ns.items()):
            family.add_metric([exchange, symbol], max(0.0, (now - last) / 1e9))
        yield family


BOOK_AGE = BookAgeCollector()
REGISTRY.register(BOOK_AGE)
