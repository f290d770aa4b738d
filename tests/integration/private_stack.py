"""A second, private Kafka + PostgreSQL for tests that stop servers or need fresh state.

Fault tests stop the broker or the database mid-stream; doing that to the shared test stack
would break every other test. This starts the same ``deploy/local/stack.sh`` on free ports with
its own state directory (reusing the shared stack's resolved Kafka jars), and removes it after.
``make soak`` runs on one too (``running_private_stack``), so 35 minutes of load leave the shared
stack alone.
"""

import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from services.runtime.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
STACK = REPO_ROOT / "deploy" / "local" / "stack.sh"


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


@dataclass
class PrivateStack:
    env: dict[str, str]
    kafka_bootstrap: str
    database_url: str

    def stack(self, command: str) -> None:
        result = subprocess.run(
            ["bash", str(STACK), command], env=self.env, capture_output=True, text=True, timeout=180
        )
        if result.returncode != 0:
            raise AssertionError(f"stack.sh {command} failed:\n{result.stderr[-3000:]}")

    def settings(self, **overrides: object) -> Settings:
        run = uuid.uuid4().hex[:8]
        values: dict[str, object] = {
            "kafka_bootstrap": self.kafka_bootstrap,
            "database_url": self.database_url,
            "metrics_port": 0,
            "log_format": "console",
            "topic_partitions": 3,
            "topic_namespace": f"test.{run}.",
            "consumer_group_prefix": f"test.{run}",
            "producer_linger_ms": 2,
            "sink_max_backoff_s": 2.0,
        }
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]


def can_run_private_stack() -> bool:
    return shutil.which("java") is not None and Path("/usr/lib/postgresql/15/bin/postgres").exists()


@contextmanager
def running_private_stack(
    state_dir: Path, *, kafka_heap: str = "-Xms128m -Xmx512m"
) -> Iterator[PrivateStack]:
    """A private stack on free ports with its state under ``state_dir``, stopped and removed after."""
    kafka, controller, postgres = _free_ports(3)
    pg_dir = Path(f"/var/tmp/perpwatch-test-{uuid.uuid4().hex[:10]}")
    env = {
        **os.environ,
        "PERPWATCH_STATE_DIR": str(state_dir),
        "PERPWATCH_LOCAL_KAFKA_PORT": str(kafka),
        "PERPWATCH_LOCAL_CONTROLLER_PORT": str(controller),
        "PERPWATCH_LOCAL_PG_PORT": str(postgres),
        "PERPWATCH_LOCAL_PG_DIR": str(pg_dir / "postgres"),
        "PERPWATCH_LOCAL_KAFKA_HEAP": kafka_heap,
    }
    shared_libs = REPO_ROOT / ".state" / "kafka" / "libs"
    if (shared_libs / ".pom.sha1").exists():
        env["PERPWATCH_LOCAL_KAFKA_LIBS"] = str(shared_libs)
    stack = PrivateStack(
        env=env,
        kafka_bootstrap=f"127.0.0.1:{kafka}",
        database_url=f"postgresql://perpwatch:perpwatch@127.0.0.1:{postgres}/perpwatch",
    )
    try:
        stack.stack("start")
        yield stack
    finally:
        subprocess.run(["bash", str(STACK), "stop"], env=env, capture_output=True, timeout=180)
        shutil.rmtree(pg_dir, ignore_errors=True)


@pytest.fixture
def private_stack(tmp_path: Path) -> Iterator[PrivateStack]:
    if not can_run_private_stack():
        pytest.skip("a private stack needs Java and PostgreSQL 15 (deploy/local/stack.sh install)")
    with running_private_stack(tmp_path / "state") as stack:
        yield stack
