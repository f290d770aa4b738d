"""Every venue perpwatch speaks, one package each (nautilus_trader's ``adapters/<venue>/`` layout).

A venue's package holds all it knows: ``adapter.py`` (protocol facts and parsers),
``dialect.py`` (the simulator speaking it), ``book.py`` (its book continuity rule and checksum),
``instruments.json`` (the committed instrument snapshot) and, optionally, ``history.py`` (the
backfill's history endpoints), declared in its ``__init__.py``
as one ``VenueParts``; its tests live in ``tests/venues/<exchange>/``. Adding a venue is a copy
of ``_template/`` (its README says what to fill in) and one line in ``VENUES``.

Lookups import only the module of the part asked for, so a caller that needs a book spec never
loads the simulator or the ingest adapters.
"""

import importlib
from functools import cache
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from schemas.common import ExchangeId
from services.venues.parts import VenueParts, split_reference

if TYPE_CHECKING:
    from services.book_builder.core.rules import BookSpec
    from services.ingest.normalizer import VenueNormalizer
    from services.ingest.venue import VenueAdapter
    from services.instruments.catalog import InstrumentCatalog
    from services.simulator.dialect import Dialect

VENUES: dict[ExchangeId, str] = {
    ExchangeId.BINANCE_USDM: "binance_usdm",
    ExchangeId.BINANCE_COINM: "binance_coinm",
    ExchangeId.BYBIT: "bybit",
    ExchangeId.OKX: "okx",
    ExchangeId.KUCOIN_FUTURES: "kucoin_futures",
    ExchangeId.DERIBIT: "deribit",
    ExchangeId.BITMEX: "bitmex",
    ExchangeId.GATEIO: "gateio",
    ExchangeId.MEXC: "mexc",
    ExchangeId.BITGET: "bitget",
    ExchangeId.PHEMEX: "phemex",
    ExchangeId.COINDCX: "coindcx",
    ExchangeId.HYPERLIQUID: "hyperliquid",
}
"""The registry: exchange -> its package under ``services/venues/``."""


def registered_venues() -> list[ExchangeId]:
    return sorted(VENUES, key=lambda e: e.value)


def package_of(exchange: ExchangeId) -> str:
    try:
        return f"{__name__}.{VENUES[exchange]}"
    except KeyError:
        raise NotImplementedError(f"no venue package for {exchange.value} yet") from None


@cache
def venue_parts(exchange: ExchangeId) -> VenueParts:
    """The venue's declaration (its package's ``PARTS``), checked to be for that venue."""
    parts = importlib.import_module(package_of(exchange)).PARTS
    if not isinstance(parts, VenueParts) or parts.exchange is not exchange:
        raise TypeError(f"{package_of(exchange)}.PARTS is not the VenueParts of {exchange.value}")
    return parts


def load_part(exchange: ExchangeId, reference: str) -> Any:
    """One part of a venue, importing only its module."""
    module, attribute = split_reference(reference)
    return getattr(importlib.import_module(f"{package_of(exchange)}.{module}"), attribute)


def adapter_for(exchange: ExchangeId, catalog: "InstrumentCatalog") -> "VenueAdapter":
    """The venue's adapter: protocol facts plus its normalizer."""
    adapter: VenueAdapter = load_part(exchange, venue_parts(exchange).adapter)(catalog)
    return adapter


def normalizer_for(exchange: ExchangeId, catalog: "InstrumentCatalog") -> "VenueNormalizer":
    return adapter_for(exchange, catalog).normalizer


def dialect_for(exchange: ExchangeId) -> "Dialect":
    """A new simulator dialect of the venue (one per simulated venue: dialects keep state)."""
    dialect: Dialect = load_part(exchange, venue_parts(exchange).dialect)()
    return dialect


def book_spec_for(exchange: ExchangeId) -> "BookSpec":
    spec: BookSpec = load_part(exchange, venue_parts(exchange).book_spec)
    return spec


def history_class(exchange: ExchangeId) -> type | None:
    """The venue's backfill history class, or None when it declares none."""
    reference = venue_parts(exchange).history
    if reference is None:
        return None
    history: type = load_part(exchange, reference)
    return history


def instruments_resource(exchange: ExchangeId) -> Traversable:
    """The venue's committed instrument snapshot, as packaged."""
    return importlib.resources.files(package_of(exchange)) / venue_parts(exchange).instruments


def instruments_path(exchange: ExchangeId) -> Path:
    """Where the committed snapshot is in the source tree, for ``--write-snapshot``."""
    return Path(__file__).resolve().parent / VENUES[exchange] / venue_parts(exchange).instruments
