"""Reading real topics and waiting on real consumer groups, for integration tests."""

import asyncio
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas.topics import topic as contract_of
from services.runtime.settings import Settings
from services.runtime.topics import partitions_of

REPO_ROOT = Path(__file__).resolve().parents[2]


async def read_topic(settings: Settings, logical_name: str) -> list[tuple[bytes | None, Any]]:
    """Every committed record on a topic, decoded by its contract, as (key, event)."""
    name = settings.topic_name(logical_name)
    contract = contract_of(logical_name)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, isolation_level="read_committed")
    await consumer.start()
    try:
        partitions = [TopicPartition(name, p) for p in await partitions_of(settings, name)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        records: list[tuple[bytes | None, Any]] = []
        while [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend((r.key, contract.payload.validate_json(r.value)) for r in batch)
        return records
    finally:
        await consumer.stop()


async def wait_until_consumed(
    settings: Settings, group: str, logical_name: str, *, timeout_s: float = 120.0
) -> None:
    """Wait until a consumer group has committed every record of a topic."""
    name = settings.topic_name(logical_name)
    probe = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, group_id=group, enable_auto_commit=False
    )
    await probe.start()
    try:
        partitions = [TopicPartition(name, p) for p in await partitions_of(settings, name)]
        end = await probe.end_offsets(partitions)
        deadline = time.monotonic() + timeout_s
        while True:
            committed = {tp: (await probe.committed(tp)) or 0 for tp in partitions}
            if all(committed[tp] >= end[tp] for tp in partitions):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"group {group} committed {committed}, end offsets {end}")
            await asyncio.sleep(0.5)
    finally:
        await probe.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_service_process(
    args: list[str], settings: Settings, log_path: Path, extra_env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], int]:
    """A real service process configured like ``settings``; returns it and its metrics port."""
    port = _free_port()
    env = {
        **os.environ,
        "PERPWATCH_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "PERPWATCH_DATABASE_URL": settings.database_url,
        "PERPWATCH_TOPIC_NAMESPACE": settings.topic_namespace,
        "PERPWATCH_CONSUMER_GROUP_PREFIX": settings.consumer_group_prefix,
        "PERPWATCH_TOPIC_PARTITIONS": str(settings.topic_partitions),
        "PERPWATCH_PRODUCER_LINGER_MS": str(settings.producer_linger_ms),
        "PERPWATCH_SINK_MAX_BACKOFF_S": str(settings.sink_max_backoff_s),
        "PERPWATCH_METRICS_PORT": str(port),
        "PERPWATCH_LOG_FORMAT": "json",
        **(extra_env or {}),
    }
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", *args], cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    return process, port


def _ready(process: subprocess.Popen[bytes], port: int, log_path: Path) -> bool:
    if process.poll() is not None:
        raise AssertionError(f"service exited early:\n{log_path.read_text()[-3000:]}")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


async def wait_until_ready(
    process: subprocess.Popen[bytes], port: int, log_path: Path, *, timeout_s: float = 60.0
) -> None:
    """Until the process's /readyz answers 200; fails with its log if it exits first."""
    deadline = time.monotonic() + timeout_s
    while not await asyncio.to_thread(_ready, process, port, log_path):
        if time.monotonic() > deadline:
            raise TimeoutError(f"service not ready after {timeout_s}s; its log: {log_path}")
        await asyncio.sleep(0.2)
