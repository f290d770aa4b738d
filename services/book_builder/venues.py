"""Wiring a venue into the core: its builder, from the venue's book spec.

Each venue declares its continuity rule and checksum in ``services/venues/<exchange>/book.py``
(OKX and Bitget share one algorithm, ``core.checksum.interleaved_crc32``); the instrument's
units come from the catalog, so they are attached here.
"""

from schemas.common import ExchangeId
from services.book_builder.core.builder import BookBuilder
from services.book_builder.core.checksum import WireUnits
from services.book_builder.core.rules import SnapshotSource
from services.instruments.catalog import InstrumentCatalog, UnknownInstrument
from services.venues import book_spec_for


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
    spec = book_spec_for(exchange)
    return BookBuilder(
        spec.rule,
        checksum=spec.checksum_spec(wire_units(catalog, exchange, native_symbol)),
        snapshot_always_resets=spec.snapshot_source is SnapshotSource.STREAM,
        depth=depth,
        depth_interval_ns=depth_interval_ns,
    )
