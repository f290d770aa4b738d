"""Log hygiene: aiokafka's reconnect storms are collapsed, its retriable coordinator errors are warnings."""

import logging

from services.runtime.logs import RepeatLimiter, RetriableKafkaNotice


def _record(name: str, level: int, msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, args, None)


def test_repeats_of_one_aiokafka_template_pass_once_per_interval() -> None:
    limiter = RepeatLimiter(interval_s=3600)
    template = "Unable connect to node with id %s: %s"
    passed = [limiter.filter(_record("aiokafka", logging.ERROR, template, 1, i)) for i in range(100)]
    assert passed.count(True) == 1
    assert limiter.filter(_record("aiokafka", logging.ERROR, "another template %s", 1))
    assert all(limiter.filter(_record("services.x", logging.INFO, "progress")) for _ in range(5))


def test_a_flood_of_one_service_warning_is_one_line_per_distinct_error() -> None:
    """10,000 dead letters of one reason log one line; another reason or source gets its own."""
    limiter = RepeatLimiter(interval_s=3600)

    def letter(source: str, error_type: str) -> logging.LogRecord:
        record = _record("services.runtime.dead_letter", logging.WARNING, "dead letter")
        record.source, record.error_type, record.offset = source, error_type, 7
        return record

    passed = [limiter.filter(letter("md.book.v1", "validation_error")) for _ in range(10_000)]
    assert passed.count(True) == 1
    assert limiter.filter(letter("md.book.v1", "key_mismatch"))
    assert limiter.filter(letter("md.trades.v1", "validation_error"))
    assert not limiter.filter(letter("md.trades.v1", "validation_error"))


def test_a_collapsed_run_is_counted_when_the_next_line_passes() -> None:
    limiter = RepeatLimiter(interval_s=0.0)
    first = _record("aiokafka", logging.ERROR, "boom %s", 1)
    assert limiter.filter(first)
    assert limiter.filter(_record("aiokafka", logging.ERROR, "boom %s", 2))


def test_group_coordinator_not_available_is_a_warning() -> None:
    record = _record(
        "aiokafka.consumer.group_coordinator",
        logging.ERROR,
        "Group Coordinator Request failed: %s",
        "[Error 15] GroupCoordinatorNotAvailableError",
    )
    assert RetriableKafkaNotice().filter(record)
    assert record.levelname == "WARNING"
    other = _record("aiokafka.consumer.group_coordinator", logging.ERROR, "something else")
    RetriableKafkaNotice().filter(other)
    assert other.levelname == "ERROR"
