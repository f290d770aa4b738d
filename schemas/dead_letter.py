"""The dead-letter contract (``dlq.v1``): input that could not be processed, with the reason."""

from pydantic import Field

from schemas.common import Contract, TimestampNs


def _is_none(value: object) -> bool:
    return value is None


class DeadLetter(Contract):
    """A rejected input, kept whole so it can be inspected and replayed.

    The payload is kept as text when it decodes as UTF-8 and base64 otherwise, so that nothing
    about the original bytes is lost. A payload too large to carry (an oversized input must not
    make its own dead letter too large for ``dlq.v1``) is cut to its first bytes, and
    ``payload_size`` and ``payload_sha256`` describe the whole of it.
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
    payload_size: int | None = Field(
        default=None,
        ge=0,
        exclude_if=_is_none,
        description="Size in bytes of the original payload, set only when the payload kept here was cut.",
    )
    payload_sha256: str | None = Field(
        default=None,
        exclude_if=_is_none,
        description="SHA-256 (hex) of the whole original payload, set only when the payload was cut.",
    )
    ts: TimestampNs
