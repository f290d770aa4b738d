"""``perpwatch normalize``: what every frame of a capture becomes, as JSONL."""

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from schemas.common import ExchangeId
from services.ingest.normalizer import FrameRejected
from services.ingest.replay import FrameTally, normalize_frame, open_capture
from services.ingest.topics import topic_for

FORMATS = ("auto", "raw", "hftbacktest", "cryptofeed", "capture")


def normalize_file(
    path: Path,
    exchange: ExchangeId | None,
    fmt: str,
    out: BinaryIO,
    *,
    instrument_cache: Path | None = None,
    instruments: Sequence[Path] = (),
    tally: FrameTally | None = None,
) -> int:
    """Writes one JSON line per event (``{"topic", "key", "event"}``); returns rejected frames.

    Instruments: the committed snapshot, overlaid with ``instrument_cache`` and then with
    ``instruments`` (saved instruments responses, ``--instruments FILE``). ``tally``, when
    given, is told where every frame ended (its ``summary()`` is the command's last line).

    ``fmt``: raw (one JSON frame per line), hftbacktest, cryptofeed (``sample_data``: received
    frames, plus REST snapshots from the sibling ``.http.`` files), capture (``perpwatch
    capture``), or auto. A capture that names its venue (capture header, cryptofeed file name)
    is parsed as that venue.
    """
    if fmt not in FORMATS:
        raise SystemExit(f"unknown format {fmt!r}: use {', '.join(FORMATS)}")
    try:
        capture = open_capture(
            path, exchange=exchange, fmt=fmt, instrument_cache=instrument_cache, instruments=instruments
        )
    except (FileNotFoundError, NotImplementedError, ValueError) as exc:
        raise SystemExit(str(exc)) from None
    rejected = 0
    for frame in capture.frames:
        try:
            events = normalize_frame(capture.adapter, frame)
        except FrameRejected as exc:
            rejected += 1
            if tally is not None:
                tally.reject(exc.error_type)
            print(f"rejected ({exc.error_type}): {exc.reason}: {frame.raw[:200]!r}", file=sys.stderr)
            continue
        if tally is not None:
            tally.count(events)
        for event in events or ():
            line = b'{"topic":"%s","key":"%s","event":%s}\n' % (
                topic_for(event).encode(),
                event.key.encode(),
                event.model_dump_json().encode(),
            )
            out.write(line)
    out.flush()
    return rejected
