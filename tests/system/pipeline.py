"""The whole pipeline as real processes on a real broker and database, and what it produced.

``Pipeline`` starts stream services as ``perpwatch run NAME`` processes (each in its own process
group, so a fault hits exactly one), feeds them a deterministic input (the real Binance USD-M
capture replayed through the live normalizer), waits until every consumer group has committed
everything, and takes a ``Snapshot``: every public topic's records and every table's rows, as
multisets. Two snapshots of the same input must be equal after any fault: nothing lost, nothing
duplicated. Left out: the replayed input topics, ``dlq.v1`` (dead letters carry wall-clock
times), and tables of internal state (checkpoints hold whatever a batch boundary left).
"""

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas.topics import TOPICS
from services.db.scratch import create_database, drop_database
from services.ingest.replay import replay_capture
from services.registry import build_processor
from services.runtime.settings import Settings
from services.runtime.topics import ensure_topics, partitions_of
from tests.integration.helpers import REPO_ROOT, _free_port, wait_until_ready

# The slice of the pipeline the replay feeds (Binance only: arbitrage and pairs stay quiet).
DEFAULT_SERVICES = ("book-builder", "market-recorder", "liquidity", "analytics")
SKIPPED_TOPICS = frozenset({"dlq.v1"})
# Tables written by something other than the stream services under test, or by wall clock.
SKIPPED_TABLES = frozenset(
    {"perpwatch_schema_migrations", "alert_outbox", "alert_rules", "analytics_checkpoints"}
)


def services_under_test() -> tuple[str, ...]:
    chosen = os.environ.get("PERPWATCH_SYSTEM_SERVICES")
    return tuple(chosen.split(",")) if chosen else DEFAULT_SERVICES


# Databases made by ``new_database``, by the admin URL that made them, for ``drop_databases``.
_CREATED: dict[str, list[str]] = {}


def new_database(admin_url: str) -> str:
    """A fresh, migrated database on the server of ``admin_url``; returns its URL."""
    url = create_database(admin_url, "system")
    _CREATED.setdefault(admin_url, []).append(url)
    return url


def drop_databases(admin_url: str) -> None:
    """Drop every database ``new_database`` made on this server (the shared one is not a dump)."""
    for url in _CREATED.pop(admin_url, []):
        drop_database(admin_url, url)


def isolated(settings: Settings, admin_url: str) -> Settings:
    """Same servers, a namespace, consumer groups and database of its own."""
    run = uuid.uuid4().hex[:8]
    return settings.model_copy(
        update={
            "topic_namespace": f"sys.{run}.",
            "consumer_group_prefix": f"sys.{run}",
            "database_url": new_database(admin_url),
        }
    )


@dataclass
class Snapshot:
    topics: dict[str, Counter[tuple[bytes | None, bytes]]]
    tables: dict[str, Counter[tuple[Any, ...]]]

    def sizes(self) -> dict[str, int]:
        return {
            **{f"topic {k}": sum(v.values()) for k, v in self.topics.items()},
            **{f"table {k}": sum(v.values()) for k, v in self.tables.items()},
        }

    def duplicates(self) -> dict[str, int]:
        """Records or rows that occur more than once (a retried batch published twice)."""
        found = {}
        for kind, groups in (("topic", self.topics), ("table", self.tables)):
            for name, counts in groups.items():
                extra = sum(n - 1 for n in counts.values() if n > 1)
                if extra:
                    found[f"{kind} {name}"] = extra
        return found

    def differences(self, reference: "Snapshot") -> dict[str, str]:
        """Where this snapshot differs from the reference: missing and extra per topic and table."""
        found = {}
        for kind, mine, theirs in (
            ("topic", self.topics, reference.topics),
            ("table", self.tables, reference.tables),
        ):
            for name in sorted(mine.keys() | theirs.keys()):
                have, want = mine.get(name, Counter()), theirs.get(name, Counter())
                if have != want:
                    missing, extra = sum((want - have).values()), sum((have - want).values())
                    found[f"{kind} {name}"] = f"{missing} missing, {extra} extra of {sum(want.values())}"
        return found


@dataclass
class Service:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path


@dataclass
class Pipeline:
    settings: Settings
    workdir: Path
    services: tuple[str, ...] = field(default_factory=services_under_test)
    running: dict[str, Service] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)

    # --- processes -----------------------------------------------------------------------

    def start(self, name: str, *, replica: str = "") -> Service:
        label = f"{name}{replica}"
        log = self.workdir / f"{label}.log"
        port = _free_port()
        env = {
            **os.environ,
            "PERPWATCH_KAFKA_BOOTSTRAP": self.settings.kafka_bootstrap,
            "PERPWATCH_DATABASE_URL": self.settings.database_url,
            "PERPWATCH_TOPIC_NAMESPACE": self.settings.topic_namespace,
            "PERPWATCH_CONSUMER_GROUP_PREFIX": self.settings.consumer_group_prefix,
            "PERPWATCH_TOPIC_PARTITIONS": str(self.settings.topic_partitions),
            "PERPWATCH_PRODUCER_LINGER_MS": str(self.settings.producer_linger_ms),
            "PERPWATCH_SINK_MAX_BACKOFF_S": str(self.settings.sink_max_backoff_s),
            "PERPWATCH_METRICS_PORT": str(port),
            "PERPWATCH_LOG_FORMAT": "json",
            # Instance ids make the transactional ids of two replicas differ (no fencing).
            "PERPWATCH_INSTANCE_ID": f"{label}-{uuid.uuid4().hex[:6]}",
            **self.env,
        }
        with log.open("ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "services.cli", "run", name],
                cwd=REPO_ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        service = Service(name, process, port, log)
        self.running[label] = service
        return service

    async def start_all(self) -> None:
        """Start every service and wait until each is ready; on failure, none is left running."""
        try:
            for name in self.services:
                self.start(name)
            for service in list(self.running.values()):
                await wait_until_ready(service.process, service.port, service.log, timeout_s=120)
        except BaseException:
            self.stop_all()
            raise

    def signal(self, label: str, sig: signal.Signals) -> None:
        self.running[label].process.send_signal(sig)

    def kill(self, label: str) -> None:
        service = self.running.pop(label)
        service.process.kill()  # SIGKILL: no drain, no commit, no goodbye
        service.process.wait(timeout=30)

    def stop(self, label: str) -> int:
        service = self.running.pop(label)
        if service.process.poll() is None:
            service.process.send_signal(signal.SIGCONT)
            service.process.terminate()
            try:
                service.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                service.process.kill()
                service.process.wait(timeout=30)
        return int(service.process.returncode)

    def stop_all(self) -> dict[str, int]:
        return {label: self.stop(label) for label in list(self.running)}

    def assert_alive(self) -> None:
        for label, service in self.running.items():
            if service.process.poll() is not None:
                raise AssertionError(f"{label} exited ({service.process.returncode}): {tail(service.log)}")

    # --- input and progress --------------------------------------------------------------

    async def feed(self, capture: Path) -> None:
        await ensure_topics(self.settings)
        await replay_capture(capture, self.settings)

    def groups(self) -> dict[str, tuple[str, ...]]:
        """Consumer group of each service under test, and its input topics."""
        return {
            f"{self.settings.consumer_group_prefix}.{name}": tuple(build_processor(name).inputs)
            for name in self.services
        }

    async def committed(self, group: str, logical: str) -> tuple[int, int]:
        """(committed, end) summed over a topic's partitions for a group."""
        return await group_progress(self.settings, group, logical)

    async def drained(self) -> bool:
        for group, topics in self.groups().items():
            for logical in topics:
                done, end = await self.committed(group, logical)
                if done < end:
                    return False
        return True

    async def drain(self, *, timeout_s: float = 300.0, settle_s: float = 3.0) -> None:
        """Until every group has committed every input, twice in a row ``settle_s`` apart."""
        deadline = time.monotonic() + timeout_s
        confirmed = 0
        while confirmed < 2:
            self.assert_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"pipeline did not drain in {timeout_s}s: {await self.lag()}")
            confirmed = confirmed + 1 if await self.drained() else 0
            await asyncio.sleep(settle_s if confirmed else 0.5)

    async def lag(self) -> dict[str, int]:
        found = {}
        for group, topics in self.groups().items():
            for logical in topics:
                done, end = await self.committed(group, logical)
                found[f"{group.rsplit('.', 1)[-1]}:{logical}"] = end - done
        return found

    # --- what came out -------------------------------------------------------------------

    async def snapshot(self) -> Snapshot:
        return Snapshot(await self._topics(), await asyncio.to_thread(self._tables))

    async def _topics(self) -> dict[str, Counter[tuple[bytes | None, bytes]]]:
        found: dict[str, Counter[tuple[bytes | None, bytes]]] = {}
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap, isolation_level="read_committed"
        )
        await consumer.start()
        try:
            existing = await consumer.topics()
            for contract in TOPICS:
                name = self.settings.topic_name(contract.name)
                fed = "ingest" in contract.producer  # the input itself, replayed once before the run
                if contract.name in SKIPPED_TOPICS or fed or name not in existing:
                    continue
                partitions = [TopicPartition(name, p) for p in await partitions_of(self.settings, name)]
                consumer.assign(partitions)
                await consumer.seek_to_beginning(*partitions)
                end = await consumer.end_offsets(partitions)
                counts: Counter[tuple[bytes | None, bytes]] = Counter()
                while [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
                    for batch in (await consumer.getmany(timeout_ms=500)).values():
                        counts.update((r.key, r.value) for r in batch if r.value is not None)
                if counts:
                    found[contract.name] = counts
        finally:
            await consumer.stop()
        return found

    def _tables(self) -> dict[str, Counter[tuple[Any, ...]]]:
        found: dict[str, Counter[tuple[Any, ...]]] = {}
        with psycopg.connect(self.settings.database_url) as conn:
            tables = [
                row[0]
                for row in conn.execute(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
                )
            ]
            for table in sorted(set(tables) - SKIPPED_TABLES):
                columns = [
                    row[0]
                    for row in conn.execute(
                        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' "
                        "AND table_name = %s AND coalesce(column_default, '') NOT LIKE '%%now()%%' "
                        "AND column_name NOT IN ('inserted_at', 'recorded_at', 'updated_at') "
                        "ORDER BY ordinal_position",
                        (table,),
                    )
                ]
                listed = ", ".join(f'"{c}"' for c in columns)
                rows = Counter(
                    tuple(_hashable(value) for value in row)
                    for row in conn.execute(f'SELECT {listed} FROM "{table}"')
                )
                if rows:
                    found[table] = rows
        return found


async def group_progress(settings: Settings, group: str, logical: str) -> tuple[int, int]:
    """(records the group has committed past, records there are), summed over the partitions.

    Counted in records a ``read_committed`` consumer sees: a transactional topic's offsets also
    number its commit markers, so a group that consumed everything commits one short of the end.
    """
    name = settings.topic_name(logical)
    probe = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=group,
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    await probe.start()
    try:
        partitions = [TopicPartition(name, p) for p in await partitions_of(settings, name)]
        end = await probe.end_offsets(partitions)
        committed = {tp: (await probe.committed(tp)) or 0 for tp in partitions}
        behind = [tp for tp in partitions if committed[tp] < end[tp]]
        unread = 0
        if behind:
            probe.assign(behind)
            for tp in behind:
                probe.seek(tp, committed[tp])
            while [tp for tp in behind if await probe.position(tp) < end[tp]]:
                batches = await probe.getmany(timeout_ms=300)
                unread += sum(len(records) for records in batches.values())
                if not batches:
                    break
        total = sum(end.values())
        return total - unread, total
    finally:
        await probe.stop()


def _hashable(value: Any) -> Any:
    """Rows hold arrays and JSON: lists become tuples, objects sorted item tuples."""
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value


def tail(log: Path, chars: int = 3000) -> str:
    return log.read_text(errors="replace")[-chars:] if log.exists() else "(no log)"
