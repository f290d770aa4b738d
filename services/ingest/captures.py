"""Readers for recorded venue traffic: one ``CapturedFrame`` per received message.

Formats (``detect_format`` tells them apart):
- ``hftbacktest``: gzip lines ``<receive ns> <raw JSON>`` (nkaz001/hftbacktest collectors). A
  Binance REST depth snapshot appears inline as a line starting ``{"lastUpdateId"``.
- ``cryptofeed``: bmoscon/cryptofeed ``sample_data`` files ``NAME.ws.C.N`` with lines
  ``ts: json`` (received), ``URL <- ts: json`` (sent) and ``URL <-> ts`` (connect), ``ts`` in
  float seconds; REST responses sit beside them in ``NAME.http.C.N`` as ``URL -> ts: body``.
- ``capture``: what ``perpwatch capture`` writes (see ``services/ingest/capture.py``).
- ``raw``: one JSON frame per line, no times.
"""

import base64
import gzip
import heapq
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from schemas.common import ExchangeId


@dataclass(frozen=True, slots=True)
class CapturedFrame:
    receive_ts: int
    raw: bytes
    is_rest_snapshot: bool = False
    native_symbol: str | None = None
    """The instrument of a REST answer (stream frames name their own)."""
    rest_purpose: str | None = None
    """For REST answers other than book snapshots: ``open_interest`` (a polled REST value)."""

    def decode(self) -> Any:
        return orjson.loads(self.raw)


SnapshotSymbol = Callable[[str], str | None]
"""Given a REST URL, the native symbol when it is a book snapshot request, else None."""


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


# --- cryptofeed sample_data -------------------------------------------------------------------

_CRYPTOFEED_NAME = re.compile(r"^(?P<name>[A-Z0-9_]+)\.(?P<kind>ws|http)\.\d+\.\d+$")
CRYPTOFEED_EXCHANGES: dict[str, ExchangeId] = {
    "BINANCE_FUTURES": ExchangeId.BINANCE_USDM,
    "BINANCE_DELIVERY": ExchangeId.BINANCE_COINM,
    "BYBIT": ExchangeId.BYBIT,
    "OKX": ExchangeId.OKX,
    "KUCOIN_FUTURES": ExchangeId.KUCOIN_FUTURES,
    "DERIBIT": ExchangeId.DERIBIT,
    "BITMEX": ExchangeId.BITMEX,
    "GATEIO_FUTURES": ExchangeId.GATEIO,
    "BITGET": ExchangeId.BITGET,
    "PHEMEX": ExchangeId.PHEMEX,
    "HYPERLIQUID": ExchangeId.HYPERLIQUID,
}
"""cryptofeed feed names whose sample data is about one of our venues (KUCOIN is spot: not ours)."""


def _ns(seconds: bytes) -> int:
    # Decimal keeps the microseconds of a float-seconds stamp exact.
    return int(Decimal(seconds.decode()) * 1_000_000_000)


def cryptofeed_name(path: Path) -> str | None:
    match = _CRYPTOFEED_NAME.match(path.name)
    return match.group("name") if match else None


def cryptofeed_exchange(path: Path) -> ExchangeId | None:
    name = cryptofeed_name(path)
    return CRYPTOFEED_EXCHANGES.get(name) if name else None


def _read_cryptofeed_ws(path: Path) -> Iterator[CapturedFrame]:
    with _open(path) as lines:
        for line in lines:
            line = line.rstrip(b"\r\n")
            if not line or not line[:1].isdigit():
                continue  # connect markers and sent frames start with the URL
            stamp, sep, raw = line.partition(b": ")
            if sep:
                yield CapturedFrame(_ns(stamp), raw)


def read_cryptofeed_http(path: Path, snapshot_symbol: SnapshotSymbol) -> Iterator[CapturedFrame]:
    """The book snapshots among a ``NAME.http.C.N`` file's REST responses."""
    with _open(path) as lines:
        for line in lines:
            url, sep, rest = line.rstrip(b"\r\n").partition(b" -> ")
            stamp, sep2, body = rest.partition(b": ")
            if not (sep and sep2):
                continue
            symbol = snapshot_symbol(url.decode())
            if symbol is not None:
                yield CapturedFrame(_ns(stamp), body, True, symbol)


def read_cryptofeed(path: Path, snapshot_symbol: SnapshotSymbol | None = None) -> Iterator[CapturedFrame]:
    """Received frames of one WebSocket capture, merged by time with the REST book snapshots of
    its sibling ``NAME.http.*`` files when ``snapshot_symbol`` recognises them."""
    streams: list[Iterator[CapturedFrame]] = [_read_cryptofeed_ws(path)]
    name = cryptofeed_name(path)
    if snapshot_symbol is not None and name is not None:
        for sibling in sorted(path.parent.glob(f"{name}.http.*")):
            streams.append(read_cryptofeed_http(sibling, snapshot_symbol))
    if len(streams) == 1:
        yield from streams[0]
    else:
        yield from heapq.merge(*streams, key=lambda frame: frame.receive_ts)


def snapshot_matcher(request_for: Callable[[str], Any]) -> SnapshotSymbol:
    """A ``SnapshotSymbol`` from a venue's ``book_snapshot_request(native_symbol)``: a URL is a
    snapshot of symbol S when the venue would request S at that path with S in a parameter."""

    def symbol_of(url: str) -> str | None:
        parts = urlsplit(url)
        for name, value in parse_qsl(parts.query):
            try:
                request = request_for(value)
            except Exception:  # a venue may reject odd symbols; then it is not a snapshot
                continue
            if (
                request is not None
                and parts.path.endswith(request.path)
                and request.params.get(name) == value
            ):
                return value
        return None

    return symbol_of


# --- perpwatch capture ----------------------------------------------------------------------------


def capture_header(path: Path) -> dict[str, Any] | None:
    """The header of a ``perpwatch capture`` file, or None when the file is not one."""
    try:
        with _open(path) as lines:
            first = lines.readline()
        header = orjson.loads(first)
    except (OSError, EOFError, orjson.JSONDecodeError, gzip.BadGzipFile):
        return None
    return header if isinstance(header, dict) and header.get("format") == "perpwatch-capture" else None


def read_capture(path: Path) -> Iterator[CapturedFrame]:
    """Received WebSocket frames and REST answers (snapshots, polls) of a ``perpwatch capture`` file."""
    with _open(path) as lines:
        next(lines, None)  # the header
        for line in lines:
            record = orjson.loads(line)
            kind = record.get("kind")
            if kind == "ws":
                frame = record.get("frame")
                raw = frame.encode() if isinstance(frame, str) else base64.b64decode(record["frame_b64"])
                yield CapturedFrame(int(record["ts"]), raw)
            elif kind == "rest":
                purpose = record.get("purpose", "book_snapshot")
                snapshot = purpose == "book_snapshot"
                yield CapturedFrame(
                    int(record["ts"]),
                    record["frame"].encode(),
                    snapshot,
                    record.get("symbol"),
                    None if snapshot else purpose,
                )


# --- detection -------------------------------------------------------------------------------------

FORMATS = ("hftbacktest", "cryptofeed", "capture", "raw")


def detect_format(path: Path) -> str:
    if capture_header(path) is not None:
        return "capture"
    if cryptofeed_name(path) is not None:
        return "cryptofeed"
    with _open(path) as lines:
        first = b""
        for line in lines:
            if line.strip():
                first = line.strip()
                break
    head, _, rest = first.partition(b" ")
    if head.isdigit() and rest.startswith((b"{", b"[")):
        return "hftbacktest"
    if first.startswith((b"wss://", b"ws://")) or re.match(rb"^\d+\.\d+: ", first):
        return "cryptofeed"
    return "raw"


def read_raw(path: Path) -> Iterator[CapturedFrame]:
    with _open(path) as lines:
        for line in lines:
            line = line.strip()
            if line:
                yield CapturedFrame(0, line, line.startswith(b'{"lastUpdateId"'))
