"""Benchmark of the arbitrage core (``python benchmarks/arbitrage_core.py``).

Load: 12 venues x 50 symbols, 20-level books (base units) changing at random: each update picks
a random book, moves its symbol's common price a little (a shared random walk) plus the venue's
own small noise, and redraws sizes. Every update re-evaluates both directions of the book's 11
pairs (22 evaluations) with 3 notionals (10k, 100k, 1M). The updates are generated once, with a
fixed seed, and replayed identically by every measurement in the same process. At 10 updates
per book per second of event time, the default 60,000 updates span 10 s, one full cycle of the
spread sampler (every pair sampled once), so samples weigh what they weigh in steady state.

Measured (best of ``--repeats``):

- **core**: ``ArbitrageEngine.on_depth`` (book ladders, gross spreads, guards, lifecycle,
  sampling every 10 s of event time, executable spreads where anything could open);
- **core, every pair walked**: the same with nothing ever able to open yet every pair kept a
  candidate, so each of the 22 evaluations walks both books for all 3 notionals (no fast path);
- **service path**: the service's ``book.l2.v1`` decoder (orjson to floats, with the contract's
  checks) + ``ArbitrageProcessor.handle`` (engine, contracts and rows); and the same with the
  runtime's default decoder instead (pydantic ``validate_json`` into ``Decimal`` levels); and
  ``book.bbo.v1`` tops of the same updates (contract decoder + handle);
- **baseline**: the bare VWAP walk: for each update and each of the 22 ordered pairs, the
  textbook level-by-level walk of both books for the 3 notionals, nothing else.

Times are CPU time of this process (``time.process_time``): the machine is shared. Ratios are
evaluations/s against the baseline's. Then "keeps up": the book-builder's output rate
(``book.bbo.v1`` + ``book.l2.v1`` events per second of CPU when its processor rebuilds the real
Binance capture, see benchmarks/book_core.py) against the service path's records/s here.
"""

import argparse
import gc
import platform
import random
import sys
import time
import tracemalloc
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiokafka.structs import ConsumerRecord

from schemas.book import BookDepth, BookStatus, BookTop
from schemas.common import ExchangeId
from services.arbitrage.core.engine import ArbConfig, ArbitrageEngine
from services.arbitrage.core.fees import fee_table
from services.arbitrage.core.vwap import bare_vwap
from services.arbitrage.service import ArbitrageProcessor, default_fees
from services.runtime.service import Output

VENUES = [e.value for e in ExchangeId if e is not ExchangeId.BINANCE_COINM]  # the 12 USDT venues
NOTIONALS = (10_000.0, 100_000.0, 1_000_000.0)
LEVELS = 20
Book = tuple[list[tuple[float, float]], list[tuple[float, float]]]
Update = tuple[str, str, int, Book]
DEFAULT_CAPTURE = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "hftbacktest" / "usdm"
DEFAULT_CAPTURE = DEFAULT_CAPTURE / "btcusdt_20240808.gz"


def make_updates(count: int, symbols: int, seed: int) -> list[Update]:
    rng = random.Random(seed)
    names = [f"S{n:02d}-USDT-PERP" for n in range(symbols)]
    prices = {name: 10 ** rng.uniform(-1, 5) for name in names}
    # About 10 updates per book per second of event time, like a throttled book.l2.v1.
    step_ns = max(1, 1_000_000_000 // (10 * len(VENUES) * symbols))
    ts = 1_723_161_256_000_000_000
    updates: list[Update] = []
    for _ in range(count):
        venue, symbol = rng.choice(VENUES), rng.choice(names)
        prices[symbol] *= 1 + rng.gauss(0, 2e-5)
        mid = prices[symbol] * (1 + rng.gauss(0, 1.5e-4))
        tick = mid * 1e-5
        size = 200_000.0 / mid  # ~200k quote at each level, growing away from the touch
        bids = [(mid - (k + 0.5) * tick, size * (1 + 0.3 * k) * rng.uniform(0.5, 1.5)) for k in range(LEVELS)]
        asks = [(mid + (k + 0.5) * tick, size * (1 + 0.3 * k) * rng.uniform(0.5, 1.5)) for k in range(LEVELS)]
        ts += step_ns
        updates.append((venue, symbol, ts, (bids, asks)))
    return updates


def run_core(updates: list[Update], config: ArbConfig) -> tuple[float, int]:
    engine = ArbitrageEngine(config)
    on_depth = engine.on_depth
    started = time.process_time()
    for venue, symbol, ts, (bids, asks) in updates:
        on_depth(venue, symbol, ts, bids, asks)
    return time.process_time() - started, engine.counters.evaluations


def run_baseline(updates: list[Update]) -> tuple[float, int]:
    """Keep the latest book per (venue, symbol); per update walk every ordered pair, bare."""
    books: dict[str, dict[str, Book]] = {}
    fees = fee_table(default_fees())
    evaluations = 0
    started = time.process_time()
    for venue, symbol, _, book in updates:
        legs = books.setdefault(symbol, {})
        legs[venue] = book
        for other, other_book in legs.items():
            if other == venue:
                continue
            for (buy, buy_book), (sell, sell_book) in (
                ((venue, book), (other, other_book)),
                ((other, other_book), (venue, book)),
            ):
                evaluations += 1
                mid = (buy_book[0][0][0] + buy_book[1][0][0] + sell_book[0][0][0] + sell_book[1][0][0]) / 4
                cost = fees.taker(buy) + fees.taker(sell)
                for notional in NOTIONALS:
                    quantity = notional / mid
                    bought = bare_vwap(buy_book[1], quantity)
                    sold = bare_vwap(sell_book[0], quantity)
                    if bought is not None and sold is not None:
                        _ = (sold - bought) / mid * 1e4 - cost
    return time.process_time() - started, evaluations


def depth_payloads(updates: list[Update]) -> list[bytes]:
    payloads = []
    for venue, symbol, ts, (bids, asks) in updates:
        event = BookDepth(
            exchange=ExchangeId(venue),
            symbol=symbol,
            native_symbol=symbol,
            exchange_ts=ts,
            receive_ts=ts,
            status=BookStatus.VALID,
            book_seq=1,
            venue_seq=1,
            depth=LEVELS,
            bids=[(Decimal(f"{p:.8g}"), Decimal(f"{q:.6g}")) for p, q in bids],
            asks=[(Decimal(f"{p:.8g}"), Decimal(f"{q:.6g}")) for p, q in asks],
        )
        payloads.append(event.model_dump_json().encode())
    return payloads


def top_payloads(updates: list[Update]) -> list[bytes]:
    payloads = []
    for venue, symbol, ts, (bids, asks) in updates:
        event = BookTop(
            exchange=ExchangeId(venue),
            symbol=symbol,
            native_symbol=symbol,
            exchange_ts=ts,
            receive_ts=ts,
            venue_seq=1,
            book_seq=1,
            bid_price=Decimal(f"{bids[0][0]:.8g}"),
            bid_quantity=Decimal(f"{bids[0][1]:.6g}"),
            ask_price=Decimal(f"{asks[0][0]:.8g}"),
            ask_quantity=Decimal(f"{asks[0][1]:.6g}"),
        )
        payloads.append(event.model_dump_json().encode())
    return payloads


def run_top_path(payloads: list[bytes], config: ArbConfig) -> tuple[float, int]:
    """book.bbo.v1 through the runtime's contract decoder and the processor."""
    processor = ArbitrageProcessor(config, restore=False)
    decode = BookTop.model_validate_json
    records = [
        ConsumerRecord("book.bbo.v1", 0, i, 0, 0, None, p, None, 0, len(p), ())
        for i, p in enumerate(payloads)
    ]
    out = Output()
    started = time.process_time()
    for record in records:
        processor.handle(record, decode(record.value or b""), out)
    return time.process_time() - started, processor.engine.counters.evaluations


def run_service_path(
    payloads: list[bytes], config: ArbConfig, *, pydantic: bool = False
) -> tuple[float, int]:
    processor = ArbitrageProcessor(config, restore=False)
    decode = BookDepth.model_validate_json if pydantic else processor.decoders["book.l2.v1"]
    records = [
        ConsumerRecord("book.l2.v1", 0, i, 0, 0, None, p, None, 0, len(p), ()) for i, p in enumerate(payloads)
    ]
    out = Output()
    started = time.process_time()
    for record in records:
        processor.handle(record, decode(record.value or b""), out)
    return time.process_time() - started, processor.engine.counters.evaluations


def book_builder_output_rate(capture: Path) -> tuple[float, int, int] | None:
    """(events/s, events, input frames) of the book-builder's processor over the real capture."""
    if not capture.exists():
        return None
    from book_core import load_payloads  # the sibling benchmark (scripts run with benchmarks/ on sys.path)

    from services.book_builder.service import BookBuilderProcessor
    from services.instruments.catalog import load_snapshot
    from services.runtime.settings import Settings

    payloads = load_payloads(capture)
    records = [
        ConsumerRecord("md.book.v1", 0, i, 0, 0, b"binance_usdm:BTC-USDT-PERP", p, None, 0, len(p), ())
        for i, p in enumerate(payloads)
    ]
    processor = BookBuilderProcessor(Settings(), catalog=load_snapshot())
    handle, decode = processor.handle, processor.decoders["md.book.v1"]
    out = Output()
    started = time.process_time()
    for record in records:
        handle(record, decode(record.value or b""), out)
    elapsed = time.process_time() - started
    produced = sum(1 for name, _ in out.events if name in ("book.bbo.v1", "book.l2.v1"))
    return produced / elapsed, produced, len(records)


def best_of(repeats: int, run: Callable[[], tuple[float, int]]) -> tuple[float, int]:
    results = []
    for _ in range(repeats):
        gc.collect()
        results.append(run())
    return min(results)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--updates",
        type=int,
        default=60_000,
        help="Book updates per measurement (60,000 = 10 s of event time = one sampling cycle).",
    )
    parser.add_argument("--symbols", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--capture", type=Path, default=DEFAULT_CAPTURE)
    args = parser.parse_args()

    updates = make_updates(args.updates, args.symbols, args.seed)
    fees = fee_table(default_fees())
    config = ArbConfig(fees=fees, notionals=NOTIONALS)
    walk_all = ArbConfig(
        fees=fees,
        notionals=NOTIONALS,
        open_bps=-1e9,
        close_bps=-1e9,
        persist_evaluations=10**12,
        persist_ns=10**18,
        max_age_ns=10**18,
        max_skew_ns=10**18,
    )
    print(
        f"python {platform.python_version()} on {platform.machine()}: {len(VENUES)} venues x {args.symbols} symbols, "
        f"{LEVELS}-level books, {len(NOTIONALS)} notionals, {len(updates):,} updates"
    )
    figures: dict[str, tuple[float, int]] = {
        "core": best_of(args.repeats, lambda: run_core(updates, config)),
        "core, every pair walked": best_of(args.repeats, lambda: run_core(updates, walk_all)),
        "baseline: bare VWAP walk": best_of(args.repeats, lambda: run_baseline(updates)),
    }
    payloads = depth_payloads(updates)
    figures["service path (decode + handle)"] = best_of(
        args.repeats, lambda: run_service_path(payloads, config)
    )
    tops = top_payloads(updates)
    figures["service path, book.bbo.v1"] = best_of(args.repeats, lambda: run_top_path(tops, config))
    figures["service path, pydantic decode"] = best_of(
        args.repeats, lambda: run_service_path(payloads, config, pydantic=True)
    )

    print(f"{'measurement':34} {'updates/s':>12} {'evaluations/s':>15}")
    for name, (seconds, evaluations) in figures.items():
        print(f"{name:34} {len(updates) / seconds:12,.0f} {evaluations / seconds:15,.0f}")
    base_seconds, base_evaluations = figures["baseline: bare VWAP walk"]
    base_rate = base_evaluations / base_seconds
    for name in (
        "core",
        "core, every pair walked",
        "service path (decode + handle)",
        "service path, book.bbo.v1",
        "service path, pydantic decode",
    ):
        seconds, evaluations = figures[name]
        print(f"ratio {name} / baseline (evaluations/s): {evaluations / seconds / base_rate:.2f}")

    tracemalloc.start()
    engine = ArbitrageEngine(config)
    for venue, symbol, ts, (bids, asks) in updates:
        engine.on_depth(venue, symbol, ts, bids, asks)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"peak memory of the core state (600 books, 6,600 ordered pairs): {peak / 2**20:.1f} MiB")

    builder = book_builder_output_rate(args.capture)
    service_seconds, _ = figures["service path (decode + handle)"]
    service_rate = len(updates) / service_seconds
    if builder is None:
        print(f"book-builder comparison skipped: capture not found at {args.capture}")
        return 0
    rate, produced, frames = builder
    print(
        f"book-builder output (real Binance capture, {frames:,} md.book.v1 frames -> {produced:,} book.* events): "
        f"{rate:,.0f} events/s"
    )
    verdict = "keeps up" if service_rate >= rate else "DOES NOT keep up"
    print(
        f"arbitrage service path {service_rate:,.0f} records/s vs book-builder {rate:,.0f} events/s: "
        f"{service_rate / rate:.2f}x, {verdict}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
