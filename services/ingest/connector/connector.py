"""A venue's live feed: its symbols spread over connections, plus the REST side of the venue.

A ``VenueConnector`` owns, for one venue:

- one ``FeedConnection`` per group of symbols, sized so that no connection carries more
  subscriptions than the venue allows (``max_subscriptions_per_connection``);
- one rate-limited ``RestClient`` (a token bucket per venue, paused by Retry-After), used for
  connection tokens, book snapshots and open-interest polls;
- the book bootstrap of venues that need a REST snapshot (Binance): after every (re)subscribe,
  once the first diff of a symbol has arrived, fetch the snapshot and publish it as a
  ``BookSnapshot`` into the same ``md.book.v1`` partition as the diffs. The book builder buffers
  diffs until it sees a snapshot, so it syncs on its own.

``request_snapshot`` is also the entry point for a later "resync this book" request from the
book builder: it coalesces concurrent requests for one symbol and goes through the same bucket.

Optional adapter hooks (a venue defines only those it needs; nothing here names a venue):

- ``connect_request()`` / ``ws_url_from(payload)``: a token call before each connection (KuCoin);
  ``ping_interval_s`` is read after it, so a period the token answer announces is used;
- ``open_interest_request(symbol)`` + ``normalizer.normalize_open_interest``: channels served over
  REST only, polled; ``polled_channels`` says which (default: open interest; KuCoin: funding too).
  A parser taking ``mark_price`` gets the latest mark price seen on the feed (inverse contracts);
- ``symbol_frames`` / ``venue_wide_frames``: subscriptions split into per-symbol ones and ones that
  cover the whole venue (Phemex's 24 h tickers, CoinDCX's current prices), which only the first
  connection sends;
- ``decode_frame(text)``: the venue's own text framing (CoinDCX's Engine.IO ``42[...]``) into what
  its normalizer takes, None for control frames; ``control_reply(text)``: an answer a frame needs
  (Engine.IO ping ``2`` -> ``3``); ``handshake_reply(frame)``: the reply to wait for after sending
  a subscription frame before the next one (Engine.IO ``40``).
"""

import asyncio
import contextlib
import logging
import random
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson

from schemas.common import ExchangeId, InstrumentEvent
from schemas.market_data import ConnectorState, ConnectorStatus, Funding
from services.ingest.connector.backoff import Backoff
from services.ingest.connector.connection import SERVICE, ConnectionSettings, FeedConnection
from services.ingest.connector.metrics import PARSE_ERRORS, SNAPSHOTS
from services.ingest.connector.parse import (
    CHANNEL_OF_EVENT,
    normalize_rest_open_interest,
    normalize_rest_snapshot,
    takes_mark_price,
)
from services.ingest.connector.rest import RestClient, RestError
from services.ingest.connector.sink import EventSink, FrameTap
from services.ingest.normalizer import FrameRejected
from services.ingest.venue import Channel, RateLimit, VenueAdapter
from services.instruments.catalog import Instrument, InstrumentCatalog, UnknownInstrument, load_snapshot
from services.runtime.dead_letter import dead_letter

log = logging.getLogger(__name__)

# How long a stopping connector lets its in-flight REST poll finish (see ``run``).
POLL_GRACE_S = 5.0


@dataclass(frozen=True)
class ConnectorOptions:
    """Everything a deployment (or a test) may override; ``None`` means the adapter's value."""

    ws_url: str | None = None
    rest_url: str | None = None
    stale_after_s: float | None = None
    ping_interval_s: float | None = None
    max_subscriptions_per_connection: int | None = None
    rest_rate_limit: RateLimit | None = None
    backoff_initial_s: float = 0.5
    backoff_cap_s: float = 30.0
    healthy_after_s: float = 30.0
    rest_timeout_s: float = 10.0
    rest_max_attempts: int = 5
    snapshot_wait_s: float = 10.0
    """How long the bootstrap waits for a symbol's first diff before fetching its snapshot anyway."""
    open_interest_poll_s: float | None = 30.0
    """Poll period of REST-only channels (venues whose adapter has ``open_interest_request``: open
    interest, and funding where the adapter's ``polled_channels`` says so)."""
    protocol_ping_interval_s: float | None = 20.0
    open_timeout_s: float = 10.0
    seed: int | None = None
    """Seeds the reconnect jitter, for reproducible tests."""


def instruments_of(exchange: ExchangeId, catalog: InstrumentCatalog | None = None) -> list[Instrument]:
    """A venue's instruments: the given catalog's, or the committed snapshot's."""
    return (catalog or load_snapshot()).instruments(exchange)


def resolve_symbols(
    exchange: ExchangeId, symbols: list[str], catalog: InstrumentCatalog | None = None
) -> list[Instrument]:
    """Instruments for symbols given natively (BTCUSDT) or canonically (BTC-USDT-PERP)."""
    return (catalog or load_snapshot()).resolve(exchange, symbols)


def plan_connections(
    adapter: VenueAdapter, native_symbols: list[str], channels: frozenset[Channel], limit: int | None = None
) -> list[list[str]]:
    """Symbols per connection. One subscription per (symbol, channel) is the conservative count."""
    per_symbol = max(1, len(channels & adapter.capabilities))
    cap = limit or adapter.max_subscriptions_per_connection
    per_connection = max(1, cap // per_symbol)
    return [native_symbols[i : i + per_connection] for i in range(0, len(native_symbols), per_connection)]


class VenueConnector:
    def __init__(
        self,
        adapter: VenueAdapter,
        native_symbols: list[str],
        channels: frozenset[Channel],
        sink: EventSink,
        options: ConnectorOptions | None = None,
        *,
        tap: FrameTap | None = None,
        catalog: InstrumentCatalog | None = None,
    ) -> None:
        self.adapter = adapter
        self.exchange = adapter.exchange
        self.options = options or ConnectorOptions()
        self.channels = channels & adapter.capabilities
        self.sink = sink
        self.tap = tap
        self._stopping = asyncio.Event()
        self._rng = random.Random(self.options.seed)
        self.rest = RestClient(
            adapter.exchange,
            self.options.rest_url or adapter.rest_url,
            self.options.rest_rate_limit or adapter.rest_rate_limit,
            timeout_s=self.options.rest_timeout_s,
            max_attempts=self.options.rest_max_attempts,
            on_rate_limited=self._on_rate_limited,
            backoff=Backoff(initial_s=0.25, cap_s=10.0, rng=random.Random(self._rng.random())),
        )
        self._catalog = catalog or load_snapshot()
        self._snapshot_tasks: dict[str, tuple[float, asyncio.Task[bool]]] = {}
        self._background: set[asyncio.Task[Any]] = set()
        canonical = {s: self._canonical(s) for s in native_symbols}
        settings = ConnectionSettings(
            stale_after_s=self.options.stale_after_s or adapter.stale_after_s,
            ping_interval_s=self.options.ping_interval_s,
            protocol_ping_interval_s=self.options.protocol_ping_interval_s,
            open_timeout_s=self.options.open_timeout_s,
        )
        groups = plan_connections(
            adapter, native_symbols, self.channels, self.options.max_subscriptions_per_connection
        )
        self.mark_prices: dict[str, Decimal] = {}
        """Latest mark price per native symbol, in venue units, from the venue's funding events."""
        observe = self._observe if self._polls() else None
        self.connections = [
            FeedConnection(
                adapter=adapter,
                index=index,
                native_symbols=group,
                canonical_symbols=[canonical[s] for s in group],
                channels=self.channels,
                settings=settings,
                backoff=Backoff(
                    initial_s=self.options.backoff_initial_s,
                    cap_s=self.options.backoff_cap_s,
                    healthy_after_s=self.options.healthy_after_s,
                    rng=random.Random(self._rng.random()),
                ),
                sink=sink,
                emit_status=self._emit_status,
                resolve_url=self._resolve_url,
                on_subscribed=self._bootstrap_books,
                tap=tap,
                venue_wide_symbols=list(native_symbols) if index == 0 else None,
                observe=observe,
            )
            for index, group in enumerate(groups)
        ]

    def _instrument(self, native_symbol: str) -> Instrument | None:
        """The listed instrument, or the one its venue's naming rules derive (base-unit venues)."""
        try:
            return self._catalog.get(self.exchange, native_symbol)
        except UnknownInstrument:
            return None

    def _canonical(self, native_symbol: str) -> str:
        instrument = self._instrument(native_symbol)
        return instrument.symbol if instrument is not None else native_symbol

    def _observe(self, events: list[InstrumentEvent]) -> None:
        for event in events:
            if isinstance(event, Funding) and event.mark_price is not None:
                instrument = self._instrument(event.native_symbol)
                # Funding carries the price per base unit; the venue's own unit is what a REST
                # payload in contracts converts with (1000PEPE: times 1000).
                multiplier = instrument.multiplier if instrument is not None else Decimal(1)
                self.mark_prices[event.native_symbol] = event.mark_price * multiplier

    # --- lifecycle ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Run every connection until ``stop()``."""
        tasks = [asyncio.create_task(c.run(self._stopping)) for c in self.connections]
        poll = asyncio.create_task(self._poll()) if self._polls() else None
        try:
            await asyncio.gather(*tasks)
        finally:
            if poll is not None:
                # A poll already asked is answered and published (the venue has sent it); the
                # loop asks nothing new once stopping. Bounded, so a hung request cannot block.
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(poll, timeout=POLL_GRACE_S)
            for task in tasks:
                task.cancel()
            for task in list(self._background):
                task.cancel()
            await asyncio.gather(*tasks, *self._background, return_exceptions=True)

    async def stop(self) -> None:
        self._stopping.set()
        await asyncio.gather(*(c.close() for c in self.connections), return_exceptions=True)

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def wait_connected(self, timeout_s: float) -> None:
        """Until every connection has been up at least once (raises TimeoutError)."""
        await asyncio.wait_for(
            asyncio.gather(*(c.ever_connected.wait() for c in self.connections)), timeout=timeout_s
        )

    def _spawn(self, coroutine: Any) -> asyncio.Task[Any]:
        task = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    # --- status ---------------------------------------------------------------------------------

    async def _emit_status(
        self, connection_id: str, state: ConnectorState, detail: str, symbols: list[str]
    ) -> None:
        await self.sink.status(
            ConnectorStatus(
                exchange=self.exchange,
                connection_id=connection_id,
                state=state,
                detail=detail[:1000],
                symbols=symbols,
                ts=time.time_ns(),
            )
        )

    async def _on_rate_limited(self, status: int, pause_s: float, path: str) -> None:
        await self._emit_status(
            f"{self.exchange.value}#rest",
            ConnectorState.RATE_LIMITED,
            f"HTTP {status} on {path}; paused {pause_s:.2f}s (Retry-After)",
            [],
        )

    # --- connection endpoint -------------------------------------------------------------------

    async def _resolve_url(self) -> str:
        """The WebSocket URL; venues that hand out a token first say so with ``connect_request``."""
        request = self.adapter.connect_request()
        if request is None:
            return self.options.ws_url or self.adapter.ws_url
        response = await self.rest.call(request)
        return self.adapter.ws_url_from(orjson.loads(response.body))

    # --- book snapshots --------------------------------------------------------------------------

    async def _bootstrap_books(self, connection: FeedConnection) -> None:
        if Channel.BOOK not in self.channels:
            return
        symbols = [s for s in connection.native_symbols if self.adapter.book_snapshot_request(s) is not None]
        await asyncio.gather(*(self._bootstrap_symbol(connection, s) for s in symbols))

    async def _bootstrap_symbol(self, connection: FeedConnection, native_symbol: str) -> None:
        seen = connection.book_seen.get(native_symbol)
        if seen is not None:
            try:
                await asyncio.wait_for(seen.wait(), timeout=self.options.snapshot_wait_s)
            except TimeoutError:
                log.warning(
                    "no book diff yet; fetching the snapshot anyway",
                    extra={"exchange": self.exchange.value, "symbol": native_symbol},
                )
        await self.request_snapshot(native_symbol, not_before=time.monotonic())

    async def request_snapshot(self, native_symbol: str, *, not_before: float | None = None) -> bool:
        """Fetch the venue's REST book snapshot and publish it beside the symbol's diffs.

        For the book builder's gap recovery (a later request topic will call this). Concurrent
        requests for one symbol share one fetch, unless ``not_before`` (a ``time.monotonic()``
        instant) asks for a fetch started no earlier than that. Returns whether a snapshot was
        published; rate limits are honoured (token bucket, Retry-After), never bypassed.
        """
        current = self._snapshot_tasks.get(native_symbol)
        if current is not None and not current[1].done() and (not_before is None or current[0] >= not_before):
            return await asyncio.shield(current[1])
        task = self._spawn(self._fetch_snapshot(native_symbol))
        self._snapshot_tasks[native_symbol] = (time.monotonic(), task)
        return await asyncio.shield(task)

    async def _fetch_snapshot(self, native_symbol: str) -> bool:
        request = self.adapter.book_snapshot_request(native_symbol)
        if request is None:
            return False
        try:
            response = await self.rest.call(request)
        except RestError as exc:
            log.warning(
                "book snapshot failed",
                extra={"exchange": self.exchange.value, "symbol": native_symbol, "error": str(exc)},
            )
            return False
        if self.tap is not None:
            self.tap.rest(request.path, native_symbol, response.body, response.received_ns, "book_snapshot")
        try:
            events = normalize_rest_snapshot(self.adapter, response.body, native_symbol, response.received_ns)
        except FrameRejected as exc:
            await self._reject(f"rest:{self.exchange.value}", response.body, exc)
            return False
        await self.sink.events(events)
        SNAPSHOTS.labels(self.exchange.value).inc()
        return True

    async def _reject(self, source: str, payload: bytes, exc: FrameRejected) -> None:
        PARSE_ERRORS.labels(self.exchange.value, exc.error_type).inc()
        await self.sink.reject(
            dead_letter(
                service=SERVICE, source=source, payload=payload, error_type=exc.error_type, error=exc.reason
            )
        )

    # --- REST polls (open interest, and KuCoin's funding) ---------------------------------------

    def _polled_channels(self) -> frozenset[Channel]:
        """Channels the venue serves only over REST (``open_interest_request``), as its adapter's
        ``polled_channels`` says."""
        return self.adapter.polled_channels & self.channels

    def _polls(self) -> bool:
        return (
            bool(self._polled_channels())
            and bool(self.options.open_interest_poll_s)
            and self.adapter.normalizer.normalize_open_interest is not None
        )

    async def _poll(self) -> None:
        period = self.options.open_interest_poll_s or 30.0
        symbols = [s for c in self.connections for s in c.native_symbols]
        while not self._stopping.is_set():
            for symbol in symbols:
                if self._stopping.is_set():
                    return
                await self._fetch_open_interest(symbol)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=period)

    async def _fetch_open_interest(self, native_symbol: str) -> None:
        mark_price = self.mark_prices.get(native_symbol)
        instrument = self._instrument(native_symbol)
        if (
            mark_price is None
            and instrument is not None
            and instrument.inverse
            and takes_mark_price(self.adapter)
        ):
            # Inverse contracts convert to base units at a price: wait for the first mark price
            # rather than fetch an answer that cannot be published.
            log.debug(
                "no mark price yet; open interest poll skipped",
                extra={"exchange": self.exchange.value, "symbol": native_symbol},
            )
            return
        request = self.adapter.open_interest_request(native_symbol)
        if request is None:
            return
        try:
            response = await self.rest.call(request)
        except RestError as exc:
            log.warning(
                "open interest poll failed", extra={"exchange": self.exchange.value, "error": str(exc)}
            )
            return
        if self.tap is not None:
            self.tap.rest(request.path, native_symbol, response.body, response.received_ns, "open_interest")
        try:
            events = normalize_rest_open_interest(
                self.adapter, response.body, response.received_ns, mark_price=mark_price
            )
        except FrameRejected as exc:
            await self._reject(f"rest:{self.exchange.value}", response.body, exc)
            return
        wanted = self.channels
        await self.sink.events([e for e in events if CHANNEL_OF_EVENT.get(type(e)) in wanted])
