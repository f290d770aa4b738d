"""Faults on the whole pipeline, mid-replay: afterwards every public topic and every table must
equal the no-fault run of the same input (``reference``), with no duplicates.

The input is the real Binance USD-M capture replayed through the live normalizer while the
services run. Each fault is triggered by progress (a consumer group has committed N records),
never by a sleep, and the test checks that it landed mid-stream.

- kill -9 of each service in turn, then a restart (book-builder in ``make test``, the others in
  ``make system``);
- a slow consumer: the book-builder paused with SIGSTOP for 20 s, lag rises, then drains;
- scale-out: a second book-builder replica joins the group mid-stream, takes partitions, leaves;
- Kafka stopped for 15 s and PostgreSQL for 30 s (a private stack: the shared one stays up);
  while the database is down the services report not ready on /readyz.
"""

import asyncio
import json
import signal
import time
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from services.runtime.settings import Settings
from tests.integration.helpers import wait_until_ready
from tests.integration.private_stack import PrivateStack
from tests.system.pipeline import Pipeline, Snapshot, isolated, services_under_test

pytestmark = [pytest.mark.integration, pytest.mark.system]

# Records of its first input a service has committed when the fault is injected (about a quarter
# of what the capture gives it), so that the fault lands in the middle of the stream.
MID_STREAM = {
    "book-builder": 1500,
    "market-recorder": 5000,
    "liquidity": 700,
    "analytics": 5000,
    "arbitrage": 700,
}
Fault = Callable[[Pipeline], Awaitable[None]]
MAX_LOG_LINES_PER_OUTAGE = 1000


async def wait_mid_stream(pipeline: Pipeline, service: str, *, timeout_s: float = 120.0) -> None:
    group = f"{pipeline.settings.consumer_group_prefix}.{service}"
    logical = pipeline.groups()[group][0]
    deadline = time.monotonic() + timeout_s
    while (await pipeline.committed(group, logical))[0] < MID_STREAM.get(service, 500):
        pipeline.assert_alive()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{service} did not reach mid-stream: {await pipeline.lag()}")
        await asyncio.sleep(0.2)


async def run_with_fault(pipeline: Pipeline, capture: Path, fault: Fault) -> Snapshot:
    await pipeline.start_all()
    feeding = asyncio.create_task(pipeline.feed(capture))
    try:
        await fault(pipeline)
        await feeding
        await pipeline.drain()
        return await pipeline.snapshot()
    finally:
        if not feeding.done():
            feeding.cancel()
        codes = pipeline.stop_all()
        assert set(codes.values()) <= {0}, f"a service did not stop cleanly: {codes}"


def assert_same_as_reference(snapshot: Snapshot, reference: Snapshot, fault: str) -> None:
    result = {
        "fault": fault,
        "duplicates": snapshot.duplicates(),
        "differences": snapshot.differences(reference),
        "sizes": snapshot.sizes(),
    }
    print(json.dumps(result))
    assert not result["duplicates"], f"{fault}: duplicates {result['duplicates']}"
    assert not result["differences"], f"{fault}: differs from the no-fault run: {result['differences']}"


def kill_and_restart(service: str, landed: list[int]) -> Fault:
    async def fault(pipeline: Pipeline) -> None:
        await wait_mid_stream(pipeline, service)
        pipeline.kill(service)
        group = f"{pipeline.settings.consumer_group_prefix}.{service}"
        landed.append((await pipeline.committed(group, pipeline.groups()[group][0]))[0])
        restarted = pipeline.start(service)
        await wait_until_ready(restarted.process, restarted.port, restarted.log, timeout_s=120)

    return fault


@pytest.mark.parametrize(
    "service",
    [
        pytest.param(name, marks=[] if name == "book-builder" else [pytest.mark.long])
        for name in services_under_test()
    ],
)
async def test_kill_9_mid_replay_then_restart(
    service: str,
    shared_settings: Settings,
    database_admin_url: str,
    binance_capture: Path,
    tmp_path: Path,
    reference: Snapshot,
) -> None:
    pipeline = Pipeline(isolated(shared_settings, database_admin_url), tmp_path)
    landed: list[int] = []
    snapshot = await run_with_fault(pipeline, binance_capture, kill_and_restart(service, landed))
    group = f"{pipeline.settings.consumer_group_prefix}.{service}"
    _, total = await pipeline.committed(group, pipeline.groups()[group][0])
    assert landed[0] < total, f"the kill landed after the stream ({landed[0]} of {total} committed)"
    assert_same_as_reference(snapshot, reference, f"kill -9 {service}")


async def test_a_paused_consumer_lags_then_drains(
    shared_settings: Settings,
    database_admin_url: str,
    binance_capture: Path,
    tmp_path: Path,
    reference: Snapshot,
) -> None:
    """SIGSTOP for 20 s: the lag rises while the replay goes on, and drains after SIGCONT."""
    seen: list[int] = []

    async def pause(pipeline: Pipeline) -> None:
        await wait_mid_stream(pipeline, "book-builder")
        pipeline.signal("book-builder", signal.SIGSTOP)
        try:
            for _ in range(10):
                await asyncio.sleep(2)
                seen.append((await pipeline.lag())["book-builder:md.book.v1"])
        finally:
            pipeline.signal("book-builder", signal.SIGCONT)

    pipeline = Pipeline(isolated(shared_settings, database_admin_url), tmp_path)
    snapshot = await run_with_fault(pipeline, binance_capture, pause)
    assert max(seen) > 0, f"no lag while paused: {seen}"
    assert_same_as_reference(snapshot, reference, "SIGSTOP book-builder 20 s")


async def test_a_second_replica_joins_then_leaves_mid_stream(
    shared_settings: Settings,
    database_admin_url: str,
    binance_capture: Path,
    tmp_path: Path,
    reference: Snapshot,
) -> None:
    """Scale-out: the group rebalances twice mid-stream; nothing is lost or duplicated."""

    async def scale_out_and_in(pipeline: Pipeline) -> None:
        await wait_mid_stream(pipeline, "book-builder")
        replica = pipeline.start("book-builder", replica="-2")
        await wait_until_ready(replica.process, replica.port, replica.log, timeout_s=120)
        await asyncio.sleep(3)  # both replicas consume for a while
        assert pipeline.stop("book-builder-2") == 0

    pipeline = Pipeline(isolated(shared_settings, database_admin_url), tmp_path)
    snapshot = await run_with_fault(pipeline, binance_capture, scale_out_and_in)
    assert_same_as_reference(snapshot, reference, "second book-builder replica joins, then leaves")


def _readyz(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0


async def test_kafka_stopped_for_15s(
    private_stack: PrivateStack, binance_capture: Path, tmp_path: Path, reference: Snapshot
) -> None:
    async def broker_outage(pipeline: Pipeline) -> None:
        await wait_mid_stream(pipeline, "book-builder")
        private_stack.stack("stop-kafka")
        await asyncio.sleep(15)
        private_stack.stack("start-kafka")

    settings = isolated(private_stack.settings(log_format="json"), private_stack.database_url)
    snapshot = await run_with_fault(Pipeline(settings, tmp_path), binance_capture, broker_outage)
    assert_same_as_reference(snapshot, reference, "Kafka stopped 15 s")
    # A 28 s outage once wrote 159,246 lines from one service: repeats must be collapsed.
    for name, lines in (await asyncio.to_thread(_log_lines, tmp_path)).items():
        print(f"{name}: {lines} log lines")
        assert lines < MAX_LOG_LINES_PER_OUTAGE, f"{name}: {lines} lines for a 15 s broker outage"


def _log_lines(directory: Path) -> dict[str, int]:
    return {log.name: log.read_text(errors="replace").count("\n") for log in directory.glob("*.log")}


async def test_postgres_stopped_for_30s_services_not_ready_meanwhile(
    private_stack: PrivateStack, binance_capture: Path, tmp_path: Path, reference: Snapshot
) -> None:
    readiness: list[int] = []

    async def database_outage(pipeline: Pipeline) -> None:
        await wait_mid_stream(pipeline, "book-builder")
        port = pipeline.running["book-builder"].port
        private_stack.stack("stop-postgres")
        try:
            for _ in range(15):
                await asyncio.sleep(2)
                readiness.append(await asyncio.to_thread(_readyz, port))
        finally:
            private_stack.stack("start-postgres")

    settings = isolated(private_stack.settings(log_format="json"), private_stack.database_url)
    snapshot = await run_with_fault(Pipeline(settings, tmp_path), binance_capture, database_outage)
    assert 503 in readiness, f"/readyz stayed ready while the database was down: {readiness}"
    assert_same_as_reference(snapshot, reference, "PostgreSQL stopped 30 s")
