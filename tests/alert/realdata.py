"""Normalized events of the real Binance USD-M capture, for the alert tests and benchmark."""

import itertools
from pathlib import Path
from typing import Any

from services.ingest.normalizer import FrameRejected
from services.ingest.replay import normalize_frame, open_capture
from services.ingest.topics import topic_for

BINANCE_CAPTURE = Path("hftbacktest") / "usdm" / "btcusdt_20240808.gz"


def binance_events(shared_data: Path, *, frames: int | None = None) -> list[tuple[str, Any]]:
    """(topic, event) for the first ``frames`` frames of the capture (all by default)."""
    capture = open_capture(shared_data / BINANCE_CAPTURE)
    events: list[tuple[str, Any]] = []
    for frame in itertools.islice(capture.frames, frames):
        try:
            normalized = normalize_frame(capture.adapter, frame)
        except FrameRejected:
            continue
        events.extend((topic_for(event), event) for event in normalized or ())
    return events
