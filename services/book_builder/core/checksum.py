"""Venue book checksums, and the way back from normalized levels to the venue's own digits.

One algorithm, two venues (``interleaved_crc32``): OKX (www.okx.com/docs-v5, order book channel,
"Checksum") and Bitget (bitget.com/api-doc/contract/websocket/public/Order-Book-Channel,
"checksum") both take the CRC32 of the top 25 bid and ask levels interleaved as
``bid_price:bid_size:ask_price:ask_size:...`` (a side with fewer levels simply stops
contributing), using the exact strings the venue sent, read as a signed 32-bit integer.
OKX now sends ``checksum: 0`` on its JSON channels (deprecated in favour of ``seqId``), so a
zero is never checked.

The builder holds normalized levels (base units); a checksum is computed over venue units, so
``WireUnits`` converts back. ``Decimal`` keeps the digits of the wire string and division by the
contract size restores the original exponent exactly for linear contracts; inverse contracts
(``base = contracts * size / price``) are not exactly invertible, so their contract counts are
rounded to 8 decimals and trailing zeros dropped, which matches how OKX prints sizes.
"""

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from services.book_builder.core.book import Level

ChecksumFunction = Callable[[Sequence[Level], Sequence[Level]], int]
"""(top bids best first, top asks best first) in venue units -> the venue's checksum value."""

_ONE = Decimal(1)
_INVERSE_QUANTUM = Decimal("1e-8")


def signed_crc32(text: str) -> int:
    value = zlib.crc32(text.encode())
    return value - (1 << 32) if value >= 1 << 31 else value


def interleaved_crc32(bids: Sequence[Sequence[Any]], asks: Sequence[Sequence[Any]], depth: int = 25) -> int:
    """Signed CRC32 of ``bid1p:bid1q:ask1p:ask1q:bid2p:...`` over the top ``depth`` levels.

    Levels are (price, size) as ``Decimal`` (a ``Decimal`` built from the venue's string keeps its
    spelling: "113.40" stays "113.40") or as the venue's strings themselves.
    """
    parts: list[str] = []
    for index in range(depth):
        if index < len(bids):
            price, size = bids[index][0], bids[index][1]
            parts.append(_wire(price))
            parts.append(_wire(size))
        if index < len(asks):
            price, size = asks[index][0], asks[index][1]
            parts.append(_wire(price))
            parts.append(_wire(size))
    return signed_crc32(":".join(parts))


def _wire(value: Any) -> str:
    return format(value, "f") if isinstance(value, Decimal) else str(value)


@dataclass(frozen=True, slots=True)
class WireUnits:
    """How the parser turned the venue's (price, size) into normalized (price, base quantity)."""

    contract_size: Decimal = _ONE
    inverse: bool = False
    multiplier: Decimal = _ONE

    def to_wire(self, levels: Sequence[Level]) -> list[Level]:
        if self.inverse:
            return [(price, _inverse_size(price, quantity, self.contract_size)) for price, quantity in levels]
        if self.contract_size == _ONE and self.multiplier == _ONE:
            return list(levels)
        # Division restores the wire exponent exactly: (q * c) / c has the exponent of q.
        size_divisor = self.contract_size * self.multiplier
        price_divisor = _ONE / self.multiplier
        return [(price / price_divisor, quantity / size_divisor) for price, quantity in levels]


def _inverse_size(price: Decimal, quantity: Decimal, contract_size: Decimal) -> Decimal:
    # normalize() writes 1190 as 1.19E+3; format(..., "f") prints it back as "1190".
    return (quantity * price / contract_size).quantize(_INVERSE_QUANTUM).normalize()


@dataclass(frozen=True, slots=True)
class ChecksumSpec:
    """A venue checksum: the function, how many levels per side it reads, and the units."""

    function: ChecksumFunction
    depth: int = 25
    units: WireUnits = WireUnits()

    def compute(self, bids: Sequence[Level], asks: Sequence[Level]) -> int:
        return self.function(self.units.to_wire(bids), self.units.to_wire(asks))
