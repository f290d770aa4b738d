"""One module per venue, each exposing a ``VenueNormalizer``."""

import importlib
import pkgutil

from schemas.common import ExchangeId
from services.ingest.normalizer import VenueNormalizer
from services.ingest.venue import VenueAdapter
from services.instruments.catalog import InstrumentCatalog


def _discover_adapters() -> dict[ExchangeId, type]:
    """Every module in this package that defines ``ADAPTER`` (a VenueAdapter class) is a venue."""
    found: dict[ExchangeId, type] = {}
    for module_info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        adapter_class = getattr(module, "ADAPTER", None)
        if adapter_class is not None:
            found[adapter_class.exchange] = adapter_class
    return found


_ADAPTERS = _discover_adapters()


def adapter_for(exchange: ExchangeId, catalog: InstrumentCatalog) -> VenueAdapter:
    """The venue module's adapter: protocol facts plus its normalizer."""
    try:
        adapter_class = _ADAPTERS[exchange]
    except KeyError:
        raise NotImplementedError(f"no venue module for {exchange.value} yet") from None
    adapter: VenueAdapter = adapter_class(catalog)
    return adapter


def normalizer_for(exchange: ExchangeId, catalog: InstrumentCatalog) -> VenueNormalizer:
    return adapter_for(exchange, catalog).normalizer


def available_exchanges() -> list[ExchangeId]:
    return sorted(_ADAPTERS, key=lambda e: e.value)
