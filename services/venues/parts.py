"""The one interface a venue package declares: which module and name holds each of its parts.

Each ``services/venues/<exchange>/__init__.py`` sets ``PARTS = VenueParts(...)`` and imports
nothing else, so reading a venue's declaration loads none of its parts: the registry
(``services.venues``) imports only the module of the part asked for. The book builder asking
for a ``BookSpec`` thus loads ``book.py`` alone, never the simulator's dialect or the ingest
adapter.

A part is named ``"<module>:<attribute>"`` inside the venue's package (``"adapter:OkxAdapter"``).
"""

from dataclasses import dataclass
from typing import NoReturn

from schemas.common import ExchangeId


@dataclass(frozen=True)
class VenueParts:
    exchange: ExchangeId
    adapter: str
    """The ``VenueAdapter`` class (``services.ingest.venue``): protocol facts and, through its
    ``normalizer``, the venue's parsers. Constructed with the instrument catalog."""
    dialect: str
    """The simulator's ``Dialect`` class (``services.simulator.dialect``) speaking the venue's protocol."""
    book_spec: str
    """The ``BookSpec`` (``services.book_builder.core.rules``): continuity rule, where snapshots
    come from, and the checksum if the venue sends one."""
    instruments: str = "instruments.json"
    """The committed instrument snapshot, a file in the venue's package (``perpwatch instruments
    refresh --write-snapshot`` rewrites it)."""
    history: str | None = None
    """Optional: the backfill's ``VenueHistory`` class (``services.backfill.history``): the venue's
    documented history endpoints. None when perpwatch cannot backfill from the venue."""


def split_reference(reference: str) -> tuple[str, str]:
    """``"adapter:OkxAdapter"`` -> ("adapter", "OkxAdapter"); a malformed reference fails loudly."""
    module, separator, attribute = reference.partition(":")
    if not separator or not module or not attribute:
        raise ValueError(f"a venue part is 'module:attribute', not {reference!r}")
    return module, attribute


def placeholder(what: str) -> NoReturn:
    """What a part copied from ``services/venues/_template/`` raises until it is filled in, so a
    half-copied venue fails at once and says what is missing."""
    raise NotImplementedError(f"venue template, still to write: {what}")
