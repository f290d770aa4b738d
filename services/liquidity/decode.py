"""The liquidity service's decoders of ``book.l2.v1`` and ``md.trades.v1``: orjson plus the contract's checks.

Validating a 100-level ``BookDepth`` through pydantic costs about ten times what the service then
does with a book that is not sampled, and the service reads ten books per sampled one. These
decoders enforce the same contracts (field set, types, ``price > 0``, ``quantity >= 0``, finite
decimals, known exchange, canonical symbol, an invalid book carries no level, a valid one is never
crossed) and build the same frozen models without validating them a second time, so the rest of
the service cannot tell which decoder produced an event. A bad payload raises ``RejectedInput``
with a pydantic-style reason, which the runtime dead-letters. ``tests/liquidity/test_decode.py``
holds them to pydantic's verdict.
"""

import re
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel

from schemas.book import BookDepth, BookStatus
from schemas.common import CANONICAL_SYMBOL_PATTERN, ExchangeId, InstrumentProvenance, Side
from schemas.market_data import Trade
from services.runtime.service import RejectedInput

_ZERO = Decimal(0)
_EXCHANGES = {exchange.value: exchange for exchange in ExchangeId}
_STATUSES = {status.value: status for status in BookStatus}
_SIDES = {side.value: side for side in Side}
_SYMBOL = re.compile(CANONICAL_SYMBOL_PATTERN)
_BOOK_FIELDS = tuple(BookDepth.model_fields)
_BOOK_REQUIRED = frozenset(name for name, f in BookDepth.model_fields.items() if f.is_required())
_TRADE_FIELDS = tuple(Trade.model_fields)
_TRADE_REQUIRED = frozenset(name for name, f in Trade.model_fields.items() if f.is_required())
_PROVENANCES = {p.value: p for p in InstrumentProvenance}
_MAX_CACHED = 100_000
M = TypeVar("M", bound=BaseModel)
_new = object.__new__
_set = object.__setattr__


def _trusted(model: type[M], values: dict[str, Any]) -> M:
    """An instance of ``model`` from values already checked against it (every field, in order)."""
    instance: M = _new(model)
    _set(instance, "__dict__", values)
    _set(instance, "__pydantic_fields_set__", set(values))
    _set(instance, "__pydantic_extra__", None)
    _set(instance, "__pydantic_private__", None)
    return instance


def _reject(where: str, message: str) -> RejectedInput:
    return RejectedInput("validation_error", f"{where}: {message}")


_symbols: set[str] = set()
# Prices and sizes repeat constantly and a Decimal is immutable: convert each distinct string once.
_decimals: dict[str, Decimal] = {}


def _symbol(value: object) -> str:
    if type(value) is str and value in _symbols:
        return value
    if type(value) is not str or not _SYMBOL.match(value):
        raise _reject("symbol", f"String should match pattern '{CANONICAL_SYMBOL_PATTERN}'")
    if len(_symbols) < _MAX_CACHED:
        _symbols.add(value)
    return value


def _decimal(value: object, where: str) -> Decimal:
    if type(value) is str:
        cached = _decimals.get(value)
        if cached is not None:
            return cached
    kind = type(value)
    try:
        if kind is str:
            number = Decimal(value)  # type: ignore[arg-type]
        elif kind is int or kind is float:
            number = Decimal(repr(value))
        else:
            raise _reject(where, "Decimal input should be an integer, float, string or Decimal object")
    except InvalidOperation:
        raise _reject(where, "Input should be a valid decimal") from None
    if not number.is_finite():
        raise _reject(where, "Input should be a finite number")
    if kind is str:
        if len(_decimals) >= _MAX_CACHED:
            _decimals.clear()
        _decimals[value] = number  # type: ignore[index]
    return number


def _int(value: object, where: str, minimum: int | None = None) -> int:
    if type(value) is not int:
        raise _reject(where, "Input should be a valid integer")
    if minimum is not None and value < minimum:
        raise _reject(where, f"Input should be greater than or equal to {minimum}")
    return value


def _text(value: object, where: str, *, min_length: int = 0) -> str:
    if type(value) is not str:
        raise _reject(where, "Input should be a valid string")
    if len(value) < min_length:
        raise _reject(where, f"String should have at least {min_length} character")
    return value


def _levels(raw: object, side: str) -> list[tuple[Decimal, Decimal]]:
    if type(raw) is not list:
        raise _reject(side, "Input should be a valid list")
    levels: list[tuple[Decimal, Decimal]] = []
    append = levels.append
    cached = _decimals.get
    zero = _ZERO
    for index, level in enumerate(raw):
        if type(level) is not list or len(level) != 2:
            raise _reject(f"{side}.{index}", "Input should be a valid tuple of 2 items")
        price_raw, quantity_raw = level
        price = (cached(price_raw) if type(price_raw) is str else None) or _decimal(
            price_raw, f"{side}.{index}.0"
        )
        quantity = cached(quantity_raw) if type(quantity_raw) is str else None
        if quantity is None:
            quantity = _decimal(quantity_raw, f"{side}.{index}.1")
        if not price > zero:
            raise _reject(f"{side}.{index}.0", "Input should be greater than 0")
        if quantity < zero:
            raise _reject(f"{side}.{index}.1", "Input should be greater than or equal to 0")
        append((price, quantity))
    return levels


def _document(raw: bytes) -> dict[str, Any]:
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _reject("(root)", f"Invalid JSON: {exc}") from None
    if type(document) is not dict:
        raise _reject("(root)", "Input should be an object")
    return document


def _instrument(document: dict[str, Any]) -> dict[str, Any]:
    """The ``InstrumentEvent`` fields, checked, in declaration order."""
    exchange = _EXCHANGES.get(document["exchange"]) if type(document["exchange"]) is str else None
    if exchange is None:
        raise _reject("exchange", f"Input should be {', '.join(repr(e) for e in _EXCHANGES)}")
    provenance_raw = document.get("instrument_provenance", InstrumentProvenance.LISTED.value)
    provenance = _PROVENANCES.get(provenance_raw) if type(provenance_raw) is str else None
    if provenance is None:
        raise _reject("instrument_provenance", "Input should be 'listed' or 'derived'")
    return {
        "exchange": exchange,
        "symbol": _symbol(document["symbol"]),
        "native_symbol": _text(document["native_symbol"], "native_symbol", min_length=1),
        "exchange_ts": _int(document["exchange_ts"], "exchange_ts", 0),
        "receive_ts": _int(document["receive_ts"], "receive_ts", 0),
        "instrument_provenance": provenance,
    }


def _fields(document: dict[str, Any], known: tuple[str, ...], required: frozenset[str]) -> None:
    keys = document.keys()
    extra = keys - set(known)
    if extra:
        raise _reject(sorted(extra)[0], "Extra inputs are not permitted")
    missing = required - keys
    if missing:
        raise _reject(sorted(missing)[0], "Field required")


def decode_book_depth(raw: bytes) -> BookDepth:
    """Decode and validate one ``book.l2.v1`` payload, or raise ``RejectedInput``."""
    document = _document(raw)
    _fields(document, _BOOK_FIELDS, _BOOK_REQUIRED)
    values = _instrument(document)
    status = _STATUSES.get(document["status"]) if type(document["status"]) is str else None
    if status is None:
        raise _reject("status", "Input should be 'valid' or 'invalid'")
    venue_seq = document["venue_seq"]
    bids = _levels(document["bids"], "bids")
    asks = _levels(document["asks"], "asks")
    if status is BookStatus.INVALID and (bids or asks):
        raise _reject("(root)", "Value error, an invalid book carries no levels")
    if bids and asks and bids[0][0] >= asks[0][0]:
        raise _reject("(root)", "Value error, a valid book is never crossed or locked")
    values.update(
        {
            "status": status,
            "reason": _text(document.get("reason", ""), "reason"),
            "book_seq": _int(document["book_seq"], "book_seq", 0),
            "venue_seq": None if venue_seq is None else _int(venue_seq, "venue_seq"),
            "depth": _int(document["depth"], "depth", 1),
            "bids": bids,
            "asks": asks,
        }
    )
    return _trusted(BookDepth, values)


def decode_trade(raw: bytes) -> Trade:
    """Decode and validate one ``md.trades.v1`` payload, or raise ``RejectedInput``."""
    document = _document(raw)
    _fields(document, _TRADE_FIELDS, _TRADE_REQUIRED)
    values = _instrument(document)
    side = _SIDES.get(document["side"]) if type(document["side"]) is str else None
    if side is None:
        raise _reject("side", "Input should be 'buy' or 'sell'")
    numbers = {}
    for name in ("price", "quantity", "notional"):
        number = _decimal(document[name], name)
        if not number > _ZERO:
            raise _reject(name, "Input should be greater than 0")
        numbers[name] = number
    values["trade_id"] = _text(document["trade_id"], "trade_id", min_length=1)
    values["side"] = side
    values.update(numbers)
    return _trusted(Trade, values)
