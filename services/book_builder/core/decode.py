"""The one decoder of ``md.book.v1`` payloads: orjson plus the contract's checks, written out.

Validating a 68-level ``BookDelta`` through pydantic costs 40-80 us, more than the book update
itself; most of it is per-level work that this decoder does in one tight loop. It enforces the
same contract as ``schemas.market_data.BookEvent`` (field set, types, ``price > 0``,
``quantity >= 0``, finite decimals, known exchange, canonical symbol) and builds the very same
frozen ``BookSnapshot``/``BookDelta`` instances without running validation a second time, so the
rest of the service cannot tell which decoder produced an event. A bad payload raises
``BookPayloadRejected`` with a pydantic-style reason, which the runtime dead-letters.

Deliberately lenient where the contract is lenient: decimals may arrive as JSON numbers (read
through their shortest repr, as pydantic does); deliberately strict where producers never differ:
integers must be JSON integers.
"""

import re
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel

from schemas.common import CANONICAL_SYMBOL_PATTERN, ExchangeId, InstrumentProvenance
from schemas.market_data import BookDelta, BookSequence, BookSnapshot

_ZERO = Decimal(0)
_EXCHANGES: dict[str, ExchangeId] = {exchange.value: exchange for exchange in ExchangeId}
_SYMBOL = re.compile(CANONICAL_SYMBOL_PATTERN)
_EVENT_FIELDS = frozenset(BookDelta.model_fields)
_REQUIRED_FIELDS = _EVENT_FIELDS - {"checksum", "instrument_provenance"}
_PROVENANCES = {provenance.value: provenance for provenance in InstrumentProvenance}
_SEQUENCE_FIELDS = frozenset(BookSequence.model_fields)
_new = object.__new__
M = TypeVar("M", bound=BaseModel)
_set = object.__setattr__


class BookPayloadRejected(ValueError):
    def __init__(self, error_type: str, reason: str) -> None:
        super().__init__(reason)
        self.error_type = error_type
        self.reason = reason


def trusted(model: type[M], values: dict[str, Any]) -> M:
    """An instance of a contract model from values already known to satisfy it, unvalidated.

    Cheaper than ``model_construct`` (no defaults or aliases to resolve): every field of
    ``model`` must be present in ``values``, in declaration order.
    """
    instance: M = _new(model)
    _set(instance, "__dict__", values)
    _set(instance, "__pydantic_fields_set__", set(values))
    _set(instance, "__pydantic_extra__", None)
    _set(instance, "__pydantic_private__", None)
    return instance


def _reject(where: str, message: str) -> BookPayloadRejected:
    return BookPayloadRejected("validation_error", f"{where}: {message}")


class _SymbolCache:
    """Symbols are few and repeat on every record: match each distinct one once."""

    def __init__(self) -> None:
        self._valid: set[str] = set()

    def check(self, symbol: object) -> str:
        if type(symbol) is str and symbol in self._valid:
            return symbol
        if type(symbol) is not str or not _SYMBOL.match(symbol):
            raise _reject("symbol", f"String should match pattern '{CANONICAL_SYMBOL_PATTERN}'")
        if len(self._valid) < 100_000:
            self._valid.add(symbol)
        return symbol


_symbols = _SymbolCache()


def _decimal(value: object, where: str) -> Decimal:
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
    return number


# Prices and sizes repeat constantly (the same levels change again and again), and a Decimal is
# immutable: converting each distinct string once saves about a third of the decoding time.
# Only strings that converted to a finite number are kept; the cache is emptied when it is full.
_DECIMALS: dict[str, Decimal] = {}
_MAX_CACHED_DECIMALS = 100_000


def _cached_decimal(text: str, where: str) -> Decimal:
    number = _DECIMALS.get(text)
    if number is None:
        number = _decimal(text, where)
        if len(_DECIMALS) >= _MAX_CACHED_DECIMALS:
            _DECIMALS.clear()
        _DECIMALS[text] = number
    return number


def _levels(raw: object, side: str) -> list[tuple[Decimal, Decimal]]:
    if type(raw) is not list:
        raise _reject(side, "Input should be a valid list")
    levels: list[tuple[Decimal, Decimal]] = []
    append = levels.append
    cached = _DECIMALS.get
    zero = _ZERO
    for index, level in enumerate(raw):
        if type(level) is not list or len(level) != 2:
            raise _reject(f"{side}.{index}", "Input should be a valid tuple of 2 items")
        price_raw, quantity_raw = level
        price = cached(price_raw) if type(price_raw) is str else None
        if price is None:
            price = (
                _cached_decimal(price_raw, f"{side}.{index}.0")
                if type(price_raw) is str
                else _decimal(price_raw, f"{side}.{index}.0")
            )
        quantity = cached(quantity_raw) if type(quantity_raw) is str else None
        if quantity is None:
            quantity = (
                _cached_decimal(quantity_raw, f"{side}.{index}.1")
                if type(quantity_raw) is str
                else _decimal(quantity_raw, f"{side}.{index}.1")
            )
        if not price > zero:
            raise _reject(f"{side}.{index}.0", "Input should be greater than 0")
        if quantity < zero:
            raise _reject(f"{side}.{index}.1", "Input should be greater than or equal to 0")
        append((price, quantity))
    return levels


def _int(value: object, where: str, *, minimum: int | None = None) -> int:
    if type(value) is not int:
        raise _reject(where, "Input should be a valid integer")
    if minimum is not None and value < minimum:
        raise _reject(where, f"Input should be greater than or equal to {minimum}")
    return value


def _optional_int(value: object, where: str) -> int | None:
    return None if value is None else _int(value, where)


def _sequence(raw: object) -> BookSequence:
    if type(raw) is not dict:
        raise _reject("sequence", "Input should be a valid dictionary or instance of BookSequence")
    extra = raw.keys() - _SEQUENCE_FIELDS
    if extra:
        raise _reject(f"sequence.{sorted(extra)[0]}", "Extra inputs are not permitted")
    if "last" not in raw:
        raise _reject("sequence.last", "Field required")
    values = {
        "first": _optional_int(raw.get("first"), "sequence.first"),
        "last": _int(raw["last"], "sequence.last"),
        "prev": _optional_int(raw.get("prev"), "sequence.prev"),
    }
    return trusted(BookSequence, values)


def decode_book_event(raw: bytes) -> BookSnapshot | BookDelta:
    """Decode and validate one ``md.book.v1`` payload, or raise ``BookPayloadRejected``."""
    try:
        document: Any = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BookPayloadRejected("validation_error", f"Invalid JSON: {exc}") from None
    if type(document) is not dict:
        raise _reject("(root)", "Input should be an object")
    kind = document.get("type")
    if kind == "delta":
        model: type[BookSnapshot] | type[BookDelta] = BookDelta
    elif kind == "snapshot":
        model = BookSnapshot
    elif kind is None:
        raise _reject("(root)", "Unable to extract tag using discriminator 'type'")
    else:
        raise _reject(
            "(root)", f"Input tag {kind!r} found using 'type' does not match any of the expected tags"
        )
    keys = document.keys()
    if not keys <= _EVENT_FIELDS:
        raise _reject(f"{kind}.{sorted(keys - _EVENT_FIELDS)[0]}", "Extra inputs are not permitted")
    if not keys >= _REQUIRED_FIELDS:
        raise _reject(f"{kind}.{sorted(_REQUIRED_FIELDS - keys)[0]}", "Field required")
    exchange = _EXCHANGES.get(document["exchange"]) if type(document["exchange"]) is str else None
    if exchange is None:
        raise _reject(f"{kind}.exchange", "Input should be a known exchange id")
    native_symbol = document["native_symbol"]
    if type(native_symbol) is not str or not native_symbol:
        raise _reject(f"{kind}.native_symbol", "String should have at least 1 character")
    checksum = document.get("checksum")
    provenance_text = document.get("instrument_provenance", InstrumentProvenance.LISTED.value)
    provenance = _PROVENANCES.get(provenance_text) if type(provenance_text) is str else None
    if provenance is None:
        raise _reject(f"{kind}.instrument_provenance", "Input should be 'listed' or 'derived'")
    values = {
        "exchange": exchange,
        "symbol": _symbols.check(document["symbol"]),
        "native_symbol": native_symbol,
        "exchange_ts": _int(document["exchange_ts"], f"{kind}.exchange_ts", minimum=0),
        "receive_ts": _int(document["receive_ts"], f"{kind}.receive_ts", minimum=0),
        "instrument_provenance": provenance,
        "type": kind,
        "sequence": _sequence(document["sequence"]),
        "bids": _levels(document["bids"], f"{kind}.bids"),
        "asks": _levels(document["asks"], f"{kind}.asks"),
        "checksum": None if checksum is None else _int(checksum, f"{kind}.checksum"),
    }
    return trusted(model, values)
