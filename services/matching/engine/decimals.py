"""Exact conversion between wire decimal strings and engine integers.

The engine never sees a float or a ``Decimal``: a grid step such as a tick size of
``0.5`` is stored as ``(mult=5, exp=1)``, meaning ``5 * 10**-1``, and a price is an
integer count of such steps.  Parsing and formatting are integer-only, so a value is
either exactly on the grid or rejected — nothing is ever rounded.
"""

import re
from typing import Final

# Unsigned plain decimals only: no exponent, sign, NaN or whitespace.  The length cap
# keeps hostile input from building huge integers.
_UNSIGNED: Final = re.compile(r"(\d{1,30})(?:\.(\d{1,30}))?")
_SIGNED: Final = re.compile(r"(-?)(\d{1,30})(?:\.(\d{1,30}))?")


def parse_unsigned(text: object) -> tuple[int, int] | None:
    """Parse ``"123.45"`` into ``(12345, 2)`` (mantissa, decimal places), or ``None``."""
    if type(text) is not str:
        return None
    match = _UNSIGNED.fullmatch(text)
    if match is None:
        return None
    whole, frac = match.group(1), match.group(2) or ""
    return int(whole + frac), len(frac)


def parse_signed(text: object) -> tuple[int, int] | None:
    """Like :func:`parse_unsigned` but allows a leading ``-`` (fee rebates)."""
    if type(text) is not str:
        return None
    match = _SIGNED.fullmatch(text)
    if match is None:
        return None
    sign, whole, frac = match.group(1), match.group(2), match.group(3) or ""
    value = int(whole + frac)
    return (-value if sign else value), len(frac)


def normalize(mantissa: int, exp: int) -> tuple[int, int]:
    """Strip trailing zeros so one grid step has one spelling (``0.10`` == ``0.1``)."""
    if mantissa == 0:
        return 0, 0
    while exp > 0 and mantissa % 10 == 0:
        mantissa //= 10
        exp -= 1
    return mantissa, exp


def to_steps(mantissa: int, exp: int, step_mult: int, step_exp: int) -> int | None:
    """Count of grid steps ``step_mult * 10**-step_exp`` in ``mantissa * 10**-exp``.

    ``None`` when the value is not an exact multiple of the step.
    """
    if exp <= step_exp:
        numerator = mantissa * 10 ** (step_exp - exp)
        denominator = step_mult
    else:
        numerator = mantissa
        denominator = step_mult * 10 ** (exp - step_exp)
    steps, rest = divmod(numerator, denominator)
    return None if rest else steps


def format_scaled(value: int, exp: int) -> str:
    """Render ``value * 10**-exp`` with exactly ``exp`` decimal places."""
    if exp <= 0:
        return str(value * 10**-exp)
    sign = "-" if value < 0 else ""
    digits = str(abs(value)).rjust(exp + 1, "0")
    return f"{sign}{digits[:-exp]}.{digits[-exp:]}"


def format_decimal(mantissa: int, exp: int) -> str:
    """Render a parsed decimal in its shortest exact spelling (for configuration echoes)."""
    mantissa, exp = normalize(mantissa, exp)
    return format_scaled(mantissa, exp)
