"""One WebSocket connection to a venue, kept alive for as long as the connector runs.

Each session: resolve the URL (some venues hand out a token first), connect, send the
subscriptions (again after every reconnect), then read frames until the connection drops or
the watchdog finds it silent. Between sessions the delay grows exponentially with jitter, up
to a cap, and starts over after a healthy session.

On venues that send book snapshots on the stream (OKX, Bybit, Bitget, Deribit), a symbol whose
book stream breaks (a sequence gap, by the venue's own rule: ``ContinuityWatch``) is resubscribed
alone (``adapter.book_resubscribe_frames``): the venue answers with a fresh snapshot, the other
symbols and channels of the connection carry on, and nothing waits for a reconnect.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from schemas.common import InstrumentEvent
from schemas.market_data import BookDelta, BookSnapshot, ConnectorState
from services.book_builder.core.watch import continuity_watch_for
from services.ingest.connector.backoff import Backoff
from services.ingest.connector.metrics import (
    BOOK_RESUBSCRIBES,
    CONNECTIONS_UP,
    FEED_LAG,
    MESSAGES,
    PARSE_ERRORS,
    RECONNECTS,
)
from services.ingest.connector.parse import CHANNEL_OF_EVENT, normalize_raw
from services.ingest.connector.sink import EventSink, FrameTap
from services.ingest.normalizer import FrameRejected
from services.ingest.venue import Channel, VenueAdapter
from services.runtime.dead_letter import dead_letter
from services.venues import book_spec_for

log = logging.getLogger(__name__)

SERVICE = "ingest"

StatusCallback = Callable[[str, ConnectorState, str, list[str]], Awaitable[None]]
"""(connection id, state, detail, canonical symbols)."""


@dataclass(frozen=True)
class ConnectionSettings:
    stale_after_s: float
    ping_interval_s: float | None
    """An override of the adapter's application ping period; None: the adapter's, read when each
    session starts (KuCoin learns its period from the token answer)."""
    open_timeout_s: float = 10.0
    close_timeout_s: float = 2.0
    protocol_ping_interval_s: float | None = 20.0
    """websockets' own keepalive pings (RFC 6455 ping frames); separate from a venue's app ping."""
    max_frame_bytes: int = 16 * 2**20


class FeedConnection:
    def __init__(
        self,
        *,
        adapter: VenueAdapter,
        index: int,
        native_symbols: list[str],
        canonical_symbols: list[str],
        channels: frozenset[Channel],
        settings: ConnectionSettings,
        backoff: Backoff,
        sink: EventSink,
        emit_status: StatusCallback,
        resolve_url: Callable[[], Awaitable[str]],
        on_subscribed: Callable[["FeedConnection"], Coroutine[Any, Any, None]] | None = None,
        tap: FrameTap | None = None,
        venue_wide_symbols: list[str] | None = None,
        observe: Callable[[list[InstrumentEvent]], None] | None = None,
    ) -> None:
        """``venue_wide_symbols``: set on the one connection of a venue that also carries the
        venue-wide subscriptions (every symbol of the venue). ``observe`` sees every event batch
        before it is published (the connector keeps the latest mark prices from it)."""
        self.adapter = adapter
        self.exchange = adapter.exchange
        self.connection_id = f"{adapter.exchange.value}#{index}"
        self.native_symbols = native_symbols
        self.canonical_symbols = canonical_symbols
        self.channels = channels
        self.settings = settings
        self._backoff = backoff
        self._sink = sink
        self._emit_status = emit_status
        self._resolve_url = resolve_url
        self._on_subscribed = on_subscribed
        self._tap = tap
        self.venue_wide_symbols = venue_wide_symbols
        self._observe = observe
        # Hooks of venues with their own framing (CoinDCX's Engine.IO); the defaults answer None.
        self._control_reply: Callable[[str], str | None] = adapter.control_reply
        self._handshake_reply: Callable[[str], str | None] = adapter.handshake_reply
        self._ws: ClientConnection | None = None
        self._last_frame_at = time.monotonic()
        self._stale = False
        self._closing = False
        self.sessions = 0
        self.frames = 0
        self.ping_interval_s: float | None = None
        """The application ping period of the current session."""
        self.connected = asyncio.Event()
        self.ever_connected = asyncio.Event()
        # Set when the first book event of a symbol arrives in the current session: a REST
        # snapshot taken after it is guaranteed to be at least as new as the stream.
        self.book_seen: dict[str, asyncio.Event] = {}
        self.session_started_at = 0.0
        self._book_watch = continuity_watch_for(book_spec_for(adapter.exchange))
        self._broken_books: list[str] = []
        self.book_resubscribes = 0
        """Symbols resubscribed alone because their book stream broke (all sessions)."""
        exchange = adapter.exchange.value
        self._messages = {channel: MESSAGES.labels(exchange, channel.value) for channel in Channel}
        self._control_messages = MESSAGES.labels(exchange, "control")
        self._lag = {channel: FEED_LAG.labels(exchange, channel.value) for channel in Channel}

    async def _status(self, state: ConnectorState, detail: str) -> None:
        await self._emit_status(self.connection_id, state, detail, self.canonical_symbols)

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            started = time.monotonic()
            try:
                reason, kind = await self._session(stopping)
            except Exception as exc:  # a bug in one session must not end the feed for good
                log.exception("connection session failed", extra={"connection": self.connection_id})
                reason, kind = f"internal error: {type(exc).__name__}: {exc}", "error"
            if stopping.is_set():
                if self.sessions:
                    await self._status(ConnectorState.DISCONNECTED, "connector stopped")
                break
            delay = self._backoff.delay_after(time.monotonic() - started)
            RECONNECTS.labels(self.exchange.value, kind).inc()
            log.warning(
                "connection lost",
                extra={"connection": self.connection_id, "reason": reason, "retry_in_s": round(delay, 3)},
            )
            await self._status(ConnectorState.DISCONNECTED, f"{reason}; reconnecting in {delay:.2f}s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), timeout=delay)

    async def close(self) -> None:
        """Close the current session (the run loop then sees ``stopping`` and ends)."""
        self._closing = True
        ws = self._ws
        if ws is not None:
            await ws.close(1000, "client stopping")

    async def _session(self, stopping: asyncio.Event) -> tuple[str, str]:
        """One connection's life; returns why it ended and a short label for metrics."""
        try:
            url = await self._resolve_url()
        except Exception as exc:  # no token, no connection: retry later like any connect failure
            return f"could not get a connection endpoint: {exc}", "endpoint"
        try:
            ws = await connect(
                url,
                open_timeout=self.settings.open_timeout_s,
                close_timeout=self.settings.close_timeout_s,
                ping_interval=self.settings.protocol_ping_interval_s,
                max_size=self.settings.max_frame_bytes,
            )
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            return f"connect to {url} failed: {type(exc).__name__}: {exc}", "connect_failed"
        if stopping.is_set():
            await ws.close()
            return "stopping", "stopping"
        self._ws = ws
        self.sessions += 1
        self._stale = False
        self._last_frame_at = time.monotonic()
        self.session_started_at = self._last_frame_at
        self.book_seen = {symbol: asyncio.Event() for symbol in self.native_symbols}
        if self._book_watch is not None:
            self._book_watch.reset()
        self._broken_books = []
        now = time.time_ns()
        if self._tap is not None:
            self._tap.connected(self.connection_id, url, now)
        CONNECTIONS_UP.labels(self.exchange.value).inc()
        helpers: list[asyncio.Task[None]] = []
        try:
            self.connected.set()
            self.ever_connected.set()
            await self._status(ConnectorState.CONNECTED, f"{url} (session {self.sessions})")
            for frame in self.subscription_frames():
                await self._send(ws, frame)
                expected = self._handshake_reply(frame)
                if expected is not None:
                    await self._await_reply(ws, expected)
            if self.sessions > 1:
                await self._status(
                    ConnectorState.RESUBSCRIBED,
                    f"{len(self.native_symbols)} symbols, {len(self.channels)} channels",
                )
            helpers.append(asyncio.create_task(self._watchdog(ws)))
            ping_frame = self.adapter.ping_frame()
            # Read now, not at construction: the token request may have just set it (KuCoin).
            ping_interval_s = self.settings.ping_interval_s or self.adapter.ping_interval_s
            self.ping_interval_s = ping_interval_s
            if ping_interval_s and ping_frame:
                helpers.append(asyncio.create_task(self._ping(ws, ping_frame, ping_interval_s)))
            if self._on_subscribed is not None:
                helpers.append(asyncio.create_task(self._on_subscribed(self)))
            await self._receive(ws)
            return self._ended_reason(ws)
        except ConnectionClosed:
            return self._ended_reason(ws)
        finally:
            self.connected.clear()
            self._ws = None
            CONNECTIONS_UP.labels(self.exchange.value).dec()
            for helper in helpers:
                helper.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            await ws.close()
            if self._tap is not None:
                self._tap.disconnected(self.connection_id, self._ended_reason(ws)[0], time.time_ns())

    def _ended_reason(self, ws: ClientConnection) -> tuple[str, str]:
        if self._stale:
            return f"stale: no frame for {self.settings.stale_after_s:g}s", "stale"
        if self._closing:
            return "closed by us", "stopping"
        code, why = ws.close_code, ws.close_reason
        if code is None or code == 1006:
            return "connection lost without a close frame", "lost"
        return f"closed by the venue: code {code} {why}".rstrip(), "closed"

    def subscription_frames(self) -> list[str]:
        """What this connection sends after connecting.

        Adapters with venue-wide subscriptions (one channel for every symbol of the venue) split
        them out with ``symbol_frames`` / ``venue_wide_frames``; only the connection holding
        ``venue_wide_symbols`` sends the latter, so their events are not received twice.
        """
        adapter = self.adapter
        frames = list(adapter.symbol_frames(self.channels, self.native_symbols))
        if self.venue_wide_symbols:
            frames += adapter.venue_wide_frames(self.channels, self.venue_wide_symbols)
        return frames

    async def _send(self, ws: ClientConnection, frame: str) -> None:
        await ws.send(frame)
        if self._tap is not None:
            self._tap.sent(self.connection_id, frame, time.time_ns())

    async def _await_reply(self, ws: ClientConnection, prefix: str) -> None:
        """Read (and handle) frames until one starts with ``prefix``, e.g. Engine.IO's ``40``
        namespace ack before any join; gives up after the open timeout and carries on."""
        deadline = time.monotonic() + self.settings.open_timeout_s
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                raw = await asyncio.wait_for(ws.recv(decode=False), timeout=remaining)
            except TimeoutError:
                break
            await self._on_frame(ws, raw)
            text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
            if text.startswith(prefix):
                return
        log.warning(
            "no handshake reply; subscribing anyway",
            extra={"connection": self.connection_id, "expected": prefix},
        )

    async def _receive(self, ws: ClientConnection) -> None:
        while True:
            raw = await ws.recv(decode=False)
            await self._on_frame(ws, raw)

    async def _on_frame(self, ws: ClientConnection, raw: bytes | str) -> None:
        sink, tap = self._sink, self._tap
        exchange = self.exchange.value
        receive_ts = time.time_ns()
        self._last_frame_at = time.monotonic()
        self.frames += 1
        if tap is not None:
            tap.received(self.connection_id, raw, receive_ts)
        reply = self._control_reply(raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw)
        if reply is not None:
            await self._send(ws, reply)
        try:
            events = normalize_raw(self.adapter, raw, receive_ts)
        except FrameRejected as exc:
            PARSE_ERRORS.labels(exchange, exc.error_type).inc()
            await sink.reject(
                dead_letter(
                    service=SERVICE,
                    source=f"ws:{exchange}",
                    payload=raw,
                    error_type=exc.error_type,
                    error=exc.reason,
                )
            )
            return
        if not events:
            self._control_messages.inc()
            return
        channel = CHANNEL_OF_EVENT.get(type(events[0]), Channel.TRADES)
        self._messages[channel].inc()
        lag = self._lag
        for event in events:
            event_channel = CHANNEL_OF_EVENT.get(type(event))
            if event_channel is not None:
                lag[event_channel].observe((receive_ts - event.exchange_ts) / 1e9)
            if event_channel is Channel.BOOK:
                self._book_event(event)
        if self._observe is not None:
            self._observe(events)
        await sink.events(events)
        if self._broken_books:
            await self._resubscribe_books(ws)

    def _book_event(self, event: InstrumentEvent) -> None:
        if isinstance(event, BookDelta | BookSnapshot):
            seen = self.book_seen.get(event.native_symbol)
            if seen is not None and not seen.is_set():
                seen.set()
            watch = self._book_watch
            if watch is None:
                return
            if isinstance(event, BookSnapshot):
                watch.on_snapshot(event.native_symbol, event.sequence)
            elif watch.on_delta(event.native_symbol, event.sequence):
                self._broken_books.append(event.native_symbol)

    async def _resubscribe_books(self, ws: ClientConnection) -> None:
        """Ask the venue for a fresh snapshot of each broken book, one symbol at a time."""
        broken, self._broken_books = self._broken_books, []
        for symbol in broken:
            frames = self.adapter.book_resubscribe_frames(symbol)
            if not frames:
                continue  # no per-symbol way on this venue: the book waits for the next snapshot
            log.warning(
                "book stream broke; resubscribing the symbol",
                extra={"connection": self.connection_id, "symbol": symbol},
            )
            BOOK_RESUBSCRIBES.labels(self.exchange.value).inc()
            self.book_resubscribes += 1
            for frame in frames:
                await self._send(ws, frame)

    async def _watchdog(self, ws: ClientConnection) -> None:
        stale_after = self.settings.stale_after_s
        check_every = max(0.05, min(1.0, stale_after / 4))
        while True:
            await asyncio.sleep(check_every)
            silent = time.monotonic() - self._last_frame_at
            if silent >= stale_after:
                self._stale = True
                log.warning(
                    "connection stalled", extra={"connection": self.connection_id, "silent_s": silent}
                )
                await self._status(ConnectorState.STALE, f"no frame for {silent:.2f}s")
                # A stalled peer may not answer a closing handshake either: drop the socket.
                ws.transport.abort()
                return

    async def _ping(self, ws: ClientConnection, frame: str, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            await ws.send(frame)
