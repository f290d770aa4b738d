"""Shared fixtures: where the real Kafka and PostgreSQL are, and where the real captures are.

Servers are found in this order:
1. ``PERPWATCH_KAFKA_BOOTSTRAP`` and ``PERPWATCH_DATABASE_URL`` when both are set;
2. testcontainers, when a Docker engine answers a ping;
3. otherwise the local stack (deploy/local/stack.sh start), the same path `make up` uses.
Nothing here mocks Kafka or the database.
"""

import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from services.db.scratch import scratch_database
from services.runtime.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("PERPWATCH_DATA_DIR", REPO_ROOT.parent / "shared" / "data"))


@dataclass(frozen=True)
class Servers:
    kafka_bootstrap: str
    database_url: str
    origin: str


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception:
        return False
    return True


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    kafka = os.environ.get("PERPWATCH_KAFKA_BOOTSTRAP")
    database = os.environ.get("PERPWATCH_DATABASE_URL")
    if kafka and database:
        yield Servers(kafka, database, "environment")
        return
    if _docker_answers():
        from testcontainers.kafka import KafkaContainer
        from testcontainers.postgres import PostgresContainer

        with (
            KafkaContainer("apache/kafka:4.1.1").with_kraft() as kafka_container,
            PostgresContainer("timescale/timescaledb:2.23.0-pg15", driver=None) as pg_container,
        ):
            yield Servers(
                kafka_container.get_bootstrap_server(), pg_container.get_connection_url(), "testcontainers"
            )
        return
    script = REPO_ROOT / "deploy" / "local" / "stack.sh"
    result = subprocess.run(["bash", str(script), "start"], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail(f"local stack did not start:\n{result.stderr[-3000:]}")
    env = dict(
        line.split("=", 1)
        for line in subprocess.run(
            ["bash", str(script), "env"], capture_output=True, text=True, check=True
        ).stdout.splitlines()
    )
    yield Servers(env["PERPWATCH_KAFKA_BOOTSTRAP"], env["PERPWATCH_DATABASE_URL"], "local stack")


@pytest.fixture(scope="session")
def database_admin_url(servers: Servers) -> str:
    return servers.database_url


@pytest.fixture
def fresh_database_url(database_admin_url: str) -> Iterator[str]:
    """A newly created, empty database on the real server; dropped afterwards."""
    with scratch_database(database_admin_url, "test", migrated=False) as url:
        yield url


@pytest.fixture
def migrated_database_url(fresh_database_url: str) -> str:
    from services.db.migrate import migrate

    migrate(fresh_database_url, timescale="auto")
    return fresh_database_url


@pytest.fixture
def settings(servers: Servers, migrated_database_url: str) -> Settings:
    """Settings for one test: its own database, its own topic namespace and consumer groups."""
    run = uuid.uuid4().hex[:8]
    return Settings(
        kafka_bootstrap=servers.kafka_bootstrap,
        database_url=migrated_database_url,
        metrics_port=0,
        log_format="console",
        topic_partitions=3,
        topic_namespace=f"test.{run}.",
        consumer_group_prefix=f"test.{run}",
        producer_linger_ms=2,
        sink_max_backoff_s=2.0,
    )


def missing_data(message: str) -> None:
    """Skip a test that needs absent real data; under ``CI=true`` that is a failure, not a skip
    (92 tests once skipped green with the data directory absent)."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}; CI must run with the real captures")
    pytest.skip(message)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        missing_data(f"real exchange captures not found at {SHARED_DATA} (set PERPWATCH_DATA_DIR)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def binance_capture(shared_data: Path) -> Path:
    path = shared_data / "hftbacktest" / "usdm" / "btcusdt_20240808.gz"
    if not path.exists():
        missing_data(f"Binance capture not found at {path}")
    return path


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    integration_dir = REPO_ROOT / "tests" / "integration"
    for item in items:
        if integration_dir in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)
