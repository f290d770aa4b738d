"""The liquidity service's decoders of ``book.l2.v1`` and ``md.trades.v1``, built from ``schemas.fast_decode``.

Validating a 100-level ``BookDepth`` through pydantic costs about ten times what the service then
does with a book that is not sampled, and the service reads ten books per sampled one. These
decoders enforce the same contracts (besides the shared checks: an invalid book carries no
level, a valid one is never crossed, a trade's numbers are positive) and build the same frozen
models, so the rest of the service cannot tell which decoder produced an event. A bad payload
raises ``RejectedInput`` with a pydantic-style reason, which the runtime dead-letters.
``tests/liquidity/test_decode.py`` holds them to pydantic's verdict.
"""

from decimal import Decimal

from schemas.book import BookDepth, BookStatus
from schemas.common import Side
from schemas.fast_decode import (
    check_fields,
    decimal,
    instrument_fields,
    integer,
    json_object,
    levels,
    reject,
    required_fields,
    text,
    trusted,
)
from schemas.market_data import Trade

_ZERO = Decimal(0)
_STATUSES = {status.value: status for status in BookStatus}
_SIDES = {side.value: side for side in Side}
_BOOK_FIELDS = frozenset(BookDepth.model_fields)
_BOOK_REQUIRED = required_fields(BookDepth)
_TRADE_FIELDS = frozenset(Trade.model_fields)
_TRADE_REQUIRED = required_fields(Trade)


def decode_book_depth(raw: bytes) -> BookDepth:
    """Decode and validate one ``book.l2.v1`` payload, or raise ``RejectedInput``."""
    document = json_object(raw)
    check_fields(document, _BOOK_FIELDS, _BOOK_REQUIRED, "")
    values = instrument_fields(document)
    status = _STATUSES.get(document["status"]) if type(document["status"]) is str else None
    if status is None:
        raise reject("status", "Input should be 'valid' or 'invalid'")
    venue_seq = document["venue_seq"]
    bids = levels(document["bids"], "bids")
    asks = levels(document["asks"], "asks")
    if status is BookStatus.INVALID and (bids or asks):
        raise reject("(root)", "Value error, an invalid book carries no levels")
    if bids and asks and bids[0][0] >= asks[0][0]:
        raise reject("(root)", "Value error, a valid book is never crossed or locked")
    values.update(
        {
            "status": status,
            "reason": text(document.get("reason", ""), "reason"),
            "book_seq": integer(document["book_seq"], "book_seq", minimum=0),
            "venue_seq": None if venue_seq is None else integer(venue_seq, "venue_seq"),
            "depth": integer(document["depth"], "depth", minimum=1),
            "bids": bids,
            "asks": asks,
        }
    )
    return trusted(BookDepth, values)


def decode_trade(raw: bytes) -> Trade:
    """Decode and validate one ``md.trades.v1`` payload, or raise ``RejectedInput``."""
    document = json_object(raw)
    check_fields(document, _TRADE_FIELDS, _TRADE_REQUIRED, "")
    values = instrument_fields(document)
    side = _SIDES.get(document["side"]) if type(document["side"]) is str else None
    if side is None:
        raise reject("side", "Input should be 'buy' or 'sell'")
    numbers = {}
    for name in ("price", "quantity", "notional"):
        number = decimal(document[name], name)
        if not number > _ZERO:
            raise reject(name, "Input should be greater than 0")
        numbers[name] = number
    values["trade_id"] = text(document["trade_id"], "trade_id", min_length=1)
    values["side"] = side
    values.update(numbers)
    return trusted(Trade, values)
