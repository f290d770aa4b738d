"""The dead-letter contract (``dlq.v1``): input that could not be processed, with the reason."""

from pydantic import Field

from schemas.common import Contract, TimestampNs


class DeadLetter(Contract):
    """A rejected input, kept whole so it can be inspected and replayed.

    The payload is kept as text when it decodes as UTF-8 and base64 otherwise, so that nothing
    about the original bytes is lost.
    """

    service: str = Field(description="Service that rejected the input, e.g. book-builder.")
    source: str = Field(description="Kafka topic, or the feed the frame came from (ws:binance_usdm).")
    partition: int | None = None
    offset: int | None = None
    key: str | None = None
    error_type: str = Field(description="Short machine-readable reason, e.g. validation_error.")
    error: str = Field(description="Human-readable reason.")
    payload_text: str | None = None
    payload_base64: str | None = None
    ts: TimestampNs
