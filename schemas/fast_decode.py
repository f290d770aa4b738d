"""Pieces of the hot-topic decoders: orjson plus the contract's own checks, written out.

Validating a deep book event through pydantic costs more than what a service then does with it,
and most of that is per-level work. The services' fast decoders (``md.book.v1`` in the
book-builder, ``book.l2.v1`` and ``md.trades.v1`` in liquidity) are built from these parts:
they enforce the same contract (field set, types, ``price > 0``, ``quantity >= 0``, finite
decimals, known exchange, canonical symbol) and build the very same frozen models without
validating them a second time, so nothing downstream can tell which decoder produced an event.
Their tests hold them to pydantic's verdict.

A bad payload raises ``RejectedInput`` with a pydantic-style reason (``where: message``), which
the runtime dead-letters. Lenient where the contract is lenient: decimals may arrive as JSON
numbers (read through their shortest repr, as pydantic does); strict where producers never
differ: integers must be JSON integers.
"""

import re
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel

from schemas.common import CANONICAL_SYMBOL_PATTERN, MAX_DECIMAL_DIGITS, ExchangeId, InstrumentProvenance

M = TypeVar("M", bound=BaseModel)

_ZERO = Decimal(0)
_SYMBOL = re.compile(CANONICAL_SYMBOL_PATTERN)
_EXCHANGES: dict[str, ExchangeId] = {exchange.value: exchange for exchange in ExchangeId}
_PROVENANCES = {provenance.value: provenance for provenance in InstrumentProvenance}
_MAX_CACHED = 100_000
_new = object.__new__
_set = object.__setattr__


class RejectedInput(ValueError):
    """An input that cannot be used, with the reason; the runtime sends it to the dead-letter topic."""

    def __init__(self, error_type: str, reason: str) -> None:
        super().__init__(reason)
        self.error_type = error_type
        self.reason = reason


def reject(where: str, message: str) -> RejectedInput:
    return RejectedInput("validation_error", f"{where}: {message}")


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


def json_object(raw: bytes) -> dict[str, Any]:
    try:
        document: Any = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise RejectedInput("validation_error", f"(root): Invalid JSON: {exc}") from None
    if type(document) is not dict:
        raise reject("(root)", "Input should be an object")
    return document


def check_fields(
    document: dict[str, Any], known: frozenset[str], required: frozenset[str], prefix: str
) -> None:
    keys = document.keys()
    if not keys <= known:
        raise reject(f"{prefix}{sorted(keys - known)[0]}", "Extra inputs are not permitted")
    if not keys >= required:
        raise reject(f"{prefix}{sorted(required - keys)[0]}", "Field required")


def required_fields(model: type[BaseModel]) -> frozenset[str]:
    return frozenset(name for name, field in model.model_fields.items() if field.is_required())


# Symbols are few and repeat on every record: match each distinct one once.
_symbols: set[str] = set()


def symbol(value: object, where: str) -> str:
    if type(value) is str and value in _symbols:
        return value
    if type(value) is not str or not _SYMBOL.match(value):
        raise reject(where, f"String should match pattern '{CANONICAL_SYMBOL_PATTERN}'")
    if len(_symbols) < _MAX_CACHED:
        _symbols.add(value)
    return value


def _parse_decimal(value: object, where: str) -> Decimal:
    kind = type(value)
    try:
        if kind is str:
            number = Decimal(value)  # type: ignore[arg-type]
        elif kind is int or kind is float:
            number = Decimal(repr(value))
        else:
            raise reject(where, "Decimal input should be an integer, float, string or Decimal object")
    except InvalidOperation:
        raise reject(where, "Input should be a valid decimal") from None
    if not number.is_finite():
        raise reject(where, "Input should be a finite number")
    if _digits(number) > MAX_DECIMAL_DIGITS:
        raise reject(where, f"Decimal input should have no more than {MAX_DECIMAL_DIGITS} digits in total")
    return number


def _digits(number: Decimal) -> int:
    """Digits of the number written out, counted as pydantic's ``max_digits`` counts them."""
    _, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)  # finite
    # Trailing zeros do not count (Decimal.normalize() would round to the context's 28 digits).
    significant = len(digits)
    while significant > 1 and digits[significant - 1] == 0:
        significant -= 1
    exponent += len(digits) - significant
    if significant == 1 and digits[0] == 0:
        exponent = 0
    if exponent >= 0:
        return significant + exponent
    return max(significant, -exponent)


# Prices and sizes repeat constantly (the same levels change again and again), and a Decimal is
# immutable: converting each distinct string once saves about a third of the decoding time.
# Only strings that converted to a finite number are kept. Two generations keep the cache the
# size of what is in use rather than of everything ever seen: a string is looked up in the young
# generation, then in the old one (a hit there moves it young); when the young generation holds
# DECIMALS_PER_GENERATION strings it becomes the old one and the previous old one is dropped. A
# string still in use (a live level's price, a common size) survives every turn; one unseen for
# a whole generation is forgotten. At most 2 x 16,384 entries, about 6 MB, for the process.
DECIMALS_PER_GENERATION = 16_384
_young: dict[str, Decimal] = {}
_old: dict[str, Decimal] = {}


def decimal(value: object, where: str) -> Decimal:
    global _young, _old
    if type(value) is not str:
        return _parse_decimal(value, where)
    number = _young.get(value)
    if number is None:
        number = _old.get(value)
        if number is None:
            number = _parse_decimal(value, where)
        if len(_young) >= DECIMALS_PER_GENERATION:
            _old, _young = _young, {}
        _young[value] = number
    return number


def cached_decimals() -> int:
    """Strings the decimal cache holds now (both generations)."""
    return len(_young) + len(_old)


def levels(raw: object, side: str) -> list[tuple[Decimal, Decimal]]:
    """``[[price, quantity], ...]`` with ``price > 0`` and ``quantity >= 0``."""
    if type(raw) is not list:
        raise reject(side, "Input should be a valid list")
    found: list[tuple[Decimal, Decimal]] = []
    append = found.append
    cached = _young.get
    zero = _ZERO
    for index, level in enumerate(raw):
        if type(level) is not list or len(level) != 2:
            raise reject(f"{side}.{index}", "Input should be a valid tuple of 2 items")
        price_raw, quantity_raw = level
        price = cached(price_raw) if type(price_raw) is str else None
        if price is None:
            price = decimal(price_raw, f"{side}.{index}.0")
        quantity = cached(quantity_raw) if type(quantity_raw) is str else None
        if quantity is None:
            quantity = decimal(quantity_raw, f"{side}.{index}.1")
        if not price > zero:
            raise reject(f"{side}.{index}.0", "Input should be greater than 0")
        if quantity < zero:
            raise reject(f"{side}.{index}.1", "Input should be greater than or equal to 0")
        append((price, quantity))
    return found


def integer(value: object, where: str, *, minimum: int | None = None) -> int:
    if type(value) is not int:
        raise reject(where, "Input should be a valid integer")
    if minimum is not None and value < minimum:
        raise reject(where, f"Input should be greater than or equal to {minimum}")
    return value


def optional_integer(value: object, where: str) -> int | None:
    return None if value is None else integer(value, where)


def text(value: object, where: str, *, min_length: int = 0) -> str:
    if type(value) is not str:
        raise reject(where, "Input should be a valid string")
    if len(value) < min_length:
        raise reject(where, f"String should have at least {min_length} character")
    return value


def instrument_fields(document: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """The ``InstrumentEvent`` fields of a payload, checked, in declaration order."""
    raw_exchange = document["exchange"]
    exchange = _EXCHANGES.get(raw_exchange) if type(raw_exchange) is str else None
    if exchange is None:
        raise reject(f"{prefix}exchange", f"Input should be {', '.join(repr(e) for e in _EXCHANGES)}")
    raw_provenance = document.get("instrument_provenance", InstrumentProvenance.LISTED.value)
    provenance = _PROVENANCES.get(raw_provenance) if type(raw_provenance) is str else None
    if provenance is None:
        raise reject(f"{prefix}instrument_provenance", "Input should be 'listed' or 'derived'")
    return {
        "exchange": exchange,
        "symbol": symbol(document["symbol"], f"{prefix}symbol"),
        "native_symbol": text(document["native_symbol"], f"{prefix}native_symbol", min_length=1),
        "exchange_ts": integer(document["exchange_ts"], f"{prefix}exchange_ts", minimum=0),
        "receive_ts": integer(document["receive_ts"], f"{prefix}receive_ts", minimum=0),
        "instrument_provenance": provenance,
    }
