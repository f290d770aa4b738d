"""Readers for recorded venue traffic: one ``CapturedFrame`` per received message.

Formats:
- ``hftbacktest``: gzip lines ``<receive ns> <raw JSON>`` (nkaz001/hftbacktest collectors). A
  Binance REST depth snapshot appears inline as a line starting ``{"lastUpdateId"``.
"""

import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class CapturedFrame:
    receive_ts: int
    raw: bytes
    is_rest_snapshot: bool = False

    def decode(self) -> Any:
        return orjson.loads(self.raw)


def _open(path: Path) -> Any:
    return gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")


def read_hftbacktest(path: Path) -> Iterator[CapturedFrame]:
    with _open(path) as lines:
        for line in lines:
            line = line.strip()
            if not line:
                continue
            stamp, _, raw = line.partition(b" ")
            yield CapturedFrame(int(stamp), raw, raw.startswith(b'{"lastUpdateId"'))


def count_lines(path: Path) -> int:
    with _open(path) as lines:
        return sum(1 for _ in lines)


def native_symbol_of(path: Path) -> str | None:
    """The instrument a single-symbol capture is about, from its first stream frame."""
    for frame in read_hftbacktest(path):
        if frame.is_rest_snapshot:
            continue
        data = frame.decode()
        inner = data.get("data", data) if isinstance(data, dict) else None
        if isinstance(inner, dict) and isinstance(inner.get("s"), str):
            return str(inner["s"])
    return None
