"""The one decoder of ``md.book.v1`` payloads, built from ``schemas.fast_decode``.

It enforces the same contract as ``schemas.market_data.BookEvent`` and builds the very same
frozen ``BookSnapshot``/``BookDelta`` instances without validating them a second time (see
``schemas/fast_decode.py`` for why, and for the leniency rules). A bad payload raises
``RejectedInput`` with a pydantic-style reason, which the runtime dead-letters.
"""

from typing import Any

from schemas.fast_decode import (
    RejectedInput,
    check_fields,
    instrument_fields,
    integer,
    json_object,
    levels,
    optional_integer,
    reject,
    trusted,
)
from schemas.market_data import BookDelta, BookSequence, BookSnapshot

__all__ = ["RejectedInput", "decode_book_event", "trusted"]

_EVENT_FIELDS = frozenset(BookDelta.model_fields)
_REQUIRED_FIELDS = _EVENT_FIELDS - {"checksum", "instrument_provenance"}
_SEQUENCE_FIELDS = frozenset(BookSequence.model_fields)


def _sequence(raw: object) -> BookSequence:
    if type(raw) is not dict:
        raise reject("sequence", "Input should be a valid dictionary or instance of BookSequence")
    extra = raw.keys() - _SEQUENCE_FIELDS
    if extra:
        raise reject(f"sequence.{sorted(extra)[0]}", "Extra inputs are not permitted")
    if "last" not in raw:
        raise reject("sequence.last", "Field required")
    values = {
        "first": optional_integer(raw.get("first"), "sequence.first"),
        "last": integer(raw["last"], "sequence.last"),
        "prev": optional_integer(raw.get("prev"), "sequence.prev"),
    }
    return trusted(BookSequence, values)


def decode_book_event(raw: bytes) -> BookSnapshot | BookDelta:
    """Decode and validate one ``md.book.v1`` payload, or raise ``RejectedInput``."""
    document: dict[str, Any] = json_object(raw)
    kind = document.get("type")
    if kind == "delta":
        model: type[BookSnapshot] | type[BookDelta] = BookDelta
    elif kind == "snapshot":
        model = BookSnapshot
    elif kind is None:
        raise reject("(root)", "Unable to extract tag using discriminator 'type'")
    else:
        raise reject(
            "(root)", f"Input tag {kind!r} found using 'type' does not match any of the expected tags"
        )
    check_fields(document, _EVENT_FIELDS, _REQUIRED_FIELDS, f"{kind}.")
    checksum = document.get("checksum")
    values = instrument_fields(document, f"{kind}.")
    values["type"] = kind
    values["sequence"] = _sequence(document["sequence"])
    values["bids"] = levels(document["bids"], f"{kind}.bids")
    values["asks"] = levels(document["asks"], f"{kind}.asks")
    values["checksum"] = None if checksum is None else integer(checksum, f"{kind}.checksum")
    return trusted(model, values)
