"""Benchmark of the alert core against a bare threshold loop (``python benchmarks/alert_core.py``).

Two loads, both decoded into contract models once (the service gets decoded events from the
runtime, so decoding is not the alert core's cost):

- **real**: the Binance USD-M capture (../shared/data/hftbacktest/usdm/btcusdt_20240808.gz),
  normalized: 21,313 ``md.trades.v1`` and 66,089 ``md.bbo.v1`` events, with ``--rules`` rules
  (default 100): threshold rules with ``for``/``keep_firing_for``/reminders on bbo prices and
  sizes, windowed sums of trade notional, and crossings of the trade price, with thresholds at
  quantiles of the real values so that series really change state;
- **wide**: synthetic 1 s candles for 12 venues x 50 symbols over ``--seconds`` seconds (default
  120), every rule scoped to any venue and symbol (600 series per rule), to show the cost per
  series.

Measured: events/s through ``AlertEngine.on_event`` (core) and through
``AlertProcessor.handle`` (adds the ``alerts.v1`` events and history rows, no I/O); two
baselines run in the same process: the *floor*, a bare loop doing, per event and rule, the
attribute read and one ``Decimal`` comparison with no state at all; and a *naive* stateful
evaluator (pending/firing with ``for`` and ``keep_firing_for`` per series in a dict, no windows,
crossings, reminders, lanes or notifications). Ratios are core events/s over baseline events/s. Peak memory (tracemalloc)
of one core run is printed too.
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
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiokafka.structs import ConsumerRecord

from schemas.alert import AlertRule, duration_ns
from schemas.common import ExchangeId
from schemas.market_data import Candle
from services.alert.core.catalog import registered_catalog
from services.alert.core.engine import AlertEngine
from services.alert.service import AlertProcessor
from services.ingest.normalizer import FrameRejected
from services.ingest.replay import normalize_frame, open_capture
from services.ingest.topics import topic_for
from services.runtime.service import Output

DEFAULT_CAPTURE = Path(__file__).resolve().parents[2] / "shared" / "data" / "hftbacktest" / "usdm"
DEFAULT_CAPTURE = DEFAULT_CAPTURE / "btcusdt_20240808.gz"
INPUTS = ("md.trades.v1", "md.bbo.v1", "md.candles.v1")
Event = tuple[str, Any]


def load_real(capture: Path) -> list[Event]:
    opened = open_capture(capture)
    events: list[Event] = []
    for frame in opened.frames:
        try:
            normalized = normalize_frame(opened.adapter, frame)
        except FrameRejected:
            continue
        for event in normalized or ():
            topic = topic_for(event)
            if topic in ("md.trades.v1", "md.bbo.v1"):
                events.append((topic, event))
    return events


def quantile(values: list[Decimal], q: float) -> Decimal:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def real_rules(events: list[Event], count: int) -> list[AlertRule]:
    fields = {
        "md.bbo.v1": ["bid_price", "ask_price", "bid_quantity", "ask_quantity"],
        "md.trades.v1": ["price", "notional", "quantity"],
    }
    values = {
        (topic, name): [getattr(e, name) for t, e in events if t == topic]
        for topic, names in fields.items()
        for name in names
    }
    rng = random.Random(7)
    rules = []
    for i in range(count):
        kind = i % 4
        topic = "md.trades.v1" if kind in (1, 2) else "md.bbo.v1"
        name = rng.choice(fields[topic])
        threshold = quantile(values[(topic, name)], rng.uniform(0.3, 0.95))
        base: dict[str, Any] = {
            "id": f"r{i}",
            "name": f"rule {i}",
            "metric": f"{topic}.{name}",
            "threshold": str(threshold),
        }
        if kind == 0 or kind == 3:
            base |= {
                "condition": rng.choice([">", "<"]),
                "for": rng.choice(["0s", "1s", "5s"]),
                "keep_firing_for": rng.choice(["0s", "2s"]),
                "repeat_interval": "30s",
            }
        elif kind == 1:
            total = sum(values[(topic, "notional")], Decimal(0)) / 340  # per second over the capture
            base |= {
                "metric": "md.trades.v1.notional",
                "condition": ">",
                "aggregate": "sum",
                "window": rng.choice(["1s", "10s"]),
                "threshold": str(int(total * Decimal(rng.randint(1, 15)))),
                "repeat_interval": "1m",
            }
        else:
            base |= {
                "metric": "md.trades.v1.price",
                "condition": rng.choice(["crosses above", "crosses below"]),
                "keep_firing_for": "3s",
                "threshold": str(quantile(values[(topic, "price")], rng.uniform(0.2, 0.8))),
            }
        rules.append(AlertRule.model_validate(base))
    return rules


def wide_load(seconds: int) -> list[Event]:
    venues = list(ExchangeId)[:12]
    rng = random.Random(11)
    price = {(v, s): Decimal(100 + s) for v in venues for s in range(50)}
    events: list[Event] = []
    base = 1_723_161_240 * 10**9
    for t in range(seconds):
        for venue in venues:
            for s in range(50):
                p = price[(venue, s)] = max(
                    Decimal(1), price[(venue, s)] + Decimal(rng.randint(-20, 20)) / 10
                )
                ts = base + t * 10**9
                events.append(
                    (
                        "md.candles.v1",
                        Candle.model_construct(
                            exchange=venue,
                            symbol=f"S{s}-USDT-PERP",
                            native_symbol=f"S{s}USDT",
                            exchange_ts=ts,
                            receive_ts=ts,
                            interval_s=1,
                            close_ts=ts + 10**9 - 1,
                            open=p,
                            high=p,
                            low=p,
                            close=p,
                            volume=Decimal(rng.randint(1, 100)),
                            notional=p,
                            trade_count=1,
                            closed=True,
                        ),
                    )
                )
    return events


def wide_rules(count: int) -> list[AlertRule]:
    """Thresholds out of the usual range: a few series fire, as alerts should (rare by design)."""
    rng = random.Random(5)
    rules = []
    for i in range(count):
        if i % 2:
            above = rng.random() < 0.5
            rule = {
                "metric": "md.candles.v1.close",
                "condition": ">" if above else "<",
                "threshold": str(rng.randint(150, 170) if above else rng.randint(80, 95)),
                "for": "3s",
                "keep_firing_for": "10s",
                "repeat_interval": "20s",
            }
        else:
            rule = {
                "metric": "md.candles.v1.volume",
                "condition": ">",
                "aggregate": "sum",
                "window": "10s",
                "threshold": str(rng.randint(750, 800)),
                "keep_firing_for": "5s",
                "repeat_interval": "1m",
            }
        rules.append(AlertRule.model_validate({"id": f"w{i}", "name": f"wide {i}", **rule}))
    return rules


def run_core(events: list[Event], rules: list[AlertRule]) -> tuple[float, int]:
    engine = AlertEngine(registered_catalog(INPUTS), rules)
    on_event = engine.on_event
    notes = 0
    started = time.perf_counter()
    for topic, event in events:
        notes += len(on_event(topic, event))
    return time.perf_counter() - started, notes


def run_processor(events: list[Event], rules: list[AlertRule]) -> float:
    engine = AlertEngine(registered_catalog(INPUTS), rules)
    processor = AlertProcessor(engine, INPUTS, webhooks=("ops",))
    records = [
        ConsumerRecord(topic, 0, i, 0, 0, None, b"", None, 0, 0, ()) for i, (topic, _) in enumerate(events)
    ]
    out = Output()
    handle = processor.handle
    started = time.perf_counter()
    for record, (_, event) in zip(records, events, strict=True):
        handle(record, event, out)
    return time.perf_counter() - started


def run_floor(events: list[Event], rules: list[AlertRule]) -> float:
    """Per event and rule of its topic: read the field, compare with the threshold. No state."""
    by_topic: dict[str, list[tuple[str, Decimal]]] = {}
    for rule in rules:
        topic, _, name = rule.metric.rpartition(".")
        by_topic.setdefault(topic, []).append((name, rule.threshold))
    hits = 0
    started = time.perf_counter()
    for topic, event in events:
        for name, threshold in by_topic.get(topic, ()):
            if getattr(event, name) > threshold:
                hits += 1
    return time.perf_counter() - started


def run_naive(events: list[Event], rules: list[AlertRule]) -> float:
    """A naive stateful evaluator: per event and rule, compare and keep pending/firing per
    (rule, exchange, symbol) in a dict, with `for` and `keep_firing_for`; no windows (the latest
    value instead), crossings as plain comparisons, no reminders, no lanes, no notifications."""
    by_topic: dict[str, list[tuple[str, str, Decimal, bool, int, int]]] = {}
    for rule in rules:
        topic, _, name = rule.metric.rpartition(".")
        above = rule.condition.value in (">", ">=", "crosses above")
        for_ns, keep_ns = duration_ns(rule.for_), duration_ns(rule.keep_firing_for)
        by_topic.setdefault(topic, []).append((rule.id, name, rule.threshold, above, for_ns, keep_ns))
    state: dict[tuple[str, str, str], list[int]] = {}  # [pending_since, firing, false_since]
    started = time.perf_counter()
    for topic, event in events:
        ts = event.exchange_ts
        series = (event.exchange.value, event.symbol)
        for rule_id, name, threshold, above, for_ns, keep_ns in by_topic.get(topic, ()):
            value = getattr(event, name)
            holds = value > threshold if above else value < threshold
            key = (rule_id, *series)
            st = state.get(key)
            if st is None:
                st = state[key] = [-1, 0, -1]
            if holds:
                st[2] = -1
                if st[0] < 0:
                    st[0] = ts
                if not st[1] and ts - st[0] >= for_ns:
                    st[1] = 1
            else:
                st[0] = -1
                if st[1]:
                    if st[2] < 0:
                        st[2] = ts
                    if ts - st[2] >= keep_ns:
                        st[1] = 0
    return time.perf_counter() - started


def best_of(repeats: int, run: Callable[[], float]) -> float:
    times = []
    for _ in range(repeats):
        gc.collect()
        times.append(run())
    return min(times)


def peak_memory(events: list[Event], rules: list[AlertRule]) -> int:
    gc.collect()
    tracemalloc.start()
    engine = AlertEngine(registered_catalog(INPUTS), rules)
    for topic, event in events:
        engine.on_event(topic, event)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def report(name: str, events: list[Event], rules: list[AlertRule], repeats: int) -> None:
    n = len(events)
    per_topic: dict[str, int] = {}
    for rule in rules:
        topic = rule.metric.rpartition(".")[0]
        per_topic[topic] = per_topic.get(topic, 0) + 1
    evaluations = sum(per_topic.get(topic, 0) for topic, _ in events)
    core = best_of(repeats, lambda: run_core(events, rules)[0])
    _, notes = run_core(events, rules)
    processor = best_of(repeats, lambda: run_processor(events, rules))
    floor = best_of(repeats, lambda: run_floor(events, rules))
    naive = best_of(repeats, lambda: run_naive(events, rules))
    memory = peak_memory(events, rules)
    print(f"[{name}] {n:,} events, {len(rules)} rules, {notes:,} notifications")
    print(f"  core       {n / core:12,.0f} events/s  {evaluations / core:14,.0f} rule evaluations/s")
    print(f"  processor  {n / processor:12,.0f} events/s")
    print(f"  floor      {n / floor:12,.0f} events/s  (attribute read + one Decimal comparison per rule)")
    print(f"  naive      {n / naive:12,.0f} events/s  (stateful for/keep per series in a dict, nothing else)")
    print(
        f"  ratio core/floor: {floor / core:.2f}   core/naive: {naive / core:.2f}   "
        f"processor/naive: {naive / processor:.2f}"
    )
    print(f"  peak memory of a core run (tracemalloc): {memory / 2**20:.1f} MiB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--capture", type=Path, default=DEFAULT_CAPTURE)
    parser.add_argument("--rules", type=int, default=100)
    parser.add_argument("--wide-rules", type=int, default=10)
    parser.add_argument("--seconds", type=int, default=120)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()}, {platform.system()}")
    if args.capture.exists():
        started = time.perf_counter()
        events = load_real(args.capture)
        print(f"loaded {len(events):,} real events in {time.perf_counter() - started:.1f}s")
        report("real Binance capture", events, real_rules(events, args.rules), args.repeats)
    else:
        print(f"capture not found at {args.capture}: real load skipped")
    report("wide: 12 venues x 50 symbols", wide_load(args.seconds), wide_rules(args.wide_rules), args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
