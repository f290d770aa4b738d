"""The simulator's servers: per venue a WebSocket endpoint and a REST endpoint, plus one control
endpoint, all on loopback, driven by one ``MarketModel`` clock.

Every frame a session is really sent is counted (``SimulatorStats``), so a test can check that a
consumer received exactly what the venues sent. Frames dropped on purpose (a stalled session, a
connection being closed) are counted apart and never as sent.
"""

import asyncio
import contextlib
import functools
import itertools
import logging
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

import orjson
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from schemas.common import ExchangeId
from services.ingest.connector.connector import ConnectorOptions, instruments_of
from services.ingest.venue import Channel
from services.instruments.catalog import load_snapshot
from services.simulator.dialect import Dialect, Endpoints, HttpReply, HttpRequest, OutFrame, Session
from services.simulator.history import HistoryModel, VenueHistoryEndpoints
from services.simulator.http import HttpServer
from services.simulator.model import (
    TRANSPORT_FAULTS,
    BookChange,
    Fault,
    FaultKind,
    Grid,
    MarketModel,
    ModelConfig,
    ModelEvent,
    TransportFault,
)
from services.venues import adapter_for, dialect_for, registered_venues

log = logging.getLogger(__name__)

DEFAULT_SYMBOLS = ("BTC-USDT-PERP", "ETH-USDT-PERP")


@dataclass(frozen=True)
class SimulatorConfig:
    venues: tuple[ExchangeId, ...] = ()
    """Empty: every venue that has a dialect."""
    symbols: tuple[str, ...] = DEFAULT_SYMBOLS
    """Canonical symbols; a venue without one lists its perpetual on the same base (``grids_for``)."""
    seed: int = 0
    host: str = "127.0.0.1"
    ports: Mapping[ExchangeId, tuple[int, int]] = field(default_factory=dict)
    """(WebSocket port, REST port) per venue; 0 or absent: chosen by the OS."""
    control_port: int = 0
    model: ModelConfig = field(default_factory=ModelConfig)
    duration_s: float | None = 3600.0
    """The simulator stops by itself after this long (None: only when stopped)."""
    max_queued_frames: int = 100_000
    """Per session; a client further behind is disconnected, as venues drop slow consumers."""
    record_frames: bool = False
    """Keep the text of every sent frame (tests)."""
    protocol_ping_interval_s: float | None = 20.0


@dataclass
class SimulatorStats:
    sent_events: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(venue, channel) -> normalized events really sent, over WebSocket or REST (2xx)."""
    sent_by_symbol: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    frames_sent: Counter[str] = field(default_factory=Counter)
    frames_dropped: Counter[str] = field(default_factory=Counter)
    sessions: Counter[str] = field(default_factory=Counter)
    rest: Counter[tuple[str, int]] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    gaps: Counter[str] = field(default_factory=Counter)
    client_frames: Counter[str] = field(default_factory=Counter)
    """Frames clients sent (subscriptions, pings), per venue."""
    recorded: list[tuple[str, int, str]] = field(default_factory=list)
    rest_log: list[tuple[float, str, str, int]] = field(default_factory=list)
    """(time.monotonic(), venue, path, status) of every REST answer."""

    def count(self, venue: str, carries: tuple[tuple[Channel, int], ...], native_symbol: str | None) -> None:
        for channel, events in carries:
            self.sent_events[(venue, channel.value)] += events
            self.sent_by_symbol[(venue, channel.value, native_symbol or "")] += events

    def as_json(self) -> dict[str, Any]:
        return {
            "sent_events": {f"{v}:{c}": n for (v, c), n in sorted(self.sent_events.items())},
            "frames_sent": dict(self.frames_sent),
            "frames_dropped": dict(self.frames_dropped),
            "sessions": dict(self.sessions),
            "rest": {f"{v}:{s}": n for (v, s), n in sorted(self.rest.items())},
            "faults": dict(self.faults),
            "gaps": dict(self.gaps),
            "client_frames": dict(self.client_frames),
        }


_CLOSE = object()


@dataclass(eq=False)
class _Client:
    state: Session
    ws: ServerConnection
    queue: "asyncio.Queue[Any]" = field(default_factory=asyncio.Queue)
    stalled_until: float = 0.0
    closing: bool = False

    @property
    def stalled(self) -> bool:
        return time.monotonic() < self.stalled_until


@dataclass(eq=False)
class _Venue:
    exchange: ExchangeId
    dialect: Dialect
    ws_path: str
    rest_prefix: str
    ws_port: int = 0
    rest_port: int = 0
    ws_server: Server | None = None
    http: HttpServer | None = None
    clients: dict[int, _Client] = field(default_factory=dict)
    down_until: float = 0.0
    rate_limited_answers: int = 0
    retry_after_s: float = 1.0


def grids_for(venues: list[ExchangeId], symbols: tuple[str, ...]) -> list[Grid]:
    """Each venue's instruments for ``symbols``; where a venue does not list one, its perpetual on
    the same base stands in (BTC-USD-PERP on Deribit or COIN-M, BTC-USDC-PERP on Hyperliquid for
    BTC-USDT-PERP), so one symbol list serves every venue."""
    grids = []
    for venue in venues:
        listed = instruments_of(venue)
        by_symbol = {i.symbol: i for i in listed}
        chosen: list[Grid] = []
        for symbol in symbols:
            instrument = by_symbol.get(symbol)
            if instrument is None:
                base = symbol.split("-", 1)[0]
                instrument = next((i for i in listed if i.base == base), None)
            if instrument is not None and Grid.of(instrument) not in chosen:
                chosen.append(Grid.of(instrument))
        if not chosen:
            raise ValueError(f"{venue.value} lists none of {sorted(symbols)} in its instrument snapshot")
        grids.extend(chosen)
    return grids


class Simulator:
    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        venues = list(self.config.venues or registered_venues())
        self.model = MarketModel(
            grids_for(venues, self.config.symbols), seed=self.config.seed, config=self.config.model
        )
        self.stats = SimulatorStats()
        catalog = load_snapshot()
        self._venues: dict[ExchangeId, _Venue] = {}
        for exchange in venues:
            adapter = adapter_for(exchange, catalog)
            ws = urlsplit(adapter.ws_url)
            self._venues[exchange] = _Venue(
                exchange=exchange,
                dialect=dialect_for(exchange),
                ws_path=(ws.path or "/") + (f"?{ws.query}" if ws.query else ""),
                rest_prefix=urlsplit(adapter.rest_url).path.rstrip("/"),
            )
        self._control = HttpServer(self._on_control, self.config.host, self.config.control_port)
        self._ids = itertools.count(1)
        self._stopping = asyncio.Event()
        self._clock_task: asyncio.Task[None] | None = None
        self._paused = False
        self._started = False
        self._history: HistoryModel | None = None

    # --- addresses ------------------------------------------------------------------------------

    @property
    def venues(self) -> list[ExchangeId]:
        return list(self._venues)

    def endpoints(self, exchange: ExchangeId) -> Endpoints:
        venue = self._venues[exchange]
        host = self.config.host
        return Endpoints(
            ws_url=f"ws://{host}:{venue.ws_port}{venue.ws_path}",
            rest_url=f"http://{host}:{venue.rest_port}{venue.rest_prefix}",
        )

    def dialect(self, exchange: ExchangeId) -> Dialect:
        """The venue's dialect (tests tune its protocol timings, e.g. a server ping interval)."""
        return self._venues[exchange].dialect

    @property
    def control_url(self) -> str:
        return self._control.url

    def connector_options(self, exchange: ExchangeId, **overrides: Any) -> ConnectorOptions:
        """Options that point a real connector at this simulator's venue."""
        endpoints = self.endpoints(exchange)
        return ConnectorOptions(**{"ws_url": endpoints.ws_url, "rest_url": endpoints.rest_url, **overrides})

    def endpoints_json(self) -> dict[str, Any]:
        return {
            "control_url": self.control_url,
            "venues": {
                e.value: {"ws_url": self.endpoints(e).ws_url, "rest_url": self.endpoints(e).rest_url}
                for e in self._venues
            },
            "symbols": list(self.config.symbols),
            "seed": self.config.seed,
        }

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        host = self.config.host
        for exchange, venue in self._venues.items():
            ws_port, rest_port = self.config.ports.get(exchange, (0, 0))
            venue.ws_server = await serve(
                functools.partial(self._on_ws, venue),
                host,
                ws_port,
                process_request=functools.partial(self._admit, venue),
                compression=None,
                ping_interval=self.config.protocol_ping_interval_s,
                max_queue=64,
            )
            venue.ws_port = int(next(iter(venue.ws_server.sockets)).getsockname()[1])
            venue.http = HttpServer(functools.partial(self._on_rest, venue), host, rest_port)
            await venue.http.start()
            venue.rest_port = venue.http.port
        await self._control.start()
        for exchange, venue in self._venues.items():
            venue.dialect.bind(self.model, self.endpoints(exchange))
        self._clock_task = asyncio.create_task(self._clock())
        log.info("simulator listening", extra=self.endpoints_json())

    async def stop(self) -> None:
        self._stopping.set()
        if self._clock_task is not None:
            await asyncio.gather(self._clock_task, return_exceptions=True)
        for venue in self._venues.values():
            if venue.ws_server is not None:
                venue.ws_server.close()
                await venue.ws_server.wait_closed()
            if venue.http is not None:
                await venue.http.stop()
        await self._control.stop()

    async def run(self) -> None:
        """Serve until the configured duration has passed or ``stop()`` is called."""
        await self.start()
        try:
            await self._stopping.wait()
        finally:
            await self.stop()

    async def __aenter__(self) -> "Simulator":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def pause(self) -> None:
        """Freeze the market: no more market frames until ``resume()`` (sessions stay open)."""
        self._paused = True

    def resume(self) -> None:
        self._paused = False

    async def settle(self, seconds: float = 0.3) -> None:
        """Pause, then wait until every session's queue is empty (all counted frames are out)."""
        self.pause()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline or any(
            not c.queue.empty() for v in self._venues.values() for c in v.clients.values()
        ):
            await asyncio.sleep(0.02)
            if time.monotonic() > deadline + 10:
                break

    # --- faults ---------------------------------------------------------------------------------

    def inject(self, fault: Fault) -> None:
        """Market faults apply at the next tick; transport faults on a named venue apply now."""
        if fault.kind in TRANSPORT_FAULTS and fault.venue is not None:
            self._transport_fault(
                TransportFault(
                    fault.kind,
                    fault.venue,
                    fault.duration_s if fault.duration_s is not None else 0.0,
                    fault.magnitude if fault.magnitude is not None else 1.0,
                    fault.count if fault.count is not None else 3,
                )
            )
            return
        self.stats.faults[fault.kind.value] += 1
        self.model.inject(fault)

    def _transport_fault(self, fault: TransportFault) -> None:
        venue = self._venues.get(fault.venue)
        if venue is None:
            return
        self.stats.faults[fault.kind.value] += 1
        log.info("transport fault", extra={"kind": fault.kind.value, "venue": fault.venue.value})
        if fault.kind is FaultKind.DISCONNECT:
            venue.down_until = time.monotonic() + fault.duration_s
            for client in list(venue.clients.values()):
                self._close(client, 1001, "simulated disconnect")
        elif fault.kind is FaultKind.STALL:
            until = time.monotonic() + (fault.duration_s or 5.0)
            for client in venue.clients.values():
                client.stalled_until = until
        elif fault.kind is FaultKind.REST_RATE_LIMIT:
            venue.rate_limited_answers += fault.count
            venue.retry_after_s = fault.magnitude

    def broadcast_raw(self, exchange: ExchangeId, text: str) -> int:
        """Send an arbitrary frame (e.g. a malformed one) to every session of a venue."""
        venue = self._venues[exchange]
        for client in venue.clients.values():
            self._enqueue(venue, client, OutFrame(text))
        return len(venue.clients)

    def _close(self, client: _Client, code: int, reason: str) -> None:
        if not client.closing:
            client.closing = True
            client.queue.put_nowait((_CLOSE, code, reason))

    # --- market clock -----------------------------------------------------------------------------

    async def _clock(self) -> None:
        loop = asyncio.get_running_loop()
        tick = self.config.model.tick_s
        deadline = None if self.config.duration_s is None else loop.time() + self.config.duration_s
        next_at = loop.time()
        try:
            while not self._stopping.is_set():
                if deadline is not None and loop.time() >= deadline:
                    log.info("simulator duration reached")
                    break
                now_ns = time.time_ns()
                if not self._paused:
                    self._dispatch(self.model.step(now_ns))
                self._heartbeats(now_ns)
                next_at += tick
                delay = next_at - loop.time()
                if delay < -1.0:  # far behind (a paused debugger, a slow machine): do not catch up
                    next_at, delay = loop.time(), 0.0
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=max(0.0, delay))
        finally:
            self._stopping.set()

    def _heartbeats(self, now_ns: int) -> None:
        """Frames venues send on their own clock (Engine.IO pings, Deribit heartbeats)."""
        for venue in self._venues.values():
            for client in list(venue.clients.values()):
                if client.closing or client.stalled:
                    continue
                for frame in venue.dialect.heartbeat(client.state, now_ns):
                    self._enqueue(venue, client, frame)

    def _dispatch(self, events: list[ModelEvent]) -> None:
        for event in events:
            if isinstance(event, TransportFault):
                self._transport_fault(event)
                continue
            venue = self._venues.get(event.grid.venue)
            if venue is None:
                continue
            if isinstance(event, BookChange) and event.suppressed:
                self.stats.gaps[venue.exchange.value] += 1
                continue
            if not venue.clients:
                continue
            for frame in venue.dialect.render(event):
                for client in venue.clients.values():
                    if frame.topic in client.state.topics:
                        self._enqueue(venue, client, frame)

    def _enqueue(self, venue: _Venue, client: _Client, frame: OutFrame) -> None:
        if client.closing or client.stalled:
            self.stats.frames_dropped[venue.exchange.value] += 1
            return
        if client.queue.qsize() >= self.config.max_queued_frames:
            self.stats.frames_dropped[venue.exchange.value] += 1
            self._close(client, 1008, "slow consumer")
            return
        if frame.text or frame.close_code is None:
            client.queue.put_nowait(frame)
        if frame.close_code is not None:
            self._close(client, frame.close_code, "protocol error")

    # --- WebSocket ----------------------------------------------------------------------------------

    def _admit(self, venue: _Venue, connection: ServerConnection, request: Request) -> Response | None:
        if time.monotonic() < venue.down_until:
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "simulated outage\n")
        return None

    async def _on_ws(self, venue: _Venue, ws: ServerConnection) -> None:
        client = _Client(Session(next(self._ids), ws.request.path if ws.request else "/"), ws)
        venue.clients[client.state.id] = client
        self.stats.sessions[venue.exchange.value] += 1
        sender = asyncio.create_task(self._send_loop(venue, client))
        try:
            for frame in venue.dialect.open_session(client.state, time.time_ns()):
                self._enqueue(venue, client, frame)
            async for message in ws:
                if client.stalled or client.closing:
                    continue
                text = message if isinstance(message, str) else message.decode("utf-8", "replace")
                self.stats.client_frames[venue.exchange.value] += 1
                for frame in venue.dialect.on_message(client.state, text, time.time_ns()):
                    self._enqueue(venue, client, frame)
        except ConnectionClosed:
            pass
        finally:
            venue.clients.pop(client.state.id, None)
            client.closing = True
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)

    async def _send_loop(self, venue: _Venue, client: _Client) -> None:
        name = venue.exchange.value
        record = self.config.record_frames
        stats = self.stats
        while True:
            item = await client.queue.get()
            if isinstance(item, tuple) and item and item[0] is _CLOSE:
                await client.ws.close(item[1], item[2])
                return
            frame: OutFrame = item
            if client.stalled:
                stats.frames_dropped[name] += 1
                continue
            try:
                await client.ws.send(frame.text)
            except ConnectionClosed:
                return
            stats.frames_sent[name] += 1
            stats.count(name, frame.carries, frame.native_symbol)
            if record:
                stats.recorded.append((name, client.state.id, frame.text))

    # --- REST and control ---------------------------------------------------------------------------

    async def _on_rest(self, venue: _Venue, request: HttpRequest) -> HttpReply:
        name = venue.exchange.value
        if time.monotonic() < venue.down_until:
            reply = HttpReply.json({"error": "simulated outage"}, 503)
        elif venue.rate_limited_answers > 0:
            venue.rate_limited_answers -= 1
            retry = venue.retry_after_s
            reply = HttpReply.json(
                {"code": -1003, "msg": "Too many requests; simulated rate limit."},
                429,
                headers={"Retry-After": f"{retry:g}"},
            )
        else:
            path = request.path
            if venue.rest_prefix and path.startswith(venue.rest_prefix):
                path = path[len(venue.rest_prefix) :]
            routed = HttpRequest(request.method, path, request.query, request.body, request.headers)
            reply = self._history_reply(venue, routed) or venue.dialect.rest(routed, time.time_ns())
        self.stats.rest[(name, reply.status)] += 1
        self.stats.rest_log.append((time.monotonic(), name, request.path, reply.status))
        if 200 <= reply.status < 300:
            self.stats.count(name, reply.carries, reply.native_symbol)
        return reply

    def _history_reply(self, venue: _Venue, request: HttpRequest) -> HttpReply | None:
        """Klines, funding and open-interest history (services/simulator/history.py), else None."""
        if self._history is None:  # anchored on the model's prices when history is first asked for
            self._history = HistoryModel(self.model, self.config.seed, time.time_ns() // 1_000_000)
        return VenueHistoryEndpoints(venue.exchange, self._history).reply(request, time.time_ns())

    async def _on_control(self, request: HttpRequest) -> HttpReply:
        if request.path == "/health":
            return HttpReply.json({"ok": True})
        if request.path == "/endpoints":
            return HttpReply.json(self.endpoints_json())
        if request.path == "/stats":
            return HttpReply.json(self.stats.as_json())
        if request.method != "POST":
            return HttpReply.json({"error": "use POST for /faults, /frames, /pause and /resume"}, 405)
        if request.path == "/pause":
            self.pause()
            return HttpReply.json({"paused": True})
        if request.path == "/resume":
            self.resume()
            return HttpReply.json({"paused": False})
        if request.path == "/faults":
            try:
                fault = fault_from_json(
                    {**request.query, **(orjson.loads(request.body) if request.body else {})}
                )
            except (ValueError, KeyError, TypeError, orjson.JSONDecodeError) as exc:
                return HttpReply.json({"error": str(exc), "kinds": [k.value for k in FaultKind]}, 400)
            self.inject(fault)
            return HttpReply.json({"injected": fault.kind.value}, 202)
        if request.path == "/frames":
            return self._raw_frames(request)
        return HttpReply.json({"error": f"unknown path {request.path}"}, 404)

    def _raw_frames(self, request: HttpRequest) -> HttpReply:
        """``POST /frames {"venue", "frames": [text, ...]}``: send frames as they are (fuzzed,
        malformed, truncated) to every session of a venue, in order, between its own frames."""
        try:
            document = orjson.loads(request.body or b"{}")
            exchange = ExchangeId(str(document["venue"]))
            frames = document["frames"]
            if not isinstance(frames, list) or not all(isinstance(f, str) for f in frames):
                raise TypeError("frames must be a list of strings")
        except (ValueError, KeyError, TypeError, orjson.JSONDecodeError) as exc:
            return HttpReply.json({"error": str(exc)}, 400)
        if exchange not in self._venues:
            return HttpReply.json({"error": f"{exchange.value} is not simulated here"}, 404)
        sessions = 0
        for frame in frames:
            sessions = self.broadcast_raw(exchange, frame)
        return HttpReply.json({"frames": len(frames), "sessions": sessions}, 202)


def fault_from_json(document: Mapping[str, Any]) -> Fault:
    """A fault from ``{"kind", "venue"?, "symbol"?, "magnitude"?, "duration_s"?, "count"?}``."""
    kind = FaultKind(str(document["kind"]))
    venue = ExchangeId(str(document["venue"])) if document.get("venue") else None

    def number(name: str) -> float | None:
        value = document.get(name)
        return None if value in (None, "") else float(value)

    count = document.get("count")
    return Fault(
        kind=kind,
        venue=venue,
        symbol=str(document["symbol"]) if document.get("symbol") else None,
        magnitude=number("magnitude"),
        duration_s=number("duration_s"),
        count=None if count in (None, "") else int(count),
    )
