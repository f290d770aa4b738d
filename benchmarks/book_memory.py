"""Memory of the book-builder over a long replay (``python benchmarks/book_memory.py``).

Input: the Binance USD-M capture's ``md.book.v1`` payloads (one REST snapshot + 6,551 diffs of
about 68 levels), replayed ``--loops`` times through ``BookBuilderProcessor`` exactly as the
service runs it (its ``md.book.v1`` decoder, ``handle``, outputs and rows dropped after each
batch of 2,000 records). Each loop continues the last: update ids and times shifted so the
sequence chain stays valid, and every price moved up by ``loop`` dollars, so each loop brings
prices never seen before (a trending market: the worst case for the decoder's string -> Decimal
cache, whose distinct strings would otherwise repeat).

Printed per ``--every`` loops: resident memory (``/proc/self/statm``, after ``gc.collect()``),
the decoder cache's entries, the book's levels. The verdict is the growth between the end of
warm-up (``--warmup`` loops) and the end. Then, for **MB per symbol at steady state**:
``tracemalloc`` around a fresh processor replaying ``--traced-loops`` loops; the memory it still
holds at the end (the book, its state, the decoder cache) is the cost of one symbol.
"""

import argparse
import gc
import os
import sys
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiokafka.structs import ConsumerRecord
from book_core import DEFAULT_CAPTURE, load_payloads

from schemas import fast_decode
from services.book_builder.service import BookBuilderProcessor
from services.instruments.catalog import load_snapshot
from services.runtime.service import Output
from services.runtime.settings import Settings

PAGE = os.sysconf("SC_PAGE_SIZE")
KEY = b"binance_usdm:BTC-USDT-PERP"
BATCH = 2000


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE / 1e6


def _plus(price: str, dollars: int) -> str:
    """``price + dollars`` for a plain decimal string, written as the venue writes it."""
    whole, dot, fraction = price.partition(".")
    return f"{int(whole) + dollars}{dot}{fraction}"


def looped(payloads: list[bytes], loops: int) -> Iterator[bytes]:
    """The capture ``loops`` times, each loop's ids, times and prices moved past the last's."""
    documents = [orjson.loads(p) for p in payloads]
    first_snapshot = next(i for i, d in enumerate(documents) if d["type"] == "snapshot")
    ids = [d["sequence"]["last"] for d in documents]
    id_span = max(ids) - min(ids) + 1_000_000
    time_span = documents[-1]["exchange_ts"] - documents[0]["exchange_ts"] + 1_000_000_000
    later = [first_snapshot, *range(first_snapshot), *range(first_snapshot + 1, len(documents))]
    for loop in range(loops):
        for index in range(len(documents)) if loop == 0 else later:
            document = documents[index]
            shifted: dict[str, Any] = dict(document)
            shifted["sequence"] = {
                k: (v + loop * id_span if v is not None else None) for k, v in document["sequence"].items()
            }
            shifted["exchange_ts"] = document["exchange_ts"] + loop * time_span
            shifted["receive_ts"] = document["receive_ts"] + loop * time_span
            for side in ("bids", "asks"):
                shifted[side] = [[_plus(p, loop), q] for p, q in document[side]]
            yield orjson.dumps(shifted)


def replay(
    processor: BookBuilderProcessor, payloads: Iterator[bytes], per_loop: int, every: int
) -> list[float]:
    handle, decode = processor.handle, processor.decoders["md.book.v1"]
    samples: list[float] = []
    out = Output()
    started = time.perf_counter()
    for offset, payload in enumerate(payloads):
        record = ConsumerRecord("md.book.v1", 0, offset, 0, 0, KEY, payload, None, 0, len(payload), ())
        handle(record, decode(payload), out)
        if (offset + 1) % BATCH == 0:
            out = Output()  # the service hands a batch's outputs over and drops them
        if (offset + 1) % (per_loop * every) == 0:
            gc.collect()
            samples.append(rss_mb())
            print(
                f"  {offset + 1:>10,} frames  rss {samples[-1]:7.1f} MB  decimal cache "
                f"{fast_decode.cached_decimals():>6,} strings  "
                f"{(offset + 1) / (time.perf_counter() - started):>7,.0f} frames/s",
                flush=True,
            )
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--capture", type=Path, default=DEFAULT_CAPTURE)
    parser.add_argument("--loops", type=int, default=60, help="Replays of the capture (6,552 frames each).")
    parser.add_argument("--every", type=int, default=5, help="Loops between memory samples.")
    parser.add_argument("--warmup", type=int, default=10, help="Loops before growth is measured.")
    parser.add_argument("--traced-loops", type=int, default=3, help="Loops of the tracemalloc pass.")
    args = parser.parse_args()
    payloads = load_payloads(args.capture)
    catalog = load_snapshot()
    print(
        f"python {sys.version.split()[0]}; {len(payloads):,} payloads per loop; load average {os.getloadavg()}"
    )

    # MB per symbol first, on a clean heap: what one symbol's processor and the cache hold.
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    processor = BookBuilderProcessor(Settings(), catalog=catalog)
    replay(processor, looped(payloads, args.traced_loops), len(payloads), 10**9)
    gc.collect()
    held = (tracemalloc.get_traced_memory()[0] - base) / 1e6
    tracemalloc.stop()
    print(
        f"one symbol at steady state (after {args.traced_loops} loops): {held:.1f} MB held by the processor "
        f"and the decoder cache ({fast_decode.cached_decimals():,} strings; the cache is shared by every symbol)"
    )
    del processor
    gc.collect()

    processor = BookBuilderProcessor(Settings(), catalog=catalog)
    samples = replay(processor, looped(payloads, args.loops), len(payloads), args.every)
    warm = samples[args.warmup // args.every - 1] if args.warmup >= args.every else samples[0]
    frames = len(payloads) * args.loops
    growth = samples[-1] - warm
    print(
        f"{frames:,} frames: rss {samples[-1]:.1f} MB at the end, {growth:+.1f} MB since loop {args.warmup} "
        f"({growth / ((args.loops - args.warmup) * len(payloads) / 1e6):+.2f} MB per million frames)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
