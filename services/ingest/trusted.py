"""Cheap, sufficient checks that let a venue parser build events without pydantic's second pass.

Why: on the normalize hot path, pydantic's validation of an event that a venue parser built from
parts it already converted cost about half of the time (a Binance ``depthUpdate`` carries ~70
levels, each two Decimals whose ``max_digits`` check builds a tuple of digits). The checks here
are cheap and *sufficient*: values that pass them would pass the contract too, and the parser then
builds the event with ``schemas.trusted.build``. A value that does not pass them is not an error
here: the parser builds the event through the model's own constructor, so a rejection still
carries pydantic's reason. Either way the event is the same
object with the same fields, so its JSON is byte-identical (``tests/ingest/test_trusted.py``
holds both paths to one output on real frames and on generated values; the normalize golden
digest holds the capture).
"""

import re
from decimal import Decimal
from typing import Any

from schemas.common import CANONICAL_SYMBOL_PATTERN, MAX_DECIMAL_DIGITS

Level = tuple[Decimal, Decimal]

_canonical = re.compile(CANONICAL_SYMBOL_PATTERN)
_checked_symbols: set[str] = set()


_PLAIN_DIGITS = str.maketrans("", "", "0123456789.")


def levels(raw: list[list[str]]) -> list[Level] | None:
    """``[[price, quantity], ...]`` strings as Decimals when every level surely meets the
    contract; None sends the caller the slow way.

    Sure means: every text is digits and at most one point (finite, not negative, no exponent,
    so at most as many digits as characters), at most MAX_DECIMAL_DIGITS long, and no price is
    zero. The checks run over the whole frame at once (C loops), not per level.
    """
    if not raw:
        return []
    try:
        prices, quantities = zip(*raw, strict=True)
        text = "".join(prices) + "".join(quantities)
    except (TypeError, ValueError):  # a level that is not two strings: the model says why
        return None
    if (
        text.translate(_PLAIN_DIGITS)
        or max(map(len, prices)) > MAX_DECIMAL_DIGITS
        or max(map(len, quantities)) > MAX_DECIMAL_DIGITS
    ):
        return None
    price_numbers = list(map(Decimal, prices))
    if not all(price_numbers):  # Decimal zero is false: a price must be > 0
        return None
    return list(zip(price_numbers, map(Decimal, quantities), strict=True))


def plain_decimals(*texts: object) -> bool:
    """Whether a few decimal texts surely meet the contract once read with ``Decimal``: strings of
    digits and points only, fewer than MAX_DECIMAL_DIGITS characters in all.

    For a frame of one or two values (a top of book, a trade), where ``levels``' whole-frame
    machinery costs more than the values. The budget is for all the texts together, so a product
    of two of them (a trade's notional, which has at most one digit more than both) fits too.
    Zero passes: a price must still be checked > 0 by the caller.
    """
    try:
        joined = "".join(texts)  # type: ignore[arg-type]  # a number instead of a text: the slow way
    except TypeError:
        return False
    return len(joined) < MAX_DECIMAL_DIGITS and not joined.translate(_PLAIN_DIGITS)


def ids_ok(ids: dict[str, Any]) -> bool:
    """The fields every instrument event starts with (``parsing.event_ids``) meet the contract."""
    symbol = ids["symbol"]
    if symbol not in _checked_symbols:
        if not (isinstance(symbol, str) and _canonical.match(symbol) and "\n" not in symbol):
            return False
        _checked_symbols.add(symbol)
    return bool(ids["native_symbol"]) and ids["exchange_ts"] >= 0 and ids["receive_ts"] >= 0
