"""Integer nanoseconds (the contracts' timestamps) to the datetimes the database stores.

Pure, so that cores may use it; ``services.runtime.sink`` re-exports it for the shells.
"""

from datetime import UTC, datetime


def ns_to_datetime(ns: int) -> datetime:
    """Nanoseconds since the epoch to an aware datetime, truncated to the microseconds PostgreSQL keeps."""
    return datetime.fromtimestamp(ns // 1000 / 1_000_000, tz=UTC)
