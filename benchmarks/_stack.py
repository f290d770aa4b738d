"""What the service benchmarks share: the servers to run on, removing a run's private topics, and
reading when a service process consumed its first record.

A leading underscore keeps it out of ``make bench``, which runs every other file here.
"""

import os
import socket
import subprocess
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

from services.db.scratch import scratch_database
from services.runtime.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[1]


def servers() -> tuple[str, str]:
    """Kafka bootstrap and database URL: ``PERPWATCH_*`` when both are set, else the local stack
    (started if it is down)."""
    kafka, database = os.environ.get("PERPWATCH_KAFKA_BOOTSTRAP"), os.environ.get("PERPWATCH_DATABASE_URL")
    if kafka and database:
        return kafka, database
    script = REPO_ROOT / "deploy" / "local" / "stack.sh"
    subprocess.run(["bash", str(script), "start"], check=True, capture_output=True)
    env = dict(
        line.split("=", 1)
        for line in subprocess.run(
            ["bash", str(script), "env"], check=True, capture_output=True, text=True
        ).stdout.splitlines()
    )
    return env["PERPWATCH_KAFKA_BOOTSTRAP"], env["PERPWATCH_DATABASE_URL"]


async def drop_topics(settings: Settings) -> None:
    """Delete every topic under the run's namespace."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(settings.topic_namespace)]
        if names:
            await admin.delete_topics(names)
    finally:
        await admin.close()


@contextmanager
def private_database(admin_url: str, prefix: str = "bench") -> Iterator[str]:
    """A fresh, migrated database beside ``admin_url``'s for one run; dropped afterwards."""
    with scratch_database(admin_url, prefix) as url:
        yield url


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def first_consumed_at(metrics_port: int) -> float:
    """Unix time a service process first counted consumed records: its first fetch.

    Read from its ``/metrics`` (the ``_created`` sample of ``perpwatch_messages_consumed_total``,
    set when the runtime counts its first batch, before processing it), so a benchmark can time a
    backlog from the first fetch rather than from the first commit, which would leave out the whole
    first batch and flatter bigger batches. Call it while the process is idle (its event loop
    answers between batches).
    """
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    created = [
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("perpwatch_messages_consumed_created{")
    ]
    if not created:
        raise RuntimeError("the service has not counted a consumed record")
    return min(created)
