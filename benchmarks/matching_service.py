"""End-to-end benchmark of the venue service (``python benchmarks/matching_service.py``).

Needs a broker: ``PERPWATCH_KAFKA_BOOTSTRAP`` from the environment, else the local stack
(``deploy/local/stack.sh``). The service runs as its own process
(``python -m services.matching.service``), exactly as deployed, on a fresh topic namespace:

* **throughput**: ``--commands`` commands (the deterministic workload of
  ``services/matching/workload.py``: limits around a drifting mid, IOC/market orders, cancels,
  amends, rejections) are published first; the clock runs from the service being ready to the
  venue's committed input offset reaching the end — every command decoded, matched, its outputs
  and offsets committed in Kafka transactions, snapshots included.
* **latency**: with the service caught up and idle, a second symbol's commands are sent at
  ``--rate`` per second (``--half-rate``: half the throughput just measured); for each order that
  trades, the time from ``send`` to the first of its trades being readable on ``venue.trades.v1``
  with read_committed (p50/p99/max).
* **baseline**: the same commands through the core alone in this process (``runner``: decode,
  match, encode each event to JSON bytes, as ``perpwatch venue run`` does), so the ratio
  shows what Kafka and transactions cost on this machine.
"""

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

if __package__ in (None, ""):
    # Running as a script: make the repository root importable.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._stack import drop_topics, free_port
from services.matching.engine import MatchingEngine
from services.matching.runner import run_to_jsonl
from services.matching.service import MatchingSettings
from services.matching.topics import COMMANDS_TOPIC, TRADES_TOPIC
from services.matching.workload import SYMBOL, venue_command_lines
from services.runtime.kafka import make_producer
from services.runtime.settings import Settings
from services.runtime.topics import ensure_topics, partitions_of

REPO_ROOT = Path(__file__).resolve().parents[1]
LATENCY_SYMBOL = "ETH-USDT"


def kafka_bootstrap() -> str:
    kafka = os.environ.get("PERPWATCH_KAFKA_BOOTSTRAP")
    if kafka:
        return kafka
    script = REPO_ROOT / "deploy" / "local" / "stack.sh"
    subprocess.run(["bash", str(script), "start"], check=True, capture_output=True)
    env = subprocess.run(["bash", str(script), "env"], check=True, capture_output=True, text=True).stdout
    return dict(line.split("=", 1) for line in env.splitlines())["PERPWATCH_KAFKA_BOOTSTRAP"]


def baseline(lines: list[bytes], repeat: int = 3) -> float:
    """Commands/s of the core alone (decode, match, encode), median of ``repeat`` passes."""
    rates = []
    for _ in range(repeat):
        started = time.perf_counter()
        for _chunk in run_to_jsonl(lines, MatchingEngine()):
            pass
        rates.append(len(lines) / (time.perf_counter() - started))
    return statistics.median(rates)


def _tail(log: Path) -> str:
    return log.read_text()[-3000:]


def _remove(log: Path) -> None:
    log.unlink(missing_ok=True)


def start_service(settings: Settings, port: int, log: Path, max_batch: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PERPWATCH_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "PERPWATCH_TOPIC_NAMESPACE": settings.topic_namespace,
        "PERPWATCH_CONSUMER_GROUP_PREFIX": settings.consumer_group_prefix,
        "PERPWATCH_TOPIC_PARTITIONS": str(settings.topic_partitions),
        "PERPWATCH_PRODUCER_LINGER_MS": str(settings.producer_linger_ms),
        "PERPWATCH_METRICS_PORT": str(port),
        "PERPWATCH_LOG_FORMAT": "json",
        "PERPWATCH_MATCHING_MAX_BATCH": str(max_batch),
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "services.matching.service"],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def wait_ready(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    def ready() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as answer:
                return bool(answer.status == 200)
        except OSError:
            return False

    deadline = time.monotonic() + 60
    while not await asyncio.to_thread(ready):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"venue did not become ready:\n{_tail(log)}")
        await asyncio.sleep(0.05)


async def committed_total(settings: Settings, group: str) -> int:
    name = settings.topic_name(COMMANDS_TOPIC)
    probe = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, group_id=group, enable_auto_commit=False
    )
    await probe.start()
    try:
        partitions = [TopicPartition(name, p) for p in await partitions_of(settings, name)]
        return sum([(await probe.committed(tp)) or 0 for tp in partitions])
    finally:
        await probe.stop()


async def publish(settings: Settings, lines: list[bytes], symbol: str) -> None:
    producer = make_producer(settings)
    await producer.start()
    try:
        for line in lines:
            await producer.send(settings.topic_name(COMMANDS_TOPIC), line, key=symbol.encode())
        await producer.flush()
    finally:
        await producer.stop()


async def latency(settings: Settings, lines: list[bytes], rate: float) -> list[float]:
    """Milliseconds from sending an order to its first trade being committed and readable."""
    topic = settings.topic_name(TRADES_TOPIC)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, isolation_level="read_committed")
    await consumer.start()
    producer = make_producer(settings)
    await producer.start()
    sent_at: dict[str, float] = {}
    seen: set[tuple[str, float]] = set()
    samples: list[float] = []
    done = asyncio.Event()

    async def read() -> None:
        while not done.is_set():
            batches = await consumer.getmany(timeout_ms=50)
            now = time.perf_counter()
            for records in batches.values():
                for record in records:
                    trade = orjson.loads(record.value or b"{}")
                    taker = str(trade["taker_order_id"])
                    sent = sent_at.get(taker)
                    if sent is not None and (taker, sent) not in seen:
                        seen.add((taker, sent))
                        samples.append((now - sent) * 1000)

    try:
        partitions = [TopicPartition(topic, p) for p in await partitions_of(settings, topic)]
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        reader = asyncio.create_task(read())
        step = 0.01
        per_step = max(1, round(rate * step))
        started = time.perf_counter()
        for index, line in enumerate(lines):
            command = orjson.loads(line)
            if "client_order_id" in command:
                sent_at[str(command["client_order_id"])] = time.perf_counter()
            await producer.send(settings.topic_name(COMMANDS_TOPIC), line, key=LATENCY_SYMBOL.encode())
            if (index + 1) % per_step == 0:
                delay = started + (index + 1) / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
        await producer.flush()
        await asyncio.sleep(2)  # the last transactions commit
        done.set()
        await reader
        return samples
    finally:
        await producer.stop()
        await consumer.stop()


async def run(args: argparse.Namespace) -> None:
    run_id = uuid.uuid4().hex[:8]
    settings = Settings(
        kafka_bootstrap=kafka_bootstrap(),
        topic_partitions=args.partitions,
        topic_namespace=f"bench.{run_id}.",
        consumer_group_prefix=f"bench.{run_id}",
        producer_linger_ms=args.linger_ms,
    )
    group = f"{settings.consumer_group_prefix}.matching"
    log = Path(f"/tmp/matching_service_bench_{run_id}.log")
    lines = venue_command_lines(args.commands, seed=7, symbol=SYMBOL)
    core_rate = baseline(lines)
    await ensure_topics(settings)
    await publish(settings, lines, SYMBOL)
    port = free_port()
    service = start_service(settings, port, log, args.max_batch)
    try:
        await wait_ready(service, port, log)
        started = time.perf_counter()
        while await committed_total(settings, group) < len(lines):
            if service.poll() is not None:
                raise RuntimeError(f"venue exited:\n{_tail(log)}")
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
        rate = len(lines) / elapsed / 2 if args.half_rate else args.rate
        probe = venue_command_lines(int(rate * args.seconds), seed=3, symbol=LATENCY_SYMBOL, id_prefix="l")
        samples = await latency(settings, probe, rate)
    finally:
        service.send_signal(signal.SIGTERM)
        service.wait(timeout=60)
    await drop_topics(settings)
    _remove(log)
    service_rate = len(lines) / elapsed
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, linger {args.linger_ms} ms, batch {args.max_batch}"
    )
    print(
        f"throughput: {len(lines):,} commands in {elapsed:.2f} s = {service_rate:,.0f} commands/s through Kafka "
        f"(core alone {core_rate:,.0f} commands/s, ratio {service_rate / core_rate:.2f}x)"
    )
    if samples:
        ordered = sorted(samples)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        print(
            f"latency at {rate:,.0f} commands/s: {len(samples):,} trading orders, "
            f"p50 {statistics.median(ordered):.1f} ms, p99 {p99:.1f} ms, max {ordered[-1]:.1f} ms "
            "(send -> first trade readable with read_committed)"
        )
    else:
        print("latency: no trades observed")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--commands", type=int, default=50_000, help="Commands of the throughput load.")
    parser.add_argument("--rate", type=float, default=1000.0, help="Commands/s of the latency load.")
    parser.add_argument(
        "--half-rate", action="store_true", help="Latency load at half the throughput measured (not --rate)."
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="Duration of the latency load.")
    parser.add_argument("--partitions", type=int, default=1, help="Partitions of the venue topics.")
    parser.add_argument(
        "--max-batch",
        type=int,
        default=MatchingSettings().max_batch,
        help="Commands per transaction at most.",
    )
    parser.add_argument("--linger-ms", type=int, default=2, help="Producer linger of the venue and the feed.")
    asyncio.run(run(parser.parse_args()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
