"""Benchmark of the book core against a bare floor (``python benchmarks/book_core.py``).

Input: the real Binance USD-M capture (../shared/data/hftbacktest/usdm/btcusdt_20240808.gz),
normalized once into the ``md.book.v1`` payloads the book-builder consumes (one REST snapshot and
6,551 ``depth@0ms`` diffs, about 68 levels and 1.7 KB each), replayed ``--loops`` times; each loop
starts a fresh book, so every loop does identical work.

Measured, each as frames/s and level updates/s:

- **core**: ``decode_book_event`` (orjson plus every check of the contract) and
  ``BookBuilder.on_event`` (venue sequence rule, book update, crossed check, top-of-book change
  detection, depth throttle), i.e. everything the service does per record except Kafka and I/O;
- **processor**: the same through ``BookBuilderProcessor.handle`` (adds the output events and
  database rows, still no I/O);
- **floor**: ``orjson.loads`` of the same payload plus the chosen structure's set/delete with
  ``Decimal`` keys, no validation, no sequence check, no top-of-book read;
- **floor, tuned like the core**: the same with the core's two shortcuts (a string -> Decimal
  cache, a plain dict set for a level the book already holds), the fairer lower bound;
- for the structure choice: the floor with the C ``order-book`` package instead of
  ``sortedcontainers``, without and with reading the top after every frame (when installed).

The ratios reported are core frames/s divided by floor frames/s (target: at least 0.5).
"""

import argparse
import gc
import gzip
import platform
import statistics
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import orjson
from sortedcontainers import SortedDict

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiokafka.structs import ConsumerRecord

from schemas.common import ExchangeId
from schemas.market_data import BookDelta, BookSnapshot
from services.book_builder.core.decode import decode_book_event
from services.book_builder.service import BookBuilderProcessor
from services.book_builder.venues import new_builder
from services.instruments.catalog import load_snapshot
from services.runtime.service import Output
from services.runtime.settings import Settings
from services.venues import normalizer_for

DEFAULT_CAPTURE = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "hftbacktest" / "usdm"
DEFAULT_CAPTURE = DEFAULT_CAPTURE / "btcusdt_20240808.gz"
_ZERO = Decimal(0)


def load_payloads(capture: Path) -> list[bytes]:
    normalizer = normalizer_for(ExchangeId.BINANCE_USDM, load_snapshot())
    payloads: list[bytes] = []
    with gzip.open(capture, "rb") as lines:
        for line in lines:
            stamp, raw = line.split(b" ", 1)
            if raw.startswith(b'{"lastUpdateId"'):
                events = normalizer.normalize_rest_snapshot(orjson.loads(raw), "BTCUSDT", int(stamp))
            elif b"depthUpdate" in raw:
                events = normalizer.normalize(orjson.loads(raw), int(stamp))
            else:
                continue
            payloads.extend(
                e.model_dump_json().encode() for e in events if isinstance(e, BookSnapshot | BookDelta)
            )
    return payloads


def count_levels(payloads: list[bytes]) -> int:
    total = 0
    for payload in payloads:
        document = orjson.loads(payload)
        if document["type"] == "delta":
            total += len(document["bids"]) + len(document["asks"])
    return total


def run_core(payloads: list[bytes], loops: int) -> float:
    catalog = load_snapshot()
    decode = decode_book_event
    started = time.perf_counter()
    for _ in range(loops):
        builder = new_builder(ExchangeId.BINANCE_USDM, "BTCUSDT", catalog)
        on_event = builder.on_event
        for payload in payloads:
            on_event(decode(payload))
        assert builder.counters.gaps == 0
    return time.perf_counter() - started


def run_processor(payloads: list[bytes], loops: int) -> float:
    catalog = load_snapshot()
    records = [
        ConsumerRecord("md.book.v1", 0, i, 0, 0, b"binance_usdm:BTC-USDT-PERP", p, None, 0, len(p), ())
        for i, p in enumerate(payloads)
    ]
    started = time.perf_counter()
    for _ in range(loops):
        processor = BookBuilderProcessor(Settings(), catalog=catalog)
        handle, decode = processor.handle, processor.decoders["md.book.v1"]
        out = Output()
        for record in records:
            handle(record, decode(record.value or b""), out)
    return time.perf_counter() - started


def run_floor_sortedcontainers(payloads: list[bytes], loops: int) -> float:
    started = time.perf_counter()
    for _ in range(loops):
        bids, asks = SortedDict(), SortedDict()
        for payload in payloads:
            document = orjson.loads(payload)
            if document["type"] == "snapshot":
                bids.clear()
                asks.clear()
            for side, levels in ((bids, document["bids"]), (asks, document["asks"])):
                for price, quantity in levels:
                    size = Decimal(quantity)
                    if size:
                        side[Decimal(price)] = size
                    else:
                        side.pop(Decimal(price), None)
    return time.perf_counter() - started


def run_floor_tuned(payloads: list[bytes], loops: int) -> float:
    """The floor with the core's two tricks (a str -> Decimal cache, dict set for known levels)."""
    set_existing = dict.__setitem__
    cache: dict[str, Decimal] = {}
    started = time.perf_counter()
    for _ in range(loops):
        bids, asks = SortedDict(), SortedDict()
        for payload in payloads:
            document = orjson.loads(payload)
            if document["type"] == "snapshot":
                bids.clear()
                asks.clear()
            for side, levels in ((bids, document["bids"]), (asks, document["asks"])):
                for price_text, quantity_text in levels:
                    price = cache.get(price_text)
                    if price is None:
                        price = cache[price_text] = Decimal(price_text)
                    size = cache.get(quantity_text)
                    if size is None:
                        size = cache[quantity_text] = Decimal(quantity_text)
                    if not size:
                        side.pop(price, None)
                    elif price in side:
                        set_existing(side, price, size)
                    else:
                        side[price] = size
    return time.perf_counter() - started


def run_floor_order_book(payloads: list[bytes], loops: int, *, read_top: bool) -> float | None:
    try:
        from order_book import OrderBook
    except ImportError:
        return None
    started = time.perf_counter()
    for _ in range(loops):
        book = OrderBook()
        for payload in payloads:
            document = orjson.loads(payload)
            for side, levels in ((book.bids, document["bids"]), (book.asks, document["asks"])):
                for price, quantity in levels:
                    size, key = Decimal(quantity), Decimal(price)
                    if size:
                        side[key] = size
                    elif key in side:
                        del side[key]
            if read_top and len(book.bids) and len(book.asks):
                book.bids.index(0)
                book.asks.index(0)
    return time.perf_counter() - started


def best_of(repeats: int, run: Callable[[], float | None]) -> float | None:
    times = []
    for _ in range(repeats):
        gc.collect()
        elapsed = run()
        if elapsed is None:
            return None
        times.append(elapsed)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--capture", type=Path, default=DEFAULT_CAPTURE)
    parser.add_argument("--loops", type=int, default=5, help="Replays of the capture per measurement.")
    parser.add_argument("--repeats", type=int, default=3, help="Measurements per figure; the best is kept.")
    args = parser.parse_args()
    if not args.capture.exists():
        print(f"capture not found: {args.capture}", file=sys.stderr)
        return 2

    payloads = load_payloads(args.capture)
    frames = len(payloads) * args.loops
    levels = count_levels(payloads) * args.loops
    print(
        f"python {platform.python_version()} on {platform.machine()}, {len(payloads)} payloads x {args.loops} loops"
    )
    print(
        f"{levels / frames:.1f} levels per frame, {statistics.mean(map(len, payloads)):.0f} bytes per payload"
    )

    figures: dict[str, float | None] = {
        "core (decode + validate + book)": best_of(args.repeats, lambda: run_core(payloads, args.loops)),
        "processor (core + outputs + rows)": best_of(
            args.repeats, lambda: run_processor(payloads, args.loops)
        ),
        "floor: orjson + sortedcontainers": best_of(
            args.repeats, lambda: run_floor_sortedcontainers(payloads, args.loops)
        ),
        "floor, tuned like the core": best_of(args.repeats, lambda: run_floor_tuned(payloads, args.loops)),
        "floor: orjson + order-book": best_of(
            args.repeats, lambda: run_floor_order_book(payloads, args.loops, read_top=False)
        ),
        "order-book + top read per frame": best_of(
            1, lambda: run_floor_order_book(payloads[: len(payloads) // 4], 1, read_top=True)
        ),
    }
    print(f"{'measurement':36} {'frames/s':>12} {'levels/s':>14}")
    for name, seconds in figures.items():
        if seconds is None:
            print(f"{name:36} {'(order-book not installed)':>27}")
            continue
        scale = 1 / (4 * args.loops) if name.startswith("order-book + top") else 1.0
        print(f"{name:36} {frames * scale / seconds:12,.0f} {levels * scale / seconds:14,.0f}")
    core, floor = figures["core (decode + validate + book)"], figures["floor: orjson + sortedcontainers"]
    assert core is not None
    assert floor is not None
    tuned = figures["floor, tuned like the core"]
    assert tuned is not None
    print(f"ratio core / floor (sortedcontainers): {floor / core:.2f}")
    print(f"ratio core / floor tuned like the core: {tuned / core:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
