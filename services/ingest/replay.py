"""``perpwatch replay``: publish a recorded capture through the live normalizers into Kafka.

Frames go through exactly the parsing path the live connectors use (``connector.parse``); a
frame the parser rejects goes to the dead-letter topic with its reason. ``speed`` paces by the
recorded receive times (10 = ten times faster than recorded); ``None`` publishes as fast as the
broker takes it. Captures in the hftbacktest, cryptofeed ``sample_data`` and ``perpwatch
capture`` formats are recognised by ``captures.detect_format``.
"""

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from schemas.common import ExchangeId, InstrumentEvent, InstrumentProvenance
from services.ingest.captures import (
    FORMATS,
    CapturedFrame,
    capture_header,
    cryptofeed_exchange,
    detect_format,
    native_symbol_of,
    read_capture,
    read_cryptofeed,
    read_hftbacktest,
    read_raw,
    snapshot_matcher,
)
from services.ingest.connector.parse import (
    normalize_raw,
    normalize_rest_open_interest,
    normalize_rest_snapshot,
)
from services.ingest.instrument_import import catalog_with_files
from services.ingest.normalizer import FrameRejected
from services.ingest.topics import topic_for
from services.ingest.venue import VenueAdapter
from services.instruments.catalog import InstrumentCatalog, load_snapshot
from services.runtime.dead_letter import dead_letter
from services.runtime.publisher import Publisher
from services.runtime.settings import Settings
from services.runtime.topics import ensure_topics
from services.venues import adapter_for

log = logging.getLogger(__name__)

SERVICE = "replay"

# hftbacktest's collectors file captures by market: the folder says which venue it was.
_HFTBACKTEST_FOLDERS = {
    "usdm": ExchangeId.BINANCE_USDM,
    "cm": ExchangeId.BINANCE_COINM,
    "hyperliquid": ExchangeId.HYPERLIQUID,
}


@dataclass
class ReplayStats:
    frames: int = 0
    events: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    exchange: str = ""
    format: str = ""
    tally: "FrameTally" = field(default_factory=lambda: FrameTally())
    """Where each frame ended; ``tally.summary()`` is the line ``perpwatch replay`` ends with."""


@dataclass
class FrameTally:
    """Where every frame of a capture ended: normalized (one event or more), control, or rejected.

    ``frames == normalized + control + sum(rejected.values())`` always holds: nothing disappears
    silently. A frame the venue parser answers with no event (an ack it recognises) counts as control.
    """

    frames: int = 0
    normalized: int = 0
    control: int = 0
    events: int = 0
    derived_events: int = 0
    """Events whose instrument was derived from the venue's naming rules (symbol not listed)."""
    rejected: Counter[str] = field(default_factory=Counter)

    def count(self, events: list[InstrumentEvent] | None) -> None:
        self.frames += 1
        if not events:
            self.control += 1
            return
        self.normalized += 1
        self.events += len(events)
        self.derived_events += sum(e.instrument_provenance is InstrumentProvenance.DERIVED for e in events)

    def reject(self, error_type: str) -> None:
        self.frames += 1
        self.rejected[error_type] += 1

    def summary(self) -> dict[str, object]:
        """The one summary line ``normalize``, ``replay`` and ``book check`` end with (as JSON)."""
        return {
            "frames": self.frames,
            "events": self.events,
            "normalized_frames": self.normalized,
            "control": self.control,
            "rejected": sum(self.rejected.values()),
            "rejected_by_reason": dict(sorted(self.rejected.items())),
            "derived_instrument_events": self.derived_events,
        }


def tally_capture(capture: "OpenedCapture") -> FrameTally:
    """Normalizes every frame of an opened capture (no Kafka) and says where each one ended."""
    tally = FrameTally()
    for frame in capture.frames:
        try:
            events = normalize_frame(capture.adapter, frame)
        except FrameRejected as exc:
            tally.reject(exc.error_type)
            continue
        tally.count(events)
    return tally


@dataclass
class OpenedCapture:
    path: Path
    format: str
    exchange: ExchangeId
    adapter: VenueAdapter
    frames: Iterator[CapturedFrame]
    catalog: InstrumentCatalog | None = None
    """The instruments ``adapter`` reads with (snapshot, cache and ``--instruments`` files)."""


def _declared_exchange(path: Path, fmt: str) -> ExchangeId | None:
    """The venue a file says it is from (capture header, cryptofeed file name)."""
    if fmt == "capture":
        header = capture_header(path) or {}
        return ExchangeId(header["exchange"]) if header.get("exchange") else None
    if fmt == "cryptofeed":
        return cryptofeed_exchange(path)
    return None


def open_capture(
    path: Path,
    *,
    exchange: ExchangeId | None = None,
    fmt: str = "auto",
    instrument_cache: Path | None = None,
    instruments: Sequence[Path] = (),
) -> OpenedCapture:
    """A capture's frames and the venue adapter that parses them.

    A venue the file declares itself (a ``perpwatch capture`` header, a cryptofeed file name)
    wins over ``exchange``; otherwise ``exchange``, else a guess from hftbacktest's folder
    name, else Binance USD-M. Instruments come from the committed snapshot, overlaid with
    ``instrument_cache`` (``PERPWATCH_INSTRUMENT_CACHE_DIR``, where ``perpwatch instruments
    import`` writes) and then with ``instruments``: the venue's saved instruments responses
    (``--instruments FILE``). A file without instruments of the venue raises ``ValueError``.
    """
    if not path.exists():
        raise FileNotFoundError(f"capture not found: {path}")
    fmt = detect_format(path) if fmt == "auto" else fmt
    if fmt not in FORMATS:
        raise ValueError(f"unknown capture format {fmt!r}; known: auto, {', '.join(FORMATS)}")
    declared = _declared_exchange(path, fmt)
    if declared is not None and exchange is not None and declared != exchange:
        log.warning(
            "capture declares another venue; using the capture's",
            extra={"declared": declared.value, "given": exchange.value},
        )
    guessed = _HFTBACKTEST_FOLDERS.get(path.parent.name) if fmt == "hftbacktest" else None
    venue = declared or exchange or guessed or ExchangeId.BINANCE_USDM
    catalog = load_snapshot(instrument_cache)
    adapter = adapter_for(venue, catalog)
    if instruments:
        # The adapter parses the venue's own instruments response; its normalizer then needs the result.
        catalog = catalog_with_files(catalog, adapter, list(instruments))
        adapter = adapter_for(venue, catalog)
    frames: Iterator[CapturedFrame]
    if fmt == "hftbacktest":
        symbol = native_symbol_of(path)
        frames = (
            CapturedFrame(f.receive_ts, f.raw, True, symbol) if f.is_rest_snapshot else f
            for f in read_hftbacktest(path)
        )
    elif fmt == "cryptofeed":
        frames = read_cryptofeed(path, snapshot_matcher(adapter.book_snapshot_request))
    elif fmt == "capture":
        frames = read_capture(path)
    else:
        frames = read_raw(path)
    return OpenedCapture(path, fmt, venue, adapter, frames, catalog)


def normalize_frame(adapter: VenueAdapter, frame: CapturedFrame) -> list[InstrumentEvent] | None:
    """Events of one recorded frame (None: a control frame); raises ``FrameRejected``."""
    if frame.is_rest_snapshot:
        if frame.native_symbol is None:
            raise FrameRejected("unknown_instrument", "REST snapshot in a capture without a symbol")
        return normalize_rest_snapshot(adapter, frame.raw, frame.native_symbol, frame.receive_ts)
    if frame.rest_purpose == "open_interest":
        return normalize_rest_open_interest(adapter, frame.raw, frame.receive_ts)
    return normalize_raw(adapter, frame.raw, frame.receive_ts)


async def replay_capture(
    path: Path,
    settings: Settings,
    *,
    exchange: ExchangeId | None = None,
    speed: float | None = None,
    on_frame: Callable[[ReplayStats], None] | None = None,
    fmt: str = "auto",
    instrument_cache: Path | None = None,
    instruments: Sequence[Path] = (),
) -> ReplayStats:
    capture = open_capture(
        path, exchange=exchange, fmt=fmt, instrument_cache=instrument_cache, instruments=instruments
    )
    adapter = capture.adapter
    source = f"replay:{capture.exchange.value}"
    await ensure_topics(settings)
    publisher = Publisher(settings, SERVICE)
    await publisher.start()
    stats = ReplayStats(exchange=capture.exchange.value, format=capture.format)
    started = time.monotonic()
    first_recorded: int | None = None
    try:
        for frame in capture.frames:
            if speed is not None and frame.receive_ts:
                first_recorded = first_recorded or frame.receive_ts
                due = (frame.receive_ts - first_recorded) / 1e9 / speed
                lag = due - (time.monotonic() - started)
                if lag > 0:
                    await asyncio.sleep(lag)
            stats.frames += 1
            try:
                events = normalize_frame(adapter, frame)
            except FrameRejected as exc:
                stats.rejected[exc.error_type] += 1
                stats.tally.reject(exc.error_type)
                await publisher.send_dead_letter(
                    dead_letter(
                        service=SERVICE,
                        source=source,
                        payload=frame.raw,
                        error_type=exc.error_type,
                        error=exc.reason,
                    )
                )
                continue
            stats.tally.count(events)
            for event in events or ():
                topic = topic_for(event)
                await publisher.send(topic, event)
                stats.events[topic] += 1
            if on_frame is not None:
                on_frame(stats)
        await publisher.confirm()
    finally:
        await publisher.stop()
        stats.seconds = time.monotonic() - started
    return stats
