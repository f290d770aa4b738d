"""Structured logging: one JSON object per line in production, readable lines in a terminal."""

import logging
import sys
import time
from typing import Any

import orjson

# Attributes every LogRecord has; anything else was passed through `extra=` and is kept as a field.
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


def _extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """What the caller passed through ``extra=``: every attribute a plain LogRecord lacks."""
    return {key: value for key, value in record.__dict__.items() if key not in _STANDARD_ATTRS}


class ConsoleFormatter(logging.Formatter):
    """One readable line: time, service, level, logger, message, then the ``extra`` fields."""

    def __init__(self, service: str) -> None:
        super().__init__(f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = _extra_fields(record)
        if not fields:
            return line
        return (
            line
            + " "
            + " ".join(f"{key}={orjson.dumps(value, default=str).decode()}" for key, value in fields.items())
        )


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "service": self._service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update(_extra_fields(record))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


class RetriableKafkaNotice(logging.Filter):
    """Logs aiokafka's errors about an election in progress at WARNING instead of ERROR.

    On a fresh broker the first FindCoordinator request of every group fails with
    GroupCoordinatorNotAvailable while Kafka creates ``__consumer_offsets``, and a topic created
    a moment ago answers NotLeaderForPartition until its leader has taken over; aiokafka logs
    both at ERROR and retries by itself. ERROR lines are reserved for what an operator must act on.
    """

    RETRIABLE = (
        "GroupCoordinatorNotAvailableError",
        "NotCoordinatorForGroupError",
        "CoordinatorLoadInProgress",
        "NotLeaderForPartitionError",
        "LeaderNotAvailableError",
    )

    def filter(self, record: logging.LogRecord) -> bool:
        if (
            record.levelno == logging.ERROR
            and record.name.startswith("aiokafka")
            and any(name in record.getMessage() for name in self.RETRIABLE)
        ):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


class RepeatLimiter(logging.Filter):
    """At most one line per distinct warning or error every ``interval_s``, with the count it stood for.

    While the broker is down aiokafka logs every reconnect attempt of every connection, hundreds
    of lines a second, and a service logs each record it cannot publish or dead-letters: a 28 s
    outage once wrote 160,000 lines. One line per distinct error every few seconds says the same.
    A line is "the same" when its logger, level, message template and the fields in
    ``DISTINGUISHING`` match (a dead letter of another source or reason is a distinct error).
    The counts are in the metrics; INFO and DEBUG lines are never held back.
    """

    DISTINGUISHING = ("source", "error_type", "book", "kind")
    MAX_KEYS = 10_000  # distinct errors remembered; past this the memory is cleared

    def __init__(self, prefix: str = "", interval_s: float = 10.0) -> None:
        super().__init__()
        self.prefix = prefix
        self._interval = interval_s
        self._last: dict[tuple[object, ...], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or not record.name.startswith(self.prefix):
            return True
        key = (
            record.name,
            record.levelno,
            str(record.msg),
            *(str(getattr(record, name, ""))[:200] for name in self.DISTINGUISHING),
        )
        now = time.monotonic()
        last = self._last.get(key)
        if last is None or now - last[0] >= self._interval:
            if last is not None and last[1]:
                record.msg = f"{record.msg} (and {last[1]} more like it in {now - last[0]:.0f}s)"
            if len(self._last) >= self.MAX_KEYS:
                self._last.clear()
            self._last[key] = (now, 0)
            return True
        self._last[key] = (last[0], last[1] + 1)
        return False


def configure_logging(service: str, level: str = "INFO", fmt: str = "json") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter(service))
    else:
        handler.setFormatter(ConsoleFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiokafka logs every coordinator hiccup at WARNING/ERROR during normal group joins.
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))
    # Logger filters apply only to records logged on that very logger, so the handler filters.
    handler.addFilter(RetriableKafkaNotice())
    handler.addFilter(RepeatLimiter())
