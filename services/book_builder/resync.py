"""Resyncing a broken book of a REST-bootstrapped venue: fetch a snapshot, put it on the stream.

Choice (issue 5): for now the book-builder fetches the snapshot itself, over REST, using the venue
adapter's ``book_snapshot_request`` and ``normalize_rest_snapshot``, behind an injectable
``SnapshotFetcher`` (tests serve snapshots from a local HTTP server). It does NOT apply the
snapshot directly: it publishes it to ``md.book.v1`` under the book's key, exactly as an ingestor
would, and the builder applies it when it reads it back. The book state is therefore always a
function of the ``md.book.v1`` log alone, so a restarted or rebalanced builder replays to the
very same state; meanwhile the deltas arriving between the gap and the snapshot are buffered by
the core and only those after the snapshot's id are applied. When the ingestor learns to serve
snapshot requests, ``SnapshotFetcher`` is the one seam to replace.

Venues that send their snapshots on the stream (OKX, Bybit, Deribit, Bitget, ...) are not
fetched: the book waits for the venue's next snapshot (after a resubscribe by the ingestor).

Requests per book are single-flight and spaced by an exponential backoff (1 s doubling to 60 s,
reset once the book is valid again), so a venue that keeps answering with a snapshot the stream
cannot connect to cannot turn into a request loop.
"""

import asyncio
import logging
import time
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import orjson

from schemas.common import ExchangeId
from schemas.market_data import BookSnapshot
from services.book_builder.metrics import RESYNC_REQUESTS
from services.ingest.venue import RestRequest
from services.instruments.catalog import InstrumentCatalog
from services.runtime.publisher import Publisher
from services.runtime.settings import Settings
from services.venues import adapter_for

log = logging.getLogger(__name__)

SnapshotFetcher = Callable[[str, RestRequest], Awaitable[bytes]]
"""(venue REST base URL, request) -> response body. Raises on any failure."""

INITIAL_BACKOFF_S = 1.0
MAX_BACKOFF_S = 60.0
FETCH_TIMEOUT_S = 10.0


async def http_fetcher(base_url: str, request: RestRequest) -> bytes:
    """Plain HTTP(S) GET/POST with the standard library, off the event loop."""
    url = base_url.rstrip("/") + request.path
    if request.params:
        url += "?" + urllib.parse.urlencode(request.params)

    def fetch() -> bytes:
        http_request = urllib.request.Request(url, method=request.method)
        with urllib.request.urlopen(http_request, timeout=FETCH_TIMEOUT_S) as response:
            body: bytes = response.read()
            return body

    return await asyncio.to_thread(fetch)


@dataclass
class _BookResync:
    next_allowed: float = 0.0
    backoff_s: float = INITIAL_BACKOFF_S
    task: asyncio.Task[None] | None = None


@dataclass
class ResyncRequests:
    """Single-flight, backed-off snapshot requests per book, published to ``md.book.v1``."""

    settings: Settings
    catalog: InstrumentCatalog
    fetcher: SnapshotFetcher = http_fetcher
    clock: Callable[[], float] = time.monotonic
    _books: dict[str, _BookResync] = field(default_factory=dict)
    _snapshot_publisher: Publisher | None = None

    def request(self, key: str, exchange: ExchangeId, native_symbol: str) -> bool:
        """Start a fetch for this book unless one is running or the backoff says wait."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False  # offline (`perpwatch analyze`): no venue to fetch from; wait for the file's next snapshot
        state = self._books.setdefault(key, _BookResync())
        now = self.clock()
        if (state.task is not None and not state.task.done()) or now < state.next_allowed:
            return False
        state.next_allowed = now + state.backoff_s
        state.backoff_s = min(MAX_BACKOFF_S, state.backoff_s * 2)
        state.task = loop.create_task(self._fetch_and_publish(key, exchange, native_symbol))
        return True

    def recovered(self, key: str) -> None:
        """The book is valid again: the next break may ask at once."""
        state = self._books.get(key)
        if state is not None:
            state.backoff_s = INITIAL_BACKOFF_S
            state.next_allowed = 0.0

    async def _publisher(self) -> Publisher:
        """One producer for every resync snapshot of this service, started on first use."""
        if self._snapshot_publisher is None:
            publisher = Publisher(self.settings, "book-builder")
            await publisher.start()
            self._snapshot_publisher = publisher
        return self._snapshot_publisher

    async def close(self) -> None:
        self.cancel(set(self._books))
        publisher, self._snapshot_publisher = self._snapshot_publisher, None
        if publisher is not None:
            await publisher.stop()

    def cancel(self, keys: set[str]) -> None:
        for key in keys:
            state = self._books.pop(key, None)
            if state is not None and state.task is not None:
                state.task.cancel()

    async def wait_idle(self) -> None:
        """Wait for the fetches in flight (tests and shutdown)."""
        tasks = [s.task for s in self._books.values() if s.task is not None and not s.task.done()]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def _rest_url(self, exchange: ExchangeId, default: str) -> str:
        """The venue's REST base, or the one ``PERPWATCH_INGEST_ENDPOINTS`` names (the simulator's
        under ``perpwatch up``): snapshots must come from where the stream comes from."""
        if not self.settings.ingest_endpoints:
            return default
        from services.ingest.service import endpoint_overrides  # read when needed: the file may come later

        option = endpoint_overrides(self.settings.ingest_endpoints).get(exchange)
        return option.rest_url if option is not None and option.rest_url else default

    async def _fetch_and_publish(self, key: str, exchange: ExchangeId, native_symbol: str) -> None:
        try:
            adapter = adapter_for(exchange, self.catalog)
            request = adapter.book_snapshot_request(native_symbol)
            if request is None:
                raise RuntimeError(f"{exchange.value} has no REST book snapshot")
            body = await self.fetcher(self._rest_url(exchange, adapter.rest_url), request)
            events = adapter.normalizer.normalize_rest_snapshot(
                orjson.loads(body), native_symbol, time.time_ns()
            )
            snapshots = [e for e in events if isinstance(e, BookSnapshot)]
            if not snapshots:
                raise RuntimeError("the venue answered without a book snapshot")
            publisher = await self._publisher()
            for snapshot in snapshots:
                await publisher.send("md.book.v1", snapshot)
            await publisher.confirm()
            RESYNC_REQUESTS.labels(exchange.value, "published").inc()
            log.info(
                "resync snapshot published",
                extra={
                    "book": key,
                    "venue_seq": snapshots[-1].sequence.last,
                    "levels": len(snapshots[-1].bids),
                },
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # any failure: the backoff decides when to try again
            RESYNC_REQUESTS.labels(exchange.value, "failed").inc()
            log.warning(
                "resync snapshot failed", extra={"book": key, "error": f"{type(exc).__name__}: {exc}"}
            )
