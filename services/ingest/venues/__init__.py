"""One module per venue, each exposing a ``VenueNormalizer``."""

from schemas.common import ExchangeId
from services.ingest.instruments import InstrumentCatalog
from services.ingest.normalizer import VenueNormalizer
from services.ingest.venues.binance_usdm import BinanceUsdmNormalizer


def normalizer_for(exchange: ExchangeId, catalog: InstrumentCatalog) -> VenueNormalizer:
    if exchange is ExchangeId.BINANCE_USDM:
        return BinanceUsdmNormalizer(catalog)
    raise NotImplementedError(f"no normalizer for {exchange.value} yet")
