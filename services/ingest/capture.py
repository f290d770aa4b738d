"""``perpwatch capture``: record a venue's raw traffic, with receive times, to compressed JSONL.

The capture format (gzip, one JSON object per line; read back by ``captures.read_capture``):

- line 1, the header: ``{"format": "perpwatch-capture", "version": 1, "exchange", "symbols",
  "channels", "started_ns", "ws_url", "rest_url"}``;
- then, in the order they happened, records with ``ts`` (receive time, ns) and ``kind``:
  ``connect`` (``conn``, ``url``), ``sent`` (``conn``, ``frame``: a subscription we sent),
  ``ws`` (``conn``, ``frame``: a received text frame, verbatim; binary frames as ``frame_b64``),
  ``rest`` (``purpose``: ``book_snapshot`` or ``open_interest``, ``path``, ``symbol``,
  ``frame``: the REST answer's body) and ``disconnect``
  (``conn``, ``detail``).

Frames are kept as the venue sent them (a JSON string holding the text), so a capture replays
through exactly the parsers the live connector uses.
"""

import asyncio
import base64
import contextlib
import gzip
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from schemas.common import ExchangeId
from services.ingest.connector import ConnectorOptions, MemorySink, VenueConnector, resolve_symbols
from services.ingest.venue import Channel
from services.instruments.catalog import load_snapshot
from services.venues import adapter_for

CAPTURE_FORMAT = "perpwatch-capture"
CAPTURE_VERSION = 1


class CaptureWriter:
    """A ``FrameTap`` that appends every record to a gzip JSONL file."""

    def __init__(self, path: Path, header: dict[str, Any]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # Open for the writer's whole life; close() ends it.
        self._file: gzip.GzipFile = gzip.open(path, "wb", compresslevel=6)  # noqa: SIM115
        self.records = 0
        self.frames = 0
        self._write({"format": CAPTURE_FORMAT, "version": CAPTURE_VERSION, **header})

    def _write(self, record: dict[str, Any]) -> None:
        self._file.write(orjson.dumps(record) + b"\n")
        self.records += 1

    def connected(self, connection_id: str, url: str, ts: int) -> None:
        self._write({"ts": ts, "kind": "connect", "conn": connection_id, "url": url})

    def sent(self, connection_id: str, frame: str, ts: int) -> None:
        self._write({"ts": ts, "kind": "sent", "conn": connection_id, "frame": frame})

    def received(self, connection_id: str, raw: bytes | str, ts: int) -> None:
        self.frames += 1
        if isinstance(raw, str):
            self._write({"ts": ts, "kind": "ws", "conn": connection_id, "frame": raw})
            return
        try:
            self._write({"ts": ts, "kind": "ws", "conn": connection_id, "frame": raw.decode("utf-8")})
        except UnicodeDecodeError:
            self._write(
                {"ts": ts, "kind": "ws", "conn": connection_id, "frame_b64": base64.b64encode(raw).decode()}
            )

    def rest(self, path: str, native_symbol: str, body: bytes, ts: int, purpose: str) -> None:
        self.frames += 1
        self._write(
            {
                "ts": ts,
                "kind": "rest",
                "purpose": purpose,
                "path": path,
                "symbol": native_symbol,
                "frame": body.decode("utf-8", "replace"),
            }
        )

    def disconnected(self, connection_id: str, detail: str, ts: int) -> None:
        self._write({"ts": ts, "kind": "disconnect", "conn": connection_id, "detail": detail})

    def close(self) -> None:
        self._file.close()


@dataclass
class CaptureStats:
    path: Path
    frames: int = 0
    events: int = 0
    rejected: int = 0
    seconds: float = 0.0
    statuses: list[str] = field(default_factory=list)


async def capture_feed(
    exchange: ExchangeId,
    symbols: list[str],
    out: Path,
    *,
    channels: frozenset[Channel] = frozenset(Channel),
    duration_s: float = 60.0,
    max_frames: int | None = None,
    options: ConnectorOptions | None = None,
    stop: asyncio.Event | None = None,
) -> CaptureStats:
    """Record until ``duration_s`` passed, ``max_frames`` were received, or ``stop`` is set.

    The frames also go through the venue's parser (counted, not kept), so a capture says at
    once whether its venue's normalizer understands it.
    """
    adapter = adapter_for(exchange, load_snapshot())
    natives = [i.native_symbol for i in resolve_symbols(exchange, symbols)]
    options = options or ConnectorOptions()
    header = {
        "exchange": exchange.value,
        "symbols": natives,
        "channels": sorted(c.value for c in channels & adapter.capabilities),
        "started_ns": time.time_ns(),
        "ws_url": options.ws_url or adapter.ws_url,
        "rest_url": options.rest_url or adapter.rest_url,
    }
    writer = CaptureWriter(out, header)
    sink = MemorySink(keep_events=False)
    connector = VenueConnector(adapter, natives, channels, sink, options, tap=writer)
    stop = stop or asyncio.Event()
    started = time.monotonic()
    running = asyncio.create_task(connector.run())
    try:
        deadline = started + duration_s
        while not stop.is_set() and not running.done() and time.monotonic() < deadline:
            if max_frames is not None and writer.frames >= max_frames:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=min(0.2, max(0.0, deadline - time.monotonic())))
    finally:
        await connector.stop()
        await asyncio.gather(running, return_exceptions=True)
        writer.close()
    return CaptureStats(
        path=out,
        frames=writer.frames,
        events=sink.event_count,
        rejected=len(sink.rejected),
        seconds=time.monotonic() - started,
        statuses=[f"{s.connection_id} {s.state.value}: {s.detail}" for s in sink.statuses],
    )
