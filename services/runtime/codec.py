"""Encoding of topic payloads: pydantic models to JSON bytes and back, keys as ``exchange:symbol``."""

from typing import Any

from pydantic import BaseModel

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
