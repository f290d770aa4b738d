"""Wiring a venue into the core: its book spec (with venue-module checksums) and its builder.

The pure core knows every venue's continuity rule; checksum functions written by a venue module
(Bitget's ``bitget_checksum``) and the instrument's units live outside it, so they are attached
here.
"""

import importlib
import logging
from collections.abc import Callable
from functools import cache

from schemas.common import ExchangeId
from services.book_builder.core.builder import BookBuilder
from services.book_builder.core.checksum import ChecksumFunction, WireUnits
from services.book_builder.core.rules import BookSpec, SnapshotSource, book_spec_for
from services.instruments.catalog import InstrumentCatalog, UnknownInstrument

log = logging.getLogger(__name__)

# Checksum functions defined by venue modules: exchange -> (module, function name).
_VENUE_CHECKSUMS: dict[ExchangeId, tuple[str, str]] = {
    ExchangeId.BITGET: ("services.ingest.venues.bitget", "bitget_checksum"),
}


@cache
def _venue_checksum(exchange: ExchangeId) -> ChecksumFunction | None:
    location = _VENUE_CHECKSUMS.get(exchange)
    if location is None:
        return None
    try:
        function: Callable[..., int] = getattr(importlib.import_module(location[0]), location[1])
    except (ImportError, AttributeError):
        log.warning(
            "venue checksum unavailable; books are checked by sequence only", extra={"venue": exchange}
        )
        return None
    return function


def spec_for(exchange: ExchangeId) -> BookSpec:
    return book_spec_for(exchange, checksum=_venue_checksum(exchange))


def wire_units(
    catalog: InstrumentCatalog | None, exchange: ExchangeId, native_symbol: str
) -> WireUnits | None:
    """How the venue module converted this instrument's levels, to check checksums in venue units."""
    if catalog is None:
        return None
    try:
        instrument = catalog.get(exchange, native_symbol)
    except UnknownInstrument:
        return None
    return WireUnits(instrument.contract_size, instrument.inverse, instrument.multiplier)


def new_builder(
    exchange: ExchangeId,
    native_symbol: str,
    catalog: InstrumentCatalog | None,
    *,
    depth: int = 50,
    depth_interval_ns: int = 100_000_000,
) -> BookBuilder:
    spec = spec_for(exchange)
    return BookBuilder(
        spec.rule,
        checksum=spec.checksum_spec(wire_units(catalog, exchange, native_symbol)),
        snapshot_always_resets=spec.snapshot_source is SnapshotSource.STREAM,
        depth=depth,
        depth_interval_ns=depth_interval_ns,
    )
