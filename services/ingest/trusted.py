"""Cheap, sufficient checks that let a venue parser build events without pydantic's second pass.

Why: on the normalize hot path, pydantic's validation of an event that a venue parser built from
parts it already converted cost about half of the time (a Binance ``depthUpdate`` carries ~70
levels, each two Decimals whose ``max_digits`` check builds a tuple of digits). The checks here
are cheap and *sufficient*: values that pass them would pass the contract too, and the parser then
builds the event with ``schemas.trusted``. A value that does not pass them is not an error
here: the parser builds the event through the model's own constructor, so a rejection still
carries pydantic's reason. Either way the event is the same
object with the same fields, so its JSON is byte-identical (``tests/ingest/test_trusted.py``
holds both paths to one output on real frames and on generated values; the normalize golden
digests hold a real capture and simulated frames).

The texts are read through a ``DecimalCache``: venues repeat their prices and sizes frame after
frame, and a dict hit costs about a quarter of a ``Decimal``. A parser writes an event's whole
state out as one dict literal for ``schemas.trusted.assemble``, the first six fields alike in
every parser: a helper building them would cost a call and a merge, about 350 ns, which is 4% of
a Binance frame.
"""

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel

from schemas.common import CANONICAL_SYMBOL_PATTERN, ExchangeId, InstrumentProvenance
from services.ingest.parsing import event_ids
from services.instruments.catalog import Instrument, InstrumentCatalog

Level = tuple[Decimal, Decimal]

EXACT_CHARACTERS = 28
"""The longest text the cache reads. Decimal's default context keeps 28 digits: a number of at
most 28 digits times a multiplier or contract size of 1 is that number, digit for digit, as a
parser's ``base_quantity`` makes it; a trade's notional is exact when its price and size texts
have at most 28 characters together. Far within the contract's 40 digits."""

LISTED = InstrumentProvenance.LISTED

_canonical = re.compile(CANONICAL_SYMBOL_PATTERN)
_checked_symbols: set[str] = set()
_PLAIN_CHARACTERS = "0123456789."


class NotPlain(ValueError):
    """A value the trusted path does not take: the parser builds the event the validated way."""


class DecimalCache(dict[str, Decimal]):
    """``cache[text]``: the Decimal of a plain decimal text, read once per distinct text; any
    other value raises ``NotPlain`` (a ``ValueError``).

    Plain means: a string of digits and at most one point, at most ``EXACT_CHARACTERS`` long, so
    finite, not negative, no exponent, and within the contract's digits; with ``positive``, not
    zero either (a price). Decimals are immutable, so events may share them.

    At ``capacity`` texts the cache starts over. A hit costs a quarter of a ``Decimal``, a miss
    (this method in Python) four times one, so the cache must hold a feed's working set: 65,536
    texts are about 14 MB. The 2024-08-08 Binance capture has about 19,000 distinct prices and
    18,000 distinct sizes in 94,000 frames; the simulator's Bybit sizes are more varied (61,000
    in 10,800 frames), prices on a tick grid much less.
    """

    def __init__(self, *, positive: bool = False, capacity: int = 65_536) -> None:
        super().__init__()
        self.positive = positive
        self.capacity = capacity

    def __missing__(self, text: str) -> Decimal:
        # strip leaves a character of another kind, or nothing (a shared empty string: no copy).
        if type(text) is not str or len(text) > EXACT_CHARACTERS or text.strip(_PLAIN_CHARACTERS):
            raise NotPlain(text)
        try:
            number = Decimal(text)
        except InvalidOperation:  # "", ".", "1.2.3"
            raise NotPlain(text) from None
        if self.positive and not number:
            raise NotPlain(text)
        if len(self) >= self.capacity:
            self.clear()
        self[text] = number
        return number


UNTRUSTED = (NotPlain, TypeError)
"""What reading wire values through a ``DecimalCache`` raises for values it does not take
(``TypeError``: an unhashable one, a list or an object)."""


def levels(raw: list[list[str]], prices: DecimalCache, quantities: DecimalCache) -> list[Level] | None:
    """``[[price, quantity], ...]`` strings as Decimals when every level surely meets the
    contract; None sends the caller the slow way.

    Sure means: every level is a pair of plain texts, the price read by a ``positive`` cache
    (``DecimalCache``). Quantities are the wire's numbers: the caller's instrument must be
    exactly unit (``TrustedInstruments``). A level unpacks as the validated path's
    ``for price, quantity in levels`` does (a 3-item level is refused alike).
    """
    price, quantity = prices.__getitem__, quantities.__getitem__
    try:
        return [(price(p), quantity(q)) for p, q in raw]
    except (NotPlain, TypeError, ValueError):  # ValueError: a level that is not a pair
        return None


def trade_numbers(
    price_text: Any, quantity_text: Any, prices: DecimalCache, quantities: DecimalCache
) -> tuple[Decimal, Decimal] | None:
    """A trade's price and size when both are plain, the size is not zero and their product
    (the notional) is exact: at most ``EXACT_CHARACTERS`` characters together. None otherwise."""
    try:
        price, quantity = prices[price_text], quantities[quantity_text]
    except UNTRUSTED:
        return None
    if not quantity or len(price_text) + len(quantity_text) > EXACT_CHARACTERS:
        return None
    return price, quantity


def ids_ok(ids: dict[str, Any]) -> bool:
    """The fields every instrument event starts with (``parsing.event_ids``) meet the contract."""
    symbol = ids["symbol"]
    if symbol not in _checked_symbols:
        if not (isinstance(symbol, str) and _canonical.match(symbol) and "\n" not in symbol):
            return False
        _checked_symbols.add(symbol)
    return bool(ids["native_symbol"]) and ids["exchange_ts"] >= 0 and ids["receive_ts"] >= 0


def exactly_unit(instrument: Instrument) -> bool:
    """Wire prices are base prices and wire quantities base quantities, digit for digit: linear,
    contract size and multiplier 1 written without decimals (a quantity times ``1`` keeps its
    digits; times ``1.0`` it gains one)."""
    return (
        not instrument.inverse and str(instrument.contract_size) == "1" and str(instrument.multiplier) == "1"
    )


def fields_given(cls: type[BaseModel], *left_to_defaults: str) -> frozenset[str]:
    """What validation lists in ``model_fields_set`` for an event of a listed instrument whose
    parser gives every field of ``cls`` but ``left_to_defaults`` (``assemble``'s ``fields_set``)."""
    return frozenset(cls.model_fields) - {"instrument_provenance", *left_to_defaults}


Head = tuple[ExchangeId, str, str]
"""The first fields of an instrument's events: exchange, symbol, native symbol."""


class TrustedInstruments(dict[str, tuple[Instrument, Head | None]]):
    """``instruments[native_symbol]``: the symbol's instrument, and the first fields of its
    events (``Head``) when the trusted path may build them: a listed instrument,
    ``exactly_unit``, with ids that meet the contract; None otherwise. Raises what the catalog
    raises (``UnknownInstrument``).

    A catalog answers a symbol always alike (derived ones included), so the answer is kept
    (a dict hit: no Python call per frame).
    """

    def __init__(self, catalog: InstrumentCatalog, exchange: ExchangeId) -> None:
        super().__init__()
        self._catalog = catalog
        self._exchange = exchange

    def __missing__(self, native_symbol: Any) -> tuple[Instrument, Head | None]:
        instrument = self._catalog.get(self._exchange, native_symbol)
        ids = event_ids(instrument, 0, 0)
        head = None
        if not instrument.derived and exactly_unit(instrument) and ids_ok(ids):
            head = (ids["exchange"], ids["symbol"], ids["native_symbol"])
        known = (instrument, head)
        if type(native_symbol) is str:
            self[native_symbol] = known
        return known
