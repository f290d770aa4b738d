"""Each stream service through Kafka and PostgreSQL against its own core (``python benchmarks/stream_service.py``).

For every named service of the registry (default: market-recorder, liquidity, analytics,
arbitrage, alert), in one process:

1. **Inputs.** The real Binance USD-M and COIN-M captures of 2024-08-08, normalized
   (``perpwatch normalize``) and run through the book-builder's processor offline, so that
   ``book.l2.v1``/``book.bbo.v1`` exist; for the alert service also through the liquidity and
   analytics processors (its inputs are their outputs). Only the service's own input topics
   are kept, merged by exchange time.
2. **Core (baseline):** the service's processor over those records through the offline runner
   (``services/runtime/offline.py``: decode, handle, end_batch per 2,000 records), the way
   ``perpwatch analyze`` runs it: records/s.
3. **Service:** the records are produced to private topics first, then ``perpwatch run NAME``
   (a real process) consumes the backlog: decode, core, rows committed to a private database,
   outputs published and offsets committed in one Kafka transaction. Records/s from its first
   fetch (when it counted its first consumed records, read from its ``/metrics``) to its last
   commit, and from process start (start-up, group join and first fetch included). Timing from
   the first commit instead would leave the whole first batch out and flatter bigger batches.

The ratio service/core is what the shell costs. Needs the local stack (``deploy/local/stack.sh
start``) or ``PERPWATCH_KAFKA_BOOTSTRAP`` and ``PERPWATCH_DATABASE_URL``; everything it creates
(database, topics, groups) is private to the run and removed at the end.
"""

import argparse
import asyncio
import io
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiokafka import AIOKafkaConsumer, TopicPartition

from benchmarks._stack import drop_topics, first_consumed_at, free_port, private_database, servers
from services.cli.normalize import normalize_file
from services.registry import build_processor
from services.runtime.kafka import make_producer
from services.runtime.offline import analyze
from services.runtime.paths import shared_data_dir
from services.runtime.settings import Settings
from services.runtime.topics import ensure_topics, partitions_of

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SERVICES = ("market-recorder", "liquidity", "analytics", "arbitrage", "alert")
CAPTURES = ("hftbacktest/usdm/btcusdt_20240808.gz", "hftbacktest/cm/btcusd_perp_20240808.gz")
# Settings each service runs with here (offline and as a process alike).
SERVICE_ENV = {
    "arbitrage": {"PERPWATCH_ARB_CROSS_QUOTE": "true", "PERPWATCH_ARB_RESTORE": "false"},
    # The built-in rules plus a windowed rule on every trade, so the alert service reads the
    # capture's trades too (its usual inputs, the analytics outputs, are a few records here).
    "alert": {
        "PERPWATCH_ALERT_RESTORE_HISTORY": "false",
        "PERPWATCH_ALERT_INPUTS": "md.trades.v1,md.candles.v1,liquidity.metrics.v1,liquidity.anomalies.v1",
        "PERPWATCH_ALERT_RULES_FILE": str(Path("/tmp") / "perpwatch_bench_alert_rules.json"),
    },
}
ALERT_RULES = {
    "rules": [
        {
            "id": "bench-flow",
            "name": "taker notional over 10 s",
            "metric": "md.trades.v1.notional",
            "condition": ">",
            "threshold": "2000000",
            "aggregate": "sum",
            "window": "10s",
            "keep_firing_for": "5s",
            "repeat_interval": "30s",
        }
    ]
}
# What a service's inputs are made of: the capture's md.* events, then these processors' outputs.
UPSTREAM = {"alert": ("liquidity", "analytics")}


def _exchange_ts(line: bytes) -> int:
    return int(orjson.loads(line)["event"].get("exchange_ts") or 0)


def normalized(data: Path) -> list[bytes]:
    """Both captures as md.* envelopes, then with the book-builder's book.* outputs, by event time."""
    lines: list[bytes] = []
    for relative in CAPTURES:
        out = io.BytesIO()
        normalize_file(data / relative, None, "hftbacktest", out)
        lines.extend(out.getvalue().splitlines())
    lines.sort(key=_exchange_ts)
    books = io.BytesIO()
    analyze(build_processor("book-builder"), lines, books)
    merged = lines + books.getvalue().splitlines()
    merged.sort(key=_exchange_ts)
    return merged


def inputs_of(name: str, lines: list[bytes]) -> list[bytes]:
    """The envelopes of ``name``'s input topics (after its upstream processors, if any)."""
    for upstream in UPSTREAM.get(name, ()):
        produced = io.BytesIO()
        analyze(build_processor(upstream), lines, produced)
        lines = sorted(lines + produced.getvalue().splitlines(), key=_exchange_ts)
    wanted = set(build_processor(name).inputs)
    return [line for line in lines if orjson.loads(line)["topic"] in wanted]


def core_rate(name: str, lines: list[bytes]) -> float:
    processor = build_processor(name)
    started = time.perf_counter()
    summary = analyze(processor, lines, io.BytesIO())
    seconds = time.perf_counter() - started
    consumed = sum(summary.inputs.values())
    if consumed != len(lines):
        raise RuntimeError(f"{name} offline consumed {consumed} of {len(lines)} records")
    return consumed / seconds


def _records(lines: list[bytes]) -> Iterator[tuple[str, bytes | None, bytes]]:
    for line in lines:
        envelope = orjson.loads(line)
        key = envelope.get("key")
        yield envelope["topic"], key.encode() if key else None, orjson.dumps(envelope["event"])


async def produce(settings: Settings, lines: list[bytes]) -> None:
    producer = make_producer(settings)
    await producer.start()
    try:
        for topic, key, value in _records(lines):
            await producer.send(settings.topic_name(topic), value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


async def committed(settings: Settings, group: str, topics: tuple[str, ...]) -> int:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        total = 0
        for logical in topics:
            name = settings.topic_name(logical)
            for partition in await partitions_of(settings, name):
                total += (await consumer.committed(TopicPartition(name, partition))) or 0
        return total
    finally:
        await consumer.stop()


def _tail(path: Path) -> str:
    return path.read_text()[-2000:] if path.exists() else ""


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)


def start_service(name: str, settings: Settings, log: Path, metrics_port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        **SERVICE_ENV.get(name, {}),
        "PERPWATCH_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "PERPWATCH_DATABASE_URL": settings.database_url,
        "PERPWATCH_TOPIC_NAMESPACE": settings.topic_namespace,
        "PERPWATCH_CONSUMER_GROUP_PREFIX": settings.consumer_group_prefix,
        "PERPWATCH_METRICS_PORT": str(metrics_port),
        "PERPWATCH_LOG_LEVEL": "WARNING",
    }
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "services.cli", "run", name],
            cwd=REPO_ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )


async def service_rate(name: str, settings: Settings, lines: list[bytes]) -> dict[str, float]:
    """The backlog through ``perpwatch run NAME``: records/s from its first fetch to its last
    commit, from its first to its last commit (the old figure), and from process start."""
    inputs = tuple(build_processor(name).inputs)
    group = f"{settings.consumer_group_prefix}.{name}"
    await produce(settings, lines)
    log = Path(f"/tmp/stream_service_bench_{name}_{uuid.uuid4().hex[:6]}.log")
    port = free_port()
    started = time.time()
    process = start_service(name, settings, log, port)
    first_commit_at, first_count, count = None, 0, 0
    try:
        while count < len(lines):
            count = await committed(settings, group, inputs)
            if first_commit_at is None and count > 0:
                first_commit_at, first_count = time.time(), count
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited: {_tail(log)}")
            await asyncio.sleep(0.1)
        done = time.time()
        first_fetch_at = await asyncio.to_thread(first_consumed_at, port)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        _remove(log)
    assert first_commit_at is not None
    between_commits = (
        (count - first_count) / (done - first_commit_at) if done > first_commit_at else float("nan")
    )
    return {
        "records_per_s": count / (done - first_fetch_at),
        "between_commits_per_s": between_commits,
        "from_start_per_s": count / (done - started),
        "start_s": first_fetch_at - started,
    }


async def run(args: argparse.Namespace) -> None:
    for name, env in SERVICE_ENV.items():
        if name in args.services:
            os.environ.update(env)  # the offline core runs with the same settings as the process
    data = args.data
    missing = [c for c in CAPTURES if not (data / c).exists()]
    if missing:
        raise SystemExit(f"captures not found under {data}: {', '.join(missing)} (see ../shared/data/README)")
    print(f"inputs: normalizing {len(CAPTURES)} captures and building their books...", flush=True)
    lines = normalized(data)
    kafka, admin_url = servers()
    print(f"load average before: {os.getloadavg()[0]:.2f} (2 cores; figures from one process each)")
    rows = []
    for name in args.services:
        records = inputs_of(name, lines)
        core = max(core_rate(name, records) for _ in range(args.repeat))
        run_id = uuid.uuid4().hex[:8]
        with private_database(admin_url) as url:
            settings = Settings(
                kafka_bootstrap=kafka,
                database_url=url,
                topic_namespace=f"bench.{run_id}.",
                consumer_group_prefix=f"bench.{run_id}",
            )
            try:
                await ensure_topics(settings)
                service = await service_rate(name, settings, records)
            finally:
                await drop_topics(settings)
        ratio = service["records_per_s"] / core
        rows.append((name, len(records), core, service, ratio))
        print(
            f"{name}: {len(records):,} records; core {core:,.0f}/s; service {service['records_per_s']:,.0f}/s "
            f"first fetch->last commit ({service['between_commits_per_s']:,.0f}/s first->last commit, "
            f"{service['from_start_per_s']:,.0f}/s from process start, first fetch after "
            f"{service['start_s']:.1f} s); service/core {ratio:.2f}",
            flush=True,
        )
    print("\n| service | records | core records/s | service records/s | from start | service/core |")
    print("|---|---|---|---|---|---|")
    for name, count, core, service, ratio in rows:
        print(
            f"| {name} | {count:,} | {core:,.0f} | {service['records_per_s']:,.0f} | "
            f"{service['from_start_per_s']:,.0f} | {ratio:.2f} |"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "services", nargs="*", default=list(DEFAULT_SERVICES), help="Registry stream services."
    )
    parser.add_argument("--data", type=Path, default=shared_data_dir(), help="The shared captures directory.")
    parser.add_argument("--repeat", type=int, default=2, help="Core runs per service (the best counts).")
    Path(SERVICE_ENV["alert"]["PERPWATCH_ALERT_RULES_FILE"]).write_bytes(orjson.dumps(ALERT_RULES))
    asyncio.run(run(parser.parse_args()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
