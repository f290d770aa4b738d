"""Value coercion shared by the venue parsers, and the one way a parser's errors become ``FrameRejected``.

Venue frames are JSON: numbers come as strings or JSON numbers, a boolean passes for an integer
(``True == 1``), and any field may be missing or of another type. The helpers below raise
``TypeError`` or ``ValueError`` on such values; ``as_frame_rejected`` turns those (and missing
keys, short lists, decimal errors, unknown instruments) into ``FrameRejected``, so that nothing
else ever escapes a venue parser. What only one venue does stays in that venue's module.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from schemas.common import InstrumentProvenance, Side
from services.ingest.normalizer import FrameRejected
from services.instruments.catalog import Instrument, UnknownInstrument

NS_PER_MS = 1_000_000
NS_PER_S = 1_000_000_000
_PARSE_ERRORS: tuple[type[Exception], ...] = (
    KeyError,
    TypeError,
    ValueError,
    ArithmeticError,
    IndexError,
    AttributeError,
)
"""What parsing a malformed frame raises: a missing key, a wrong type, an unparsable number..."""
_MULTIPLIER_PREFIXES = ("1000000", "10000", "1000")

Level = tuple[Decimal, Decimal]
"""One book level: (price, quantity)."""


@contextmanager
def as_frame_rejected(context: object, *, out_of_range: tuple[type[Exception], ...] = ()) -> Iterator[None]:
    """Run a parser so that only ``FrameRejected`` escapes it.

    ``UnknownInstrument`` becomes ``unknown_instrument``; an exception listed in ``out_of_range``
    (numbers that parse but cannot be used, for venues that label them) becomes ``out_of_range``;
    any other parse error (``_PARSE_ERRORS``) becomes ``malformed``, its reason prefixed with
    ``context`` (the channel, topic or payload being parsed). A ``FrameRejected`` raised inside
    passes unchanged.
    """
    try:
        yield
    except FrameRejected:
        raise
    except Exception as exc:
        raise frame_rejection(exc, context, out_of_range=out_of_range) from None


def frame_rejection(
    exc: Exception, context: object, *, out_of_range: tuple[type[Exception], ...] = ()
) -> Exception:
    """What ``as_frame_rejected`` raises for ``exc``: its ``FrameRejected``, or ``exc`` itself when
    it is no parse error (a bug, which the caller's parser_error net reports).

    For the hottest parsers, which pay for a context manager per frame: ``try: ... except
    FrameRejected: raise`` / ``except Exception as exc: raise frame_rejection(exc, ...) from None``
    means the same, and a ``try`` costs nothing until something raises.
    """
    if isinstance(exc, UnknownInstrument):
        return FrameRejected("unknown_instrument", str(exc))
    if isinstance(exc, out_of_range):
        return FrameRejected("out_of_range", f"{type(exc).__name__}: {exc}")
    if isinstance(exc, _PARSE_ERRORS):
        return FrameRejected("malformed", f"{context}: {type(exc).__name__}: {exc}")
    return exc


def finite_decimal(value: Any) -> Decimal:
    """A finite Decimal from a decimal string or a JSON number; booleans, NaN and infinities are refused.

    A float goes through its shortest repr, so the JSON number 0.1 reads as 0.1, not as its
    binary expansion.
    """
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise TypeError(f"expected a number, got {type(value).__name__}")
    number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    if not number.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return number


def strict_int(value: Any, *, allow_str: bool = True) -> int:
    """An integer from a JSON integer or (unless ``allow_str`` is False) a string of digits.

    Booleans and floats are refused rather than truncated.
    """
    if isinstance(value, bool) or not isinstance(value, (str | int) if allow_str else int):
        raise TypeError(f"expected an integer, got {type(value).__name__}")
    return int(value)


def plain_decimal(value: Decimal) -> Decimal:
    """Trailing zeros dropped without scientific notation (100, not 1E+2; 0.010 -> 0.01)."""
    return Decimal(format(value.normalize(), "f"))


def parse_side(value: Any, *, buy: object = "buy", sell: object = "sell") -> Side:
    """The side a venue spells ``buy``/``sell``; pass its own spellings ("Buy", "B", 1...) otherwise."""
    if value == buy:
        return Side.BUY
    if value == sell:
        return Side.SELL
    raise ValueError(f"unknown side {value!r}")


def ms_to_ns(value: Any) -> int:
    """Nanoseconds from a millisecond time sent as an integer or a string of digits."""
    return strict_int(value) * NS_PER_MS


def next_funding_boundary(ts_ns: int, interval_s: int) -> int:
    """The first multiple of the funding interval after ``ts_ns`` (settlements run on UTC boundaries)."""
    interval_ns = interval_s * NS_PER_S
    return (ts_ns // interval_ns + 1) * interval_ns


def split_multiplier_prefix(base: str) -> tuple[str, Decimal]:
    """``1000PEPE`` -> (``PEPE``, 1000), ``BTC`` -> (``BTC``, 1): a power-of-ten prefix on the base coin."""
    for prefix in _MULTIPLIER_PREFIXES:
        if base.startswith(prefix) and base[len(prefix) :].isalpha():
            return base[len(prefix) :], Decimal(prefix)
    return base, Decimal(1)


def base_levels(
    instrument: Instrument,
    rows: Any,
    *,
    price: int | str = 0,
    size: int | str = 1,
    read_price: Callable[[Any], Decimal] = finite_decimal,
) -> list[Level]:
    """Book levels in base units from the venue's rows: ``row[price]`` and ``row[size]`` (list
    positions, or keys of object rows), the size in contracts or coins as the instrument says.

    What most venues' ``_levels`` did alike, written once; extra columns (OKX's order count) are
    ignored, and anything but a list of rows is refused. ``read_price`` reads prices that are not
    plain decimals (Phemex's scaled integers).
    """
    if not isinstance(rows, list):
        raise TypeError("levels are not a list")
    base_level = instrument.base_level
    return [base_level(read_price(row[price]), finite_decimal(row[size])) for row in rows]


def trade_amounts(instrument: Instrument, price: Decimal, quantity: Decimal) -> dict[str, Any]:
    """Price, quantity and notional of a trade or liquidation, from the venue's price and size.

    The venue's size is in contracts or coins, as the instrument says; the result is in base units.
    """
    return {
        "price": instrument.base_price(price),
        "quantity": instrument.base_quantity(quantity, price),
        "notional": instrument.notional(quantity, price),
    }


def event_ids(instrument: Instrument, exchange_ts: int, receive_ts: int) -> dict[str, Any]:
    """The fields every instrument event starts with (``exchange_ts`` already in nanoseconds).

    An instrument derived from the venue's naming rules marks its events as such.
    """
    ids: dict[str, Any] = {
        "exchange": instrument.exchange,
        "symbol": instrument.symbol,
        "native_symbol": instrument.native_symbol,
        "exchange_ts": exchange_ts,
        "receive_ts": receive_ts,
    }
    if instrument.derived:
        ids["instrument_provenance"] = InstrumentProvenance.DERIVED
    return ids
