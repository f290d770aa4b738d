"""Refreshing instrument metadata from the venues, with the committed snapshot as the fallback.

On start the ingestors ask each venue's instrument endpoint for its perpetuals and keep the
answer in a local cache (``PERPWATCH_INSTRUMENT_CACHE_DIR``), so a restart without network still
uses the freshest metadata seen. When a venue cannot be reached, the cached copy, then the
committed snapshot in ``services/venues/<exchange>/instruments.json`` is used: normalization never depends on a
venue being reachable. ``perpwatch instruments refresh --write-snapshot`` updates the committed
snapshot itself (for maintainers, when the venues are reachable).
"""

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import orjson

from schemas.common import ExchangeId
from services.ingest.connector.rest import RestClient, RestError
from services.ingest.venue import VenueAdapter
from services.instruments.catalog import Instrument, instrument_to_json

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RefreshResult:
    exchange: ExchangeId
    instruments: list[Instrument]
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error and bool(self.instruments)


async def fetch_instruments(
    adapter: VenueAdapter, rest_url: str, *, timeout_s: float = 10.0
) -> RefreshResult:
    """One venue's perpetuals from its instrument endpoint; never raises."""
    client = RestClient(
        adapter.exchange, rest_url, adapter.rest_rate_limit, timeout_s=timeout_s, max_attempts=2
    )
    try:
        response = await asyncio.wait_for(client.call(adapter.instruments_request()), timeout=timeout_s * 2)
        instruments = adapter.parse_instruments(orjson.loads(response.body))
    except (RestError, TimeoutError, OSError, ValueError, KeyError, TypeError) as exc:
        return RefreshResult(adapter.exchange, [], f"{type(exc).__name__}: {exc}")
    return RefreshResult(adapter.exchange, instruments)


def snapshot_document(exchange: ExchangeId, instruments: Iterable[Instrument], source: str) -> bytes:
    document = {
        "exchange": exchange.value,
        "version": time.strftime("%Y-%m-%d.%H%M%S", time.gmtime()),
        "source": source,
        "instruments": [instrument_to_json(i) for i in sorted(instruments, key=lambda i: i.native_symbol)],
    }
    return orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"


def cache_file(cache_dir: Path, exchange: ExchangeId) -> Path:
    """A venue's refreshed snapshot in the local cache (``load_snapshot(cache_dir)`` overlays it)."""
    return cache_dir / f"{exchange.value}.json"


def write_snapshot(path: Path, result: RefreshResult, source: str) -> Path:
    """Writes the snapshot document to ``path``: a ``cache_file`` or a venue's committed
    ``instruments.json`` (``services.venues.instruments_path``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".json.tmp")
    temporary.write_bytes(snapshot_document(result.exchange, result.instruments, source))
    temporary.replace(path)  # readers never see half a file
    return path


async def refresh_into_cache(
    adapters: Iterable[VenueAdapter], rest_urls: Mapping[ExchangeId, str], cache_dir: Path
) -> list[RefreshResult]:
    """Refresh every venue concurrently; successes are written to the cache, failures logged."""
    adapters = list(adapters)
    results = await asyncio.gather(
        *(fetch_instruments(a, rest_urls.get(a.exchange, a.rest_url)) for a in adapters)
    )
    for result in results:
        if result.ok:
            write_snapshot(
                cache_file(cache_dir, result.exchange),
                result,
                "refreshed from the venue's instrument endpoint",
            )
            log.info(
                "instruments refreshed",
                extra={"exchange": result.exchange.value, "count": len(result.instruments)},
            )
        else:
            log.warning(
                "instrument refresh failed; using the cached or committed snapshot",
                extra={"exchange": result.exchange.value, "error": result.error or "no perpetuals"},
            )
    return results
