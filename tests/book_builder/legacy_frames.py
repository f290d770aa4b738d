"""Book events from the 2021-2023 cryptofeed samples, whose formats today's parsers do not read.

The venue adapters in ``services/venues/<exchange>/`` parse the venues' *current* formats. The
cryptofeed samples (../shared/data/cryptofeed) are older: OKX books without ``seqId``, Bitget v1,
KuCoin spot ``l2update``, Deribit option books. They are still the only real recordings with
OKX/Bitget checksums and KuCoin/Deribit sequence chains, so this test-only reader maps their book
frames straight to ``BookSnapshot``/``BookDelta`` in the venue's own units (no instrument
conversion: checksums are computed over exactly these numbers) to exercise the book core on them.
"""

import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from schemas.common import ExchangeId
from schemas.market_data import BookDelta, BookSequence, BookSnapshot

BookEvent = BookSnapshot | BookDelta


def _frames(path: Path) -> Iterator[tuple[int, Any]]:
    with path.open("rb") as lines:
        for line in lines:
            if line.startswith((b"wss://", b"https://")):
                continue
            stamp, sep, raw = line.partition(b": ")
            if sep:
                yield int(float(stamp) * 1e9), orjson.loads(raw)


def _rest(path: Path) -> Iterator[tuple[int, str, Any]]:
    with path.open("rb") as lines:
        for line in lines:
            url, _, rest = line.partition(b" -> ")
            stamp, _, body = rest.partition(b": ")
            symbol = re.search(rb"symbol=([^&\s]+)", url)
            if symbol:
                yield int(float(stamp) * 1e9), symbol.group(1).decode(), orjson.loads(body)


def _symbol(native: str) -> str:
    """A canonical-looking symbol for any native one (the core only needs it as a key)."""
    letters = re.sub(r"[^A-Z0-9]", "", native.upper()) or "X"
    return f"{letters}-TEST-PERP"


def _ids(exchange: ExchangeId, native: str, ts: int) -> dict[str, Any]:
    return {
        "exchange": exchange,
        "symbol": _symbol(native),
        "native_symbol": native,
        "exchange_ts": ts,
        "receive_ts": ts,
    }


def _levels(rows: list[list[Any]]) -> list[tuple[Decimal, Decimal]]:
    return [(Decimal(str(row[0])), Decimal(str(row[1]))) for row in rows]


def okx_books(path: Path) -> Iterator[BookEvent]:
    """OKX ``books`` of 2022: no sequence ids yet, a CRC32 ``checksum`` on every message."""
    counters: dict[str, int] = {}
    for _ts, frame in _frames(path):
        if not (
            isinstance(frame, dict) and frame.get("arg", {}).get("channel") == "books" and "data" in frame
        ):
            continue
        native = frame["arg"]["instId"]
        for row in frame["data"]:
            last = counters[native] = counters.get(native, 0) + 1
            fields = {
                **_ids(ExchangeId.OKX, native, int(row["ts"]) * 1_000_000),
                "bids": _levels(row["bids"]),
                "asks": _levels(row["asks"]),
                "checksum": int(row["checksum"]),
            }
            if frame["action"] == "snapshot":
                yield BookSnapshot(**fields, sequence=BookSequence(last=last))
            else:
                yield BookDelta(**fields, sequence=BookSequence(last=last, prev=last - 1))


def bitget_books(path: Path) -> Iterator[BookEvent]:
    """Bitget v1 ``books``: snapshot then updates, each with a CRC32 ``checksum``; no ``seq``."""
    counters: dict[str, int] = {}
    for _ts, frame in _frames(path):
        if not (
            isinstance(frame, dict) and frame.get("arg", {}).get("channel") == "books" and "data" in frame
        ):
            continue
        native = frame["arg"]["instId"]
        for row in frame["data"]:
            last = counters[native] = counters.get(native, 0) + 1
            fields = {
                **_ids(ExchangeId.BITGET, native, int(row["ts"]) * 1_000_000),
                "bids": _levels(row["bids"]),
                "asks": _levels(row["asks"]),
                "checksum": int(row["checksum"]),
            }
            if frame["action"] == "snapshot":
                yield BookSnapshot(**fields, sequence=BookSequence(last=last))
            else:
                yield BookDelta(**fields, sequence=BookSequence(last=last))


def deribit_books(path: Path) -> Iterator[BookEvent]:
    """Deribit ``book.{instrument}.raw``: ``change_id`` / ``prev_change_id``; levels [action, price, amount]."""
    for _ts, frame in _frames(path):
        params = frame.get("params") if isinstance(frame, dict) else None
        if not (isinstance(params, dict) and str(params.get("channel", "")).startswith("book.")):
            continue
        data = params["data"]
        fields = {
            **_ids(ExchangeId.DERIBIT, data["instrument_name"], data["timestamp"] * 1_000_000),
            "bids": [
                (Decimal(str(p)), Decimal(0) if a == "delete" else Decimal(str(q)))
                for a, p, q in data["bids"]
            ],
            "asks": [
                (Decimal(str(p)), Decimal(0) if a == "delete" else Decimal(str(q)))
                for a, p, q in data["asks"]
            ],
        }
        if data["type"] == "snapshot":
            yield BookSnapshot(**fields, sequence=BookSequence(last=data["change_id"]))
        else:
            yield BookDelta(
                **fields, sequence=BookSequence(last=data["change_id"], prev=data["prev_change_id"])
            )


def kucoin_spot_books(ws_path: Path, rest_path: Path) -> Iterator[BookEvent]:
    """KuCoin spot ``l2update`` (``sequenceStart``/``sequenceEnd``) merged with the REST snapshots.

    A change with price "0" only advances the sequence (KuCoin's calibration procedure), so it is
    kept as an empty delta.
    """
    events: list[tuple[int, int, BookEvent]] = []
    for order, (ts, frame) in enumerate(_frames(ws_path)):
        if not (isinstance(frame, dict) and frame.get("subject") == "trade.l2update"):
            continue
        data = frame["data"]
        changes = data["changes"]
        events.append(
            (
                ts,
                order,
                BookDelta(
                    **_ids(ExchangeId.KUCOIN_FUTURES, data["symbol"], ts),
                    sequence=BookSequence(first=int(data["sequenceStart"]), last=int(data["sequenceEnd"])),
                    bids=_levels([c for c in changes["bids"] if c[0] != "0"]),
                    asks=_levels([c for c in changes["asks"] if c[0] != "0"]),
                ),
            )
        )
    for ts, native, body in _rest(rest_path):
        data = body["data"]
        snapshot = BookSnapshot(
            **_ids(ExchangeId.KUCOIN_FUTURES, native, ts),
            sequence=BookSequence(last=int(data["sequence"])),
            bids=_levels(data["bids"]),
            asks=_levels(data["asks"]),
        )
        events.append((ts, -1, snapshot))
    for _, _, event in sorted(events, key=lambda item: (item[0], item[1])):
        yield event
