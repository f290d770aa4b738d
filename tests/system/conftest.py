"""Fixtures of the system tests: the no-fault reference run of the pipeline on the shared stack."""

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from services.runtime.settings import Settings
from tests.integration.private_stack import private_stack
from tests.system.pipeline import Pipeline, Snapshot, drop_databases, isolated

__all__ = ["private_stack"]  # the Kafka and PostgreSQL outages need servers of their own

LONG = os.environ.get("PERPWATCH_SYSTEM_LONG") == "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if LONG:
        return
    skip = pytest.mark.skip(reason="long system test: `make system` runs it (PERPWATCH_SYSTEM_LONG=1)")
    for item in items:
        if "long" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def shared_settings(servers: object, database_admin_url: str) -> Iterator[Settings]:
    yield Settings(
        kafka_bootstrap=servers.kafka_bootstrap,  # type: ignore[attr-defined]
        database_url=database_admin_url,
        metrics_port=0,
        topic_partitions=3,
        producer_linger_ms=2,
        sink_max_backoff_s=2.0,
    )
    drop_databases(database_admin_url)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def reference(
    shared_settings: Settings,
    database_admin_url: str,
    binance_capture: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Snapshot:
    """What the pipeline makes of the capture when nothing goes wrong (one run per session)."""
    workdir = tmp_path_factory.mktemp(f"reference-{uuid.uuid4().hex[:6]}")
    pipeline = Pipeline(isolated(shared_settings, database_admin_url), workdir)
    await pipeline.start_all()
    try:
        await pipeline.feed(binance_capture)
        await pipeline.drain()
        snapshot = await pipeline.snapshot()
    finally:
        codes = pipeline.stop_all()
    assert set(codes.values()) == {0}, codes
    assert snapshot.topics.get("book.bbo.v1"), "the reference run produced tops"
    assert not snapshot.duplicates()
    return snapshot
