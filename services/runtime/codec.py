"""Encoding of topic payloads: pydantic models to JSON bytes and back, keys as ``exchange:symbol``."""

from typing import Any

from pydantic import BaseModel

from schemas.fast_decode import RejectedInput
from schemas.topics import TopicContract


def encode_value(event: BaseModel) -> bytes:
    # pydantic-core serializes in Rust; orjson would first need a Python dict of the model.
    return event.model_dump_json().encode()


def encode_key(key: str | None) -> bytes | None:
    return key.encode() if key is not None else None


def event_key(event: BaseModel) -> str | None:
    """The Kafka key a contract declares for this event (``exchange:symbol`` for market data)."""
    key = getattr(event, "key", None)
    return key if isinstance(key, str) else None


def decode_value(contract: TopicContract, raw: bytes) -> Any:
    """Validate a payload against its topic's contract; raises pydantic.ValidationError."""
    return contract.payload.validate_json(raw)


def check_instrument_key(record_key: bytes | None, event: Any) -> None:
    """Reject a record filed under another instrument's key than its payload's ``exchange:symbol``.

    Applying it would change the key's state (an OKX ETH book update applied to the Binance BTC
    book) and publish another venue's prices as the key's. A record without a key says nothing
    about its instrument, so the payload's is used. Raises ``RejectedInput("key_mismatch")``.

    ``event`` is what the topic's decoder returned: a contract model or a service's own decoded
    form (the arbitrage's ``DepthInput``), so the key is built from ``exchange`` and ``symbol``
    as ``InstrumentEvent.key`` builds it.
    """
    if record_key is None:
        return
    expected = f"{event.exchange.value}:{event.symbol}"
    if record_key != expected.encode():
        shown = repr(record_key[:200].decode("utf-8", "backslashreplace"))
        raise RejectedInput("key_mismatch", f"record key {shown} is not the payload's {expected!r}")
