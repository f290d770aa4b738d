"""Benchmark of the book-builder service through Kafka and PostgreSQL (``python benchmarks/book_service.py``).

Needs the local stack (``deploy/local/stack.sh start``) or ``PERPWATCH_KAFKA_BOOTSTRAP`` and
``PERPWATCH_DATABASE_URL``. Everything it creates is private to one run and removed at the end:
a fresh database (migrated), topics under a ``bench.<run>.`` namespace, a consumer group.

Load: the Binance USD-M capture's ``md.book.v1`` records (one REST snapshot + 6,551 diffs of
about 68 levels), looped with update ids and event times shifted per loop so the sequence chain
stays valid (each loop opens with its shifted snapshot, which the live book takes as newer).

Both runs below are made twice in one process, with ``PERPWATCH_STREAM_TRANSACTIONS`` off
(baseline: confirmed delivery, consumer offset commits) and on (outputs and offsets in one
Kafka transaction), and the ratio is printed: what exactly-once topics cost.

1. **Sustained throughput**: the whole load is produced first; then one book-builder process
   (``python -m services.cli run book-builder``) consumes the backlog. Reported: records/s and level
   updates/s between the first and the last committed offset (decode, book, ``book.bbo.v1`` and
   ``book.l2.v1`` published, ``book_bbo``/``book_depth`` rows committed, offsets committed).
2. **Latency**: then, with the same caught-up process, records produced at a steady rate with
   ``receive_ts`` stamped at send; the benchmark reads ``book.bbo.v1`` (``read_committed``, as the
   services do) and reports p50/p99 of (arrival on ``book.bbo.v1`` minus ``receive_ts``), i.e.
   from receipt by the ingestor to a top of book readable by the services.
"""

import argparse
import asyncio
import contextlib
import gzip
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
import psycopg

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiokafka import AIOKafkaConsumer, TopicPartition
from book_core import run_core

from benchmarks._stack import drop_topics, private_database, servers
from schemas.book import BookTop
from schemas.common import ExchangeId
from schemas.market_data import BookDelta, BookSnapshot
from services.instruments.catalog import load_snapshot
from services.runtime.kafka import make_producer
from services.runtime.settings import Settings
from services.runtime.topics import ensure_topics
from services.venues import normalizer_for

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CAPTURE = REPO_ROOT / ".." / "shared" / "data" / "hftbacktest" / "usdm" / "btcusdt_20240808.gz"
KEY = b"binance_usdm:BTC-USDT-PERP"


def load_payloads(capture: Path) -> list[bytes]:
    """The capture's book events as md.book.v1 payloads (same as benchmarks/book_core.py)."""
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


def _tail(path: Path, size: int = 2000) -> str:
    return path.read_text()[-size:] if path.exists() else ""


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def looped(payloads: list[bytes], loops: int) -> list[dict[str, Any]]:
    """The capture ``loops`` times, ids and times shifted so every loop continues the last."""
    documents = [orjson.loads(p) for p in payloads]
    first_snapshot = next(i for i, d in enumerate(documents) if d["type"] == "snapshot")
    ids = [d["sequence"]["last"] for d in documents]
    id_span = max(ids) - min(ids) + 1_000_000
    time_span = documents[-1]["exchange_ts"] - documents[0]["exchange_ts"] + 1_000_000_000
    # Later loops open with their snapshot, then the diffs recorded before it (stale, except the
    # one straddling it), as they would arrive after a REST snapshot.
    later = [first_snapshot, *range(first_snapshot), *range(first_snapshot + 1, len(documents))]
    out: list[dict[str, Any]] = []
    for loop in range(loops):
        for index in range(len(documents)) if loop == 0 else later:
            document = documents[index]
            shifted = dict(document)
            shifted["sequence"] = {
                k: (v + loop * id_span if v is not None else None) for k, v in document["sequence"].items()
            }
            shifted["exchange_ts"] = document["exchange_ts"] + loop * time_span
            shifted["receive_ts"] = document["receive_ts"] + loop * time_span
            out.append(shifted)
    return out


async def produce(settings: Settings, documents: list[dict[str, Any]], *, rate: float | None = None) -> None:
    producer = make_producer(settings)
    await producer.start()
    topic = settings.topic_name("md.book.v1")
    started = time.perf_counter()
    try:
        for index, document in enumerate(documents):
            if rate is not None:
                due = started + index / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                document = {**document, "receive_ts": time.time_ns()}
            await producer.send(topic, orjson.dumps(document), key=KEY)
        await producer.flush()
    finally:
        await producer.stop()


async def committed(settings: Settings, group: str) -> int:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        name = settings.topic_name("md.book.v1")
        partitions = [TopicPartition(name, p) for p in (consumer.partitions_for_topic(name) or {0})]
        return sum([(await consumer.committed(tp)) or 0 for tp in partitions])
    finally:
        await consumer.stop()


def start_builder(settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    env = {
        "PERPWATCH_STREAM_TRANSACTIONS": str(settings.stream_transactions).lower(),
        **os.environ,
        "PERPWATCH_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "PERPWATCH_DATABASE_URL": settings.database_url,
        "PERPWATCH_TOPIC_NAMESPACE": settings.topic_namespace,
        "PERPWATCH_CONSUMER_GROUP_PREFIX": settings.consumer_group_prefix,
        "PERPWATCH_TOPIC_PARTITIONS": "1",
        "PERPWATCH_METRICS_PORT": "0",
        "PERPWATCH_LOG_LEVEL": "WARNING",
    }
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "services.cli", "run", "book-builder"],
            cwd=REPO_ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )


async def sustained(
    settings: Settings, documents: list[dict[str, Any]], builder: subprocess.Popen[bytes], log: Path
) -> dict[str, float]:
    """Throughput of the (already produced) backlog, between the first and the last commit."""
    group = f"{settings.consumer_group_prefix}.book-builder"
    first_at, first_count = None, 0
    while True:
        count = await committed(settings, group)
        now = time.perf_counter()
        if first_at is None and count > 0:
            first_at, first_count = now, count
        if count >= len(documents):
            break
        if builder.poll() is not None:
            raise RuntimeError(f"builder exited: {_tail(log)}")
        await asyncio.sleep(0.2)
    assert first_at is not None
    seconds = now - first_at
    records = count - first_count
    levels = sum(len(d["bids"]) + len(d["asks"]) for d in documents) * records / len(documents)
    return {
        "records": records,
        "seconds": seconds,
        "records_per_s": records / seconds,
        "levels_per_s": levels / seconds,
    }


async def latency(settings: Settings, documents: list[dict[str, Any]], rate: float) -> dict[str, float]:
    """Receipt-to-top latency of a steady load fed to the caught-up, running builder."""
    # Read as every service reads (read_committed): a transactional top is readable at its commit.
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, isolation_level="read_committed")
    await consumer.start()
    samples: list[float] = []
    try:
        output = TopicPartition(settings.topic_name("book.bbo.v1"), 0)
        consumer.assign([output])
        await consumer.seek_to_end(output)
        feeding = asyncio.create_task(produce(settings, documents, rate=rate))
        quiet_since = None
        while True:
            batch = await consumer.getmany(timeout_ms=200)
            arrived = time.time_ns()
            for records in batch.values():
                for record in records:
                    top = BookTop.model_validate_json(record.value or b"")
                    samples.append((arrived - top.receive_ts) / 1e6)
            if feeding.done():
                quiet_since = quiet_since or time.monotonic()
                if batch:
                    quiet_since = time.monotonic()
                elif time.monotonic() - quiet_since > 3:
                    break
        await feeding
    finally:
        await consumer.stop()
    if not samples:
        raise RuntimeError("no top of book was published during the latency load")
    samples.sort()
    return {
        "tops": len(samples),
        "p50_ms": statistics.median(samples),
        "p99_ms": samples[int(len(samples) * 0.99) - 1],
        "max_ms": samples[-1],
    }


async def measure(
    kafka: str, url: str, args: argparse.Namespace, payloads: list[bytes], *, transactions: bool
) -> tuple[dict[str, float], dict[str, float]]:
    """One builder process over the backlog, then the steady load; topics private to this run."""
    run_id = uuid.uuid4().hex[:8]
    log = Path(f"/tmp/book_service_bench_{run_id}.log")
    documents = looped(payloads, args.loops)
    steady = looped(payloads, args.loops + 1)[len(documents) :][: int(args.rate * args.seconds)]
    settings = Settings(
        kafka_bootstrap=kafka,
        database_url=url,
        topic_partitions=1,
        topic_namespace=f"bench.{run_id}.",
        consumer_group_prefix=f"bench.{run_id}",
        stream_transactions=transactions,
    )
    try:
        with psycopg.connect(url) as conn:
            conn.execute("TRUNCATE book_bbo, book_depth")
        await ensure_topics(settings)
        await produce(settings, documents)
        builder = start_builder(settings, log)
        try:
            result = await sustained(settings, documents, builder, log)
            await asyncio.sleep(2)  # caught up and idle
            timing = await latency(settings, steady, args.rate)
        finally:
            builder.send_signal(signal.SIGTERM)
            builder.wait(timeout=60)
        with psycopg.connect(url) as conn:
            rows = conn.execute("SELECT count(*) FROM book_bbo").fetchone()
        broken = _tail(log, 10**9).count("book invalidated")
        mode = "transactions on " if transactions else "transactions off"
        print(f"[{mode}] checked: {rows[0] if rows else 0:,} book_bbo rows, {broken} invalidated books")
        print(
            f"[{mode}] sustained: {result['records']:,.0f} records in {result['seconds']:.1f} s = "
            f"{result['records_per_s']:,.0f} records/s, {result['levels_per_s']:,.0f} level updates/s"
        )
        print(
            f"[{mode}] latency at {args.rate:,.0f} records/s: {timing['tops']:,.0f} tops, "
            f"p50 {timing['p50_ms']:.1f} ms, p99 {timing['p99_ms']:.1f} ms, max {timing['max_ms']:.1f} ms "
            "(receive_ts -> readable on book.bbo.v1)"
        )
        await drop_topics(settings)
        return result, timing
    finally:
        _remove(log)


async def run(args: argparse.Namespace) -> None:
    kafka, admin_url = servers()
    with private_database(admin_url) as url:
        payloads = load_payloads(args.capture)
        # Baseline first: the same service without transactions (confirmed delivery only).
        plain, plain_timing = await measure(kafka, url, args, payloads, transactions=False)
        exact, exact_timing = await measure(kafka, url, args, payloads, transactions=True)
        print(
            f"cost of transactions: throughput ratio {exact['records_per_s'] / plain['records_per_s']:.2f} "
            f"(on/off), p99 {exact_timing['p99_ms']:.1f} ms vs {plain_timing['p99_ms']:.1f} ms"
        )
        # The core in this process, now that the builder has exited: service over core.
        core_rate = max(len(payloads) * 2 / run_core(payloads, 2) for _ in range(3))
        for mode, result in (("off", plain), ("on ", exact)):
            print(
                f"[transactions {mode}] service {result['records_per_s']:,.0f} records/s vs core "
                f"{core_rate:,.0f} frames/s (benchmarks/book_core.py's core, best of 3, same capture): "
                f"ratio {result['records_per_s'] / core_rate:.2f}"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--capture", type=Path, default=DEFAULT_CAPTURE)
    parser.add_argument("--loops", type=int, default=6, help="Capture loops in the throughput load.")
    parser.add_argument(
        "--rate", type=float, default=2250.0, help="Records/s of the latency load (half of 4,500)."
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="Duration of the latency load.")
    asyncio.run(run(parser.parse_args()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
