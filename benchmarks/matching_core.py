"""Benchmark of the matching engine's pure core (``python benchmarks/matching_core.py``).

Two workloads, both fed as pre-built typed commands (integer ticks and lots, as the
Kafka shell will hand them over after decoding), with every output event produced:

* **inserts** (liquibook-style): alternating buy and sell GTC limits; buys priced in
  ``[mid-20, mid+2]`` and sells in ``[mid-3, mid+20]`` ticks, so the ranges overlap by
  6 ticks and part of the flow trades while the rest builds a deep book.
* **mix** (exchange-core-style): 50% GTC limit, 10% IOC, 30% cancel, 10% amend (half
  price moves, half size cuts), keeping about 1,000 resting orders.  Commands are
  generated against a shadow engine so every cancel and amend targets a live order;
  the timed engine replays exactly the same stream.

Per workload: ``--repeat`` throughput passes without per-call timers (median reported),
alternating with passes of the **baseline** — a minimal price-time book (dict of
price -> deque, a heap per side with lazy deletion, no validation, no events, no fees,
no market data) fed the same command objects in the same process — and then one pass
with ``time.perf_counter_ns`` around every call for p50/p99/p99.9 latency (the timer's
own cost is printed once).  The ratio is engine ops/s divided by baseline ops/s.  The
garbage collector stays on with default thresholds, as in a service that does not
tune it; ``--gc off`` shows how much of the cost is the collector walking a large
live heap (the inserts book grows to ~235,000 resting orders).  Throughput passes use
wall time; ``--clock cpu`` times them in this process's CPU time instead, which other
processes on a loaded, shared machine do not inflate (the load average is printed).
"""

import argparse
import gc
import heapq
import os
import platform
import random
import statistics
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import cast

import orjson

if __package__ in (None, ""):
    # Running as a script: make the repository root importable.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.matching.engine import (
    AddSymbol,
    AmendOrder,
    CancelOrder,
    Command,
    Event,
    MatchingEngine,
    SubmitOrder,
    SymbolSpec,
)
from services.matching.engine.book import Order
from services.matching.engine.constants import BUY, GTC, IOC, LIMIT, SELL
from services.matching.engine.events import KIND, ORDER, ORDER_ORDER, ORDER_STATUS
from services.matching.runner import run_to_jsonl

SYMBOL = "BTC-USDT"
MID = 500_000  # ticks (50,000.0 at a 0.1 tick)
MIX_TARGET_RESTING = 1_000
ACCOUNTS = [f"acct{i}" for i in range(100)]


def symbol_spec() -> SymbolSpec:
    # tick 0.1, lot 0.001, min 1 lot, maker 1 bp, taker 5 bps, no price band.
    return SymbolSpec(SYMBOL, 1, 1, 1, 3, 1, 100, 500)


def new_engine() -> MatchingEngine:
    engine = MatchingEngine()
    engine.process(AddSymbol(symbol_spec()))
    return engine


# Workloads ---------------------------------------------------------------------------


def inserts_workload(count: int, seed: int) -> list[Command]:
    rng = random.Random(seed)
    commands: list[Command] = []
    for i in range(count):
        if i % 2 == 0:
            side, price = BUY, MID + rng.randint(-20, 2)
        else:
            side, price = SELL, MID + rng.randint(-3, 20)
        commands.append(
            SubmitOrder(SYMBOL, rng.choice(ACCOUNTS), f"i{i}", side, LIMIT, rng.randint(1, 10), price, GTC)
        )
    return commands


class _LiveSet:
    """Live (account, client id) keys with O(1) add, remove and random choice."""

    def __init__(self) -> None:
        self.keys: list[tuple[str, str]] = []
        self.index: dict[tuple[str, str], int] = {}

    def add(self, key: tuple[str, str]) -> None:
        if key not in self.index:
            self.index[key] = len(self.keys)
            self.keys.append(key)

    def discard(self, key: tuple[str, str]) -> None:
        position = self.index.pop(key, None)
        if position is None:
            return
        last = self.keys.pop()
        if position < len(self.keys):
            self.keys[position] = last
            self.index[last] = position


def mix_workload(count: int, seed: int) -> list[Command]:
    rng = random.Random(seed)
    shadow = new_engine()
    live = _LiveSet()
    warmup = [
        SubmitOrder(
            SYMBOL,
            rng.choice(ACCOUNTS),
            f"w{i}",
            BUY if i % 2 == 0 else SELL,
            LIMIT,
            rng.randint(1, 10),
            MID - rng.randint(1, 60) if i % 2 == 0 else MID + rng.randint(1, 60),
            GTC,
        )
        for i in range(MIX_TARGET_RESTING)
    ]
    for submit in warmup:
        _track(shadow.process(submit), live)
    commands: list[Command] = list(warmup)
    for command in mixed_commands(shadow, live, rng):
        if len(commands) >= MIX_TARGET_RESTING + count:
            break
        _track(shadow.process(command), live)
        commands.append(command)
    return commands


def mixed_commands(engine: MatchingEngine, live: _LiveSet, rng: random.Random) -> Iterator[Command]:
    """The mix, one command at a time, from ``engine``'s current state: the caller processes each
    command (and ``_track``s its events into ``live``) before asking for the next."""
    serial = 0
    command: Command
    while True:
        roll = rng.random()
        if roll < 0.5 or not live.keys:
            serial += 1
            side = rng.choice((BUY, SELL))
            # Feedback keeps the book near its target size: the fuller it is, the more
            # limits are priced through the touch and trade instead of resting.
            excess = (len(live.keys) - MIX_TARGET_RESTING) / MIX_TARGET_RESTING
            aggressive = rng.random() < min(0.9, max(0.05, 0.2 + 4 * excess))
            offset = rng.randint(-8, 0) if aggressive else rng.randint(1, 60)
            price = MID - offset if side == BUY else MID + offset
            command = SubmitOrder(
                SYMBOL, rng.choice(ACCOUNTS), f"m{serial}", side, LIMIT, rng.randint(1, 10), price, GTC
            )
        elif roll < 0.6:
            serial += 1
            side = rng.choice((BUY, SELL))
            price = MID + 5 if side == BUY else MID - 5
            command = SubmitOrder(
                SYMBOL, rng.choice(ACCOUNTS), f"m{serial}", side, LIMIT, rng.randint(1, 20), price, IOC
            )
        elif roll < 0.9:
            account, client_order_id = rng.choice(live.keys)
            command = CancelOrder(SYMBOL, account, client_order_id)
        else:
            account, client_order_id = rng.choice(live.keys)
            order = engine.order(account, client_order_id)
            assert order is not None
            assert order.price is not None
            if rng.random() < 0.5 and order.quantity - order.filled > 1:
                command = AmendOrder(SYMBOL, account, client_order_id, None, order.quantity - 1)
            else:
                offset = rng.randint(1, 60)
                new_price = MID - offset if order.side == BUY else MID + offset
                if new_price == order.price:
                    new_price += -1 if order.side == BUY else 1
                command = AmendOrder(SYMBOL, account, client_order_id, new_price, None)
        yield command


def _track(events: Sequence[Event], live: _LiveSet) -> None:
    for event in events:
        if event[KIND] == ORDER:
            order = cast(Order, event[ORDER_ORDER])
            key = (order.account, order.client_order_id)
            status = event[ORDER_STATUS]
            if status in ("filled", "cancelled", "expired"):
                live.discard(key)
            elif status == "accepted" and order.tif == GTC:
                live.add(key)


# Baseline ----------------------------------------------------------------------------


class BaselineBook:
    """Minimal price-time book: the floor any Python engine is measured against.

    dict price -> deque of [order id, quantity] entries, one heap of prices per side
    (bids negated) with lazy deletion, O(1) cancel by zeroing the entry.  No
    validation, no events, no fees, no market data, no self-trade checks.
    """

    def __init__(self) -> None:
        self.levels: tuple[dict[int, deque[list[object]]], dict[int, deque[list[object]]]] = ({}, {})
        self.heaps: tuple[list[int], list[int]] = ([], [])
        self.orders: dict[object, tuple[int, int, list[object]]] = {}

    def process(self, command: Command) -> None:
        if type(command) is SubmitOrder:
            key = (command.account, command.client_order_id)
            price = command.price
            assert price is not None
            remaining = self._match(command.side, price, command.quantity)
            if remaining and command.tif == GTC:
                self._rest(key, command.side, price, remaining)
        elif type(command) is CancelOrder:
            self._cancel((command.account, command.client_order_id))
        elif type(command) is AmendOrder:
            key = (command.account, command.client_order_id)
            found = self.orders.get(key)
            if found is None:
                return
            side, price, entry = found
            quantity = entry[1]
            assert isinstance(quantity, int)
            self._cancel(key)
            new_price = price if command.price is None else command.price
            new_quantity = quantity if command.quantity is None else command.quantity
            remaining = self._match(side, new_price, new_quantity)
            if remaining:
                self._rest(key, side, new_price, remaining)

    def _rest(self, key: object, side: int, price: int, quantity: int) -> None:
        levels = self.levels[side]
        queue = levels.get(price)
        if queue is None:
            queue = levels[price] = deque()
            heapq.heappush(self.heaps[side], -price if side == BUY else price)
        entry: list[object] = [key, quantity]
        queue.append(entry)
        self.orders[key] = (side, price, entry)

    def _cancel(self, key: object) -> None:
        found = self.orders.pop(key, None)
        if found is not None:
            found[2][1] = 0

    def _match(self, side: int, price: int, quantity: int) -> int:
        opposite = SELL if side == BUY else BUY
        levels = self.levels[opposite]
        heap = self.heaps[opposite]
        orders = self.orders
        while quantity and heap:
            best = heap[0] if opposite == SELL else -heap[0]
            if (side == BUY and best > price) or (side == SELL and best < price):
                break
            queue = levels.get(best)
            while queue and quantity:
                entry = queue[0]
                resting = entry[1]
                assert isinstance(resting, int)
                if resting == 0:
                    queue.popleft()
                    continue
                fill = resting if resting < quantity else quantity
                quantity -= fill
                entry[1] = resting - fill
                if resting == fill:
                    queue.popleft()
                    orders.pop(entry[0], None)
            if not queue:
                levels.pop(best, None)
                heapq.heappop(heap)
        return quantity


# Wire path ---------------------------------------------------------------------------


def to_jsonl(commands: Sequence[Command]) -> list[bytes]:
    """The commands as the JSONL lines ``perpwatch venue run`` reads."""
    spec = symbol_spec()
    names = {BUY: "buy", SELL: "sell"}
    tifs = {GTC: "GTC", IOC: "IOC"}
    lines = [
        orjson.dumps(
            {
                "type": "add_symbol",
                "symbol": SYMBOL,
                "tick_size": "0.1",
                "lot_size": "0.001",
                "min_qty": "0.001",
                "maker_fee_bps": "1",
                "taker_fee_bps": "5",
            }
        )
    ]
    for command in commands:
        wire: dict[str, object] = {
            "symbol": SYMBOL,
            "account": command.account,  # type: ignore[union-attr]
            "client_order_id": command.client_order_id,  # type: ignore[union-attr]
        }
        if isinstance(command, SubmitOrder):
            assert command.price is not None
            wire |= {
                "type": "submit",
                "side": names[command.side],
                "order_type": "limit",
                "tif": tifs[command.tif],
                "price": spec.format_price(command.price),
                "quantity": spec.format_quantity(command.quantity),
            }
        elif isinstance(command, CancelOrder):
            wire["type"] = "cancel"
        elif isinstance(command, AmendOrder):
            wire["type"] = "amend"
            if command.price is not None:
                wire["price"] = spec.format_price(command.price)
            if command.quantity is not None:
                wire["quantity"] = spec.format_quantity(command.quantity)
        lines.append(orjson.dumps(wire))
    return lines


def runner_throughput(lines: Sequence[bytes], prefix: int, clock: Callable[[], float]) -> float:
    """JSON decode + core + JSON encode, as ``perpwatch venue run`` does (minus stdout)."""
    engine = MatchingEngine()
    for _ in run_to_jsonl(lines[: prefix + 1], engine):
        pass
    timed = lines[prefix + 1 :]
    gc.collect()
    start = clock()
    for _ in run_to_jsonl(timed, engine):
        pass
    return len(timed) / (clock() - start)


# Measurement -------------------------------------------------------------------------


def throughput(
    process: Callable[[Command], object], commands: Sequence[Command], clock: Callable[[], float]
) -> float:
    gc.collect()  # start every pass from the same collector state (works with gc disabled too)
    start = clock()
    for command in commands:
        process(command)
    return len(commands) / (clock() - start)


def latencies(process: Callable[[Command], object], commands: Sequence[Command]) -> list[int]:
    gc.collect()
    clock = time.perf_counter_ns
    samples = [0] * len(commands)
    for i, command in enumerate(commands):
        start = clock()
        process(command)
        samples[i] = clock() - start
    return samples


def timer_overhead_ns(samples: int = 200_000) -> float:
    clock = time.perf_counter_ns
    deltas = []
    for _ in range(samples):
        start = clock()
        deltas.append(clock() - start)
    deltas.sort()
    return deltas[len(deltas) // 2]


def percentile(sorted_samples: Sequence[int], fraction: float) -> int:
    return sorted_samples[min(len(sorted_samples) - 1, int(fraction * len(sorted_samples)))]


def _prepared_engine(commands: Sequence[Command], prefix: int) -> MatchingEngine:
    engine = new_engine()
    for command in commands[:prefix]:
        engine.process(command)
    return engine


def _prepared_baseline(commands: Sequence[Command], prefix: int) -> BaselineBook:
    baseline = BaselineBook()
    for command in commands[:prefix]:
        baseline.process(command)
    return baseline


def run_workload(
    name: str, commands: list[Command], prefix: int, repeat: int, clock: Callable[[], float]
) -> None:
    """Time ``commands[prefix:]``; the prefix (book warm-up) runs untimed first.

    Engine and baseline passes alternate ``repeat`` times on fresh state so that a
    noisy neighbour on the machine hits both alike; medians are reported.
    """
    timed = commands[prefix:]
    engine_rates: list[float] = []
    baseline_rates: list[float] = []
    events_per_op = 0.0
    resting = 0
    for _ in range(repeat):
        engine = _prepared_engine(commands, prefix)
        before = engine.seq
        engine_rates.append(throughput(engine.process, timed, clock))
        events_per_op = (engine.seq - before) / len(timed)
        resting = len(engine.live_orders())
        del engine
        baseline = _prepared_baseline(commands, prefix)
        baseline_rates.append(throughput(baseline.process, timed, clock))
        del baseline
    engine = _prepared_engine(commands, prefix)
    samples = latencies(engine.process, timed)
    samples.sort()
    engine_rate = statistics.median(engine_rates)
    baseline_rate = statistics.median(baseline_rates)

    print(
        f"{name}: {len(timed):,} core operations, {events_per_op:.2f} events/op, "
        f"{resting:,} orders resting at the end"
    )
    print(
        f"  engine    {engine_rate:>12,.0f} ops/s  (median of {repeat}; "
        f"range {min(engine_rates):,.0f} - {max(engine_rates):,.0f})"
    )
    print(
        f"  latency   p50 {percentile(samples, 0.5) / 1000:.2f} us   "
        f"p99 {percentile(samples, 0.99) / 1000:.2f} us   "
        f"p99.9 {percentile(samples, 0.999) / 1000:.2f} us   "
        f"max {samples[-1] / 1000:.1f} us  (separate pass, timer included)"
    )
    print(
        f"  baseline  {baseline_rate:>12,.0f} ops/s  (minimal dict+deque+heap book: no validation, no events)"
    )
    print(f"  ratio     {engine_rate / baseline_rate:.2f}x of baseline")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--ops", type=int, default=300_000, help="timed operations per workload")
    parser.add_argument("--repeat", type=int, default=3, help="throughput passes per workload (median)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workload", choices=("inserts", "mix", "all"), default="all")
    parser.add_argument(
        "--gc",
        choices=("on", "off"),
        default="on",
        help="'off' disables the cyclic garbage collector during the run, to show its share",
    )
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="'cpu' times passes in this process's CPU time: steadier on a shared, loaded machine",
    )
    args = parser.parse_args(argv)
    clock = time.perf_counter if args.clock == "wall" else time.process_time
    if args.gc == "off":
        gc.disable()

    print(f"python {platform.python_version()} ({platform.python_implementation()}) on {platform.machine()}")
    print(
        f"timer overhead (perf_counter_ns pair, median): {timer_overhead_ns():.0f} ns; gc {args.gc}; "
        f"clock {args.clock}; load average {os.getloadavg()[0]:.2f}"
    )
    if args.workload in ("inserts", "all"):
        run_workload("inserts", inserts_workload(args.ops, args.seed), 0, args.repeat, clock)
    if args.workload in ("mix", "all"):
        commands = mix_workload(args.ops, args.seed)
        prefix = len(commands) - args.ops
        run_workload("mix", commands, prefix, args.repeat, clock)
        rate = runner_throughput(to_jsonl(commands), prefix, clock)
        print(f"  runner    {rate:>12,.0f} ops/s  (JSONL decode + core + event encode, one pass)")


if __name__ == "__main__":
    main()
