"""Benchmark of the liquidity core against a bare baseline (``python benchmarks/liquidity_core.py``).

Input: the real Binance USD-M capture (../shared/data/hftbacktest/usdm/btcusdt_20240808.gz):
its book events go through the real normalizer and the real book-builder processor (50 levels, a
``book.l2.v1`` at most every 100 ms), its trades through the normalizer; the resulting 3,142
``book.l2.v1`` payloads and 21,313 ``md.trades.v1`` payloads are replayed ``--loops`` times.

Measured in one process, each as books/s:

- **metrics**: ``book_metrics`` on every book (spread, mid, micro-price, four depth bands per side
  in base and quote, imbalance, both slippage walks), from decoded ``BookDepth`` levels;
- **baseline**: mid and spread only, from the same levels (the floor any metric costs);
- **engine, every change**: ``LiquidityEngine`` with every book sampled: metrics, update rate,
  the crunch detector (median/MAD baselines), trade flow, all trades fed too;
- **service path, default cadence / every change**: what the service does per record, i.e.
  the service's decoders (``decode.py``: orjson + the contract's checks) + ``LiquidityProcessor.handle``
  + ``end_batch`` + output events and rows, counted per book.l2.v1 record (trades included in the
  time); once more with pydantic's ``model_validate_json`` as the decoder, for comparison;
- **book-builder output rate**: the book-builder processor on the capture's ``md.book.v1``
  payloads (its decode + handle), ``book.l2.v1`` messages produced per second of its processing.
  The liquidity service keeps up when its service-path rate is above this (ratio > 1).

Peak memory of the engine run is measured with tracemalloc (a separate pass, not timed).
"""

import argparse
import gc
import gzip
import platform
import sys
import time
import tracemalloc
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import orjson

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiokafka.structs import ConsumerRecord

from schemas.book import BookDepth, BookStatus
from schemas.common import ExchangeId, Side
from schemas.market_data import BookDelta, BookSnapshot, Trade
from services.book_builder.service import BookBuilderProcessor
from services.instruments.catalog import load_snapshot
from services.liquidity.core.engine import BookId, EngineConfig, LiquidityEngine
from services.liquidity.core.metrics import Level, book_metrics
from services.liquidity.service import LiquidityProcessor, LiquiditySettings
from services.runtime.service import Output
from services.runtime.settings import Settings
from services.venues import normalizer_for

DEFAULT_CAPTURE = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "hftbacktest" / "usdm"
DEFAULT_CAPTURE = DEFAULT_CAPTURE / "btcusdt_20240808.gz"
KEY = b"binance_usdm:BTC-USDT-PERP"
BOOK_TOPIC, TRADE_TOPIC = "book.l2.v1", "md.trades.v1"


def load(capture: Path) -> tuple[list[bytes], list[tuple[str, bytes]]]:
    """(md.book.v1 payloads, the builder's book.l2.v1 and the trades merged in receive order)."""
    normalizer = normalizer_for(ExchangeId.BINANCE_USDM, load_snapshot())
    book_payloads: list[bytes] = []
    merged: list[tuple[int, int, str, bytes]] = []
    builder = BookBuilderProcessor(Settings(), catalog=load_snapshot())
    with gzip.open(capture, "rb") as lines:
        for line in lines:
            stamp, raw = line.split(b" ", 1)
            if raw.startswith(b'{"lastUpdateId"'):
                events = normalizer.normalize_rest_snapshot(orjson.loads(raw), "BTCUSDT", int(stamp))
            elif b"depthUpdate" in raw or b'"e":"trade"' in raw:
                events = normalizer.normalize(orjson.loads(raw), int(stamp))
            else:
                continue
            for event in events:
                if isinstance(event, Trade):
                    merged.append(
                        (event.receive_ts, len(merged), TRADE_TOPIC, event.model_dump_json().encode())
                    )
                elif isinstance(event, BookSnapshot | BookDelta):
                    book_payloads.append(_with_provenance(event.model_dump_json().encode()))
                    out = Output()
                    record = ConsumerRecord(
                        "md.book.v1", 0, len(book_payloads), 0, 0, KEY, b"", None, 0, 0, ()
                    )
                    builder.handle(record, event, out)
                    for _, published in out.events:
                        if isinstance(published, BookDepth):
                            payload = published.model_dump_json().encode()
                            merged.append((published.receive_ts, len(merged), BOOK_TOPIC, payload))
    merged.sort(key=lambda item: (item[0], item[1]))
    return book_payloads, [(topic, payload) for _, _, topic, payload in merged]


def _with_provenance(payload: bytes) -> bytes:
    """The payload with ``instrument_provenance`` written out, which the book-builder's decoder
    requires at the time of writing even though the contract makes it optional."""
    if b'"instrument_provenance"' in payload:
        return payload
    return b'{"instrument_provenance":"listed",' + payload[1:]


def run_metrics(books: list[BookDepth], loops: int) -> float:
    levels = [(b.bids, b.asks) for b in books]
    started = time.perf_counter()
    for _ in range(loops):
        for bids, asks in levels:
            book_metrics(bids, asks)
    return time.perf_counter() - started


def mid_and_spread_only(bids: list[Level], asks: list[Level]) -> tuple[Decimal, Decimal]:
    bid, ask = bids[0][0], asks[0][0]
    mid = (bid + ask) / 2
    return mid, (ask - bid) / mid * 10_000


def run_baseline(books: list[BookDepth], loops: int) -> float:
    levels = [(b.bids, b.asks) for b in books]
    started = time.perf_counter()
    for _ in range(loops):
        for bids, asks in levels:
            mid_and_spread_only(bids, asks)
    return time.perf_counter() - started


def run_engine(events: list[BookDepth | Trade], loops: int) -> float:
    started = time.perf_counter()
    for _ in range(loops):
        engine = LiquidityEngine(EngineConfig(every_change=True))
        book_id = BookId(ExchangeId.BINANCE_USDM, "BTC-USDT-PERP", "BTCUSDT")
        for event in events:
            if isinstance(event, BookDepth):
                engine.on_book(
                    book_id,
                    ts=event.exchange_ts,
                    receive_ts=event.receive_ts,
                    book_seq=event.book_seq,
                    venue_seq=event.venue_seq,
                    valid=event.status is BookStatus.VALID,
                    bids=event.bids,
                    asks=event.asks,
                )
            else:
                engine.on_trade(
                    book_id,
                    ts=event.exchange_ts,
                    buy=event.side is Side.BUY,
                    base=event.quantity,
                    notional=event.notional,
                )
        engine.finish()
    return time.perf_counter() - started


def run_service_path(
    records: list[tuple[str, bytes]], loops: int, *, every_change: bool, pydantic: bool = False
) -> float:
    """Decode (the service's own decoders, or pydantic's contract validation) + handle + end_batch."""
    decode = (
        {BOOK_TOPIC: BookDepth.model_validate_json, TRADE_TOPIC: Trade.model_validate_json}
        if pydantic
        else LiquidityProcessor().decoders
    )
    consumer_records = [
        ConsumerRecord(topic, 0, n, 0, 0, KEY, payload, None, 0, len(payload), ())
        for n, (topic, payload) in enumerate(records)
    ]
    started = time.perf_counter()
    for _ in range(loops):
        processor = LiquidityProcessor(LiquiditySettings(every_change=every_change))
        out = Output()
        for n, record in enumerate(consumer_records, start=1):
            processor.handle(record, decode[record.topic](record.value or b""), out)
            if n % 2000 == 0:  # the runtime's batch size
                processor.end_batch(out)
                out = Output()
        processor.end_batch(out)
    return time.perf_counter() - started


def run_book_builder(payloads: list[bytes], loops: int) -> tuple[float, int]:
    catalog = load_snapshot()
    records = [
        ConsumerRecord("md.book.v1", 0, i, 0, 0, KEY, p, None, 0, len(p), ()) for i, p in enumerate(payloads)
    ]
    produced = 0
    started = time.perf_counter()
    for _ in range(loops):
        processor = BookBuilderProcessor(Settings(), catalog=catalog)
        handle, decode = processor.handle, processor.decoders["md.book.v1"]
        out = Output()
        for record in records:
            handle(record, decode(record.value or b""), out)
        produced += sum(1 for topic, _ in out.events if topic == BOOK_TOPIC)
    return time.perf_counter() - started, produced


def peak_memory(events: list[BookDepth | Trade]) -> int:
    gc.collect()
    tracemalloc.start()
    run_engine(events, 1)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def best_of(repeats: int, run: Callable[[], float]) -> float:
    times = []
    for _ in range(repeats):
        gc.collect()
        times.append(run())
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--capture", type=Path, default=DEFAULT_CAPTURE)
    parser.add_argument("--loops", type=int, default=3, help="Replays of the capture per measurement.")
    parser.add_argument("--repeats", type=int, default=3, help="Measurements per figure; the best is kept.")
    args = parser.parse_args()
    if not args.capture.exists():
        print(f"capture not found: {args.capture}", file=sys.stderr)
        return 2

    book_payloads, records = load(args.capture)
    events: list[BookDepth | Trade] = [
        BookDepth.model_validate_json(p) if t == BOOK_TOPIC else Trade.model_validate_json(p)
        for t, p in records
    ]
    books = [e for e in events if isinstance(e, BookDepth)]
    n_books = len(books) * args.loops
    levels = sum(len(b.bids) + len(b.asks) for b in books) / len(books)
    print(f"python {platform.python_version()} on {platform.machine()}, loops {args.loops}")
    print(
        f"{len(books)} book.l2.v1 ({levels:.0f} levels each), {len(events) - len(books)} trades, "
        f"from {len(book_payloads)} md.book.v1 payloads"
    )

    metrics_s = best_of(args.repeats, lambda: run_metrics(books, args.loops))
    baseline_s = best_of(args.repeats, lambda: run_baseline(books, args.loops))
    engine_s = best_of(args.repeats, lambda: run_engine(events, args.loops))
    default_s = best_of(args.repeats, lambda: run_service_path(records, args.loops, every_change=False))
    every_s = best_of(args.repeats, lambda: run_service_path(records, args.loops, every_change=True))
    pydantic_s = best_of(1, lambda: run_service_path(records, args.loops, every_change=False, pydantic=True))
    builder = [run_book_builder(book_payloads, args.loops) for _ in range(args.repeats)]
    builder_s, produced = min(builder)
    builder_rate = produced / builder_s

    rows = [
        ("metrics (book_metrics)", n_books / metrics_s),
        ("baseline (mid + spread only)", n_books / baseline_s),
        ("engine, every change (+ trades)", n_books / engine_s),
        ("service path, 1 s cadence", n_books / default_s),
        ("service path, every change", n_books / every_s),
        ("service path, pydantic decoding", n_books / pydantic_s),
        ("book-builder output (book.l2.v1)", builder_rate),
    ]
    print(f"{'measurement':36} {'books/s':>12}")
    for name, rate in rows:
        print(f"{name:36} {rate:12,.0f}")
    print(
        f"ratio metrics / baseline: {baseline_s / metrics_s:.3f} (metrics cost {metrics_s / baseline_s:.1f}x)"
    )
    print(
        f"records/s on the service path incl. trades, 1 s cadence: {len(records) * args.loops / default_s:,.0f}"
    )
    print(
        f"keeps up with the book-builder: service path / builder output = {n_books / every_s / builder_rate:.1f}x"
    )
    print(f"  (every change; {n_books / default_s / builder_rate:.1f}x at the default 1 s cadence)")
    print(f"peak memory, engine on the whole capture: {peak_memory(events) / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
