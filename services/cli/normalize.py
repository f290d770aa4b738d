"""``perpwatch normalize``: what every frame of a capture becomes, as JSONL."""

import sys
from pathlib import Path
from typing import BinaryIO

import orjson

from schemas.common import ExchangeId
from services.ingest.captures import CapturedFrame, native_symbol_of, read_hftbacktest
from services.ingest.instruments import load_snapshot
from services.ingest.normalizer import FrameRejected
from services.ingest.topics import topic_for
from services.ingest.venues import normalizer_for


def _raw_frames(path: Path) -> list[CapturedFrame]:
    return [
        CapturedFrame(0, line.strip(), line.startswith(b'{"lastUpdateId"'))
        for line in path.read_bytes().splitlines()
        if line.strip()
    ]


def normalize_file(path: Path, exchange: ExchangeId, fmt: str, out: BinaryIO) -> int:
    """Writes one JSON line per event (``{"topic", "key", "event"}``); returns rejected frames."""
    normalizer = normalizer_for(exchange, load_snapshot())
    if fmt == "hftbacktest":
        frames = read_hftbacktest(path)
        symbol = native_symbol_of(path)
    elif fmt == "raw":
        frames = iter(_raw_frames(path))
        symbol = None
    else:
        raise SystemExit(f"unknown format {fmt!r}: use raw or hftbacktest")
    rejected = 0
    for frame in frames:
        try:
            payload = frame.decode()
            if frame.is_rest_snapshot:
                if symbol is None:
                    raise FrameRejected("unknown_instrument", "REST snapshot without a known symbol")
                events = normalizer.normalize_rest_snapshot(payload, symbol, frame.receive_ts)
            else:
                events = normalizer.normalize(payload, frame.receive_ts)
        except (FrameRejected, orjson.JSONDecodeError) as exc:
            rejected += 1
            print(f"rejected: {exc}: {frame.raw[:200]!r}", file=sys.stderr)
            continue
        for event in events:
            line = b'{"topic":"%s","key":"%s","event":%s}\n' % (
                topic_for(event).encode(),
                event.key.encode(),
                event.model_dump_json().encode(),
            )
            out.write(line)
    out.flush()
    return rejected
