"""Benchmark of the analytics core against a bare floor (``python benchmarks/analytics_core.py``).

Input: the 21,313 real trades of the Binance USD-M capture
(../shared/data/hftbacktest/usdm/btcusdt_20240808.gz), normalized once to ``md.trades.v1`` events,
replayed ``--loops`` times; each loop starts from empty state, so every loop does identical work.

Measured, as trades/s:

- **bars**: ``InstrumentBars.on_trade`` into 1 s, 1 m and 5 m bars (dedupe by trade id, grace
  period, gap filling, buy/sell split), the hot path of the service;
- **engine**: ``AnalyticsEngine.on_event``: bars, plus the ``md.candles.v1`` contract events,
  volume spikes at 5 m / 15 m / 1 h, large-trade flow;
- **processor**: ``AnalyticsProcessor.handle``: the engine plus database rows (no I/O);
- **floor**: one dict update per trade (``bars[second] = (price, quantity)``), the bare minimum
  any bar builder must do, in the same process on the same events.

Peak memory (tracemalloc) of one engine pass is measured in a separate pass, since tracing slows
everything it watches.
"""

import argparse
import gc
import platform
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import orjson

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiokafka.structs import ConsumerRecord

from schemas.market_data import Trade
from services.analytics.core.bars import InstrumentBars
from services.analytics.core.engine import AnalyticsEngine, EngineConfig
from services.analytics.service import AnalyticsProcessor
from services.runtime.service import Output

DEFAULT_CAPTURE = (
    Path(__file__).resolve().parents[1]
    / ".."
    / "shared"
    / "data"
    / "hftbacktest"
    / "usdm"
    / "btcusdt_20240808.gz"
)
S = 1_000_000_000


def load_trades(capture: Path) -> list[Trade]:
    """The capture's trades as ``perpwatch normalize`` prints them."""
    printed = subprocess.run(
        [sys.executable, "-m", "services.cli", "normalize", str(capture)],
        capture_output=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    ).stdout
    return [
        Trade.model_validate(envelope["event"])
        for envelope in map(orjson.loads, printed.splitlines())
        if envelope["topic"] == "md.trades.v1"
    ]


def run_floor(trades: list[Trade], loops: int) -> float:
    started = time.perf_counter()
    for _ in range(loops):
        bars: dict[int, tuple[object, object]] = {}
        for t in trades:
            bars[t.exchange_ts // S] = (t.price, t.quantity)
    return time.perf_counter() - started


def run_bars(trades: list[Trade], loops: int) -> float:
    started = time.perf_counter()
    for _ in range(loops):
        bars = InstrumentBars((S, 60 * S, 300 * S), grace_ns=2 * S)
        on_trade = bars.on_trade
        for t in trades:
            on_trade(t.trade_id, t.exchange_ts, t.price, t.quantity, t.notional, t.side.value == "buy")
    return time.perf_counter() - started


def run_engine(trades: list[Trade], loops: int) -> float:
    started = time.perf_counter()
    for _ in range(loops):
        on_event = AnalyticsEngine(EngineConfig()).on_event
        for t in trades:
            on_event("md.trades.v1", t)
    return time.perf_counter() - started


def run_processor(trades: list[Trade], loops: int) -> float:
    records = [
        ConsumerRecord("md.trades.v1", 0, i, 0, 0, t.key.encode(), b"", None, 0, 0, ())
        for i, t in enumerate(trades)
    ]
    started = time.perf_counter()
    for _ in range(loops):
        processor = AnalyticsProcessor(EngineConfig())
        handle = processor.handle
        out = Output()
        for record, t in zip(records, trades, strict=True):
            handle(record, t, out)
        processor.end_batch(out)
    return time.perf_counter() - started


def peak_memory_mib(trades: list[Trade]) -> float:
    gc.collect()
    tracemalloc.start()
    engine = AnalyticsEngine(EngineConfig())
    for t in trades:
        engine.on_event("md.trades.v1", t)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def best_rate(
    run: Callable[[list[Trade], int], float], trades: list[Trade], loops: int, repeats: int
) -> float:
    times = []
    for _ in range(repeats):
        gc.collect()
        times.append(run(trades, loops))
    return len(trades) * loops / min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--capture", type=Path, default=DEFAULT_CAPTURE)
    parser.add_argument("--loops", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if not args.capture.exists():
        raise SystemExit(f"capture not found: {args.capture} (see ../shared/data/README.md)")
    trades = load_trades(args.capture)
    print(
        f"python {platform.python_version()} on {platform.machine()}; {len(trades):,} real trades x {args.loops} loops"
    )
    rates = {
        "floor (one dict update per trade)": best_rate(run_floor, trades, args.loops, args.repeats),
        "bars 1s/1m/5m (InstrumentBars)": best_rate(run_bars, trades, args.loops, args.repeats),
        "engine (bars + candles + spikes + flow)": best_rate(run_engine, trades, args.loops, args.repeats),
        "processor (engine + rows)": best_rate(run_processor, trades, args.loops, args.repeats),
    }
    floor = rates["floor (one dict update per trade)"]
    for name, rate in rates.items():
        print(f"{name:<42} {rate:>12,.0f} trades/s   {rate / floor:6.3f} x floor")
    print(f"peak memory of one engine pass: {peak_memory_mib(trades):.1f} MiB (tracemalloc)")


if __name__ == "__main__":
    main()
