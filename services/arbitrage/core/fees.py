"""Per-venue taker fees in basis points: the documented defaults, merged with a user override.

The document format is the one of ``services/arbitrage/fees.json`` and of ``PERPWATCH_ARB_FEES``:
``{"binance_usdm": {"taker_bps": 5.0, ...}, ...}``; keys other than ``taker_bps`` (source, date,
notes) are documentation and are ignored here.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class FeeDocumentError(ValueError):
    """A fee document that cannot be used; the message says which entry and why."""


@dataclass(frozen=True)
class FeeTable:
    """Taker fee per venue id. A venue missing from the table pays ``fallback_bps``.

    The fallback is the highest fee of the table, so that an unknown venue can only hide an
    opportunity, never invent one.
    """

    taker_bps: Mapping[str, float] = field(default_factory=dict)
    fallback_bps: float = 0.0

    def taker(self, exchange: str) -> float:
        return self.taker_bps.get(exchange, self.fallback_bps)


def parse_fee_document(document: Any) -> dict[str, float]:
    """``{venue: {"taker_bps": x}}`` -> ``{venue: x}``, rejecting anything ambiguous."""
    if not isinstance(document, Mapping):
        raise FeeDocumentError("a fee document is a JSON object keyed by venue id")
    fees: dict[str, float] = {}
    for venue, entry in document.items():
        if not isinstance(venue, str) or not venue:
            raise FeeDocumentError(f"venue ids are non-empty strings, got {venue!r}")
        if venue.startswith("_"):
            continue  # "_about" and similar keys document the file itself
        if not isinstance(entry, Mapping) or "taker_bps" not in entry:
            raise FeeDocumentError(f"{venue}: expected an object with taker_bps")
        value = entry["taker_bps"]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise FeeDocumentError(f"{venue}: taker_bps must be a number, got {value!r}")
        if not 0.0 <= float(value) <= 100.0:
            raise FeeDocumentError(f"{venue}: taker_bps {value} is outside 0..100 bps")
        fees[venue] = float(value)
    return fees


def fee_table(defaults: Mapping[str, float], override: Mapping[str, float] | None = None) -> FeeTable:
    """The defaults with the override's venues replaced (or added)."""
    merged = {**defaults, **(override or {})}
    return FeeTable(merged, max(merged.values(), default=0.0))
