"""A book-builder killed with SIGKILL mid-replay and restarted writes exactly the no-fault rows.

Real broker, real database, the real service process (``python -m services.cli run book-builder``).
The restarted process rebuilds the book from its latest checkpoint, replays ``md.book.v1`` up to
the committed offset without publishing, and continues: the ``book_bbo`` and ``book_depth`` rows
must equal those of a run that never stopped, with no duplicate and no wrong row.
"""

import asyncio
import signal
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import psycopg

from services.book_builder.checkpoints import CHECKPOINT_TOPIC
from services.book_builder.service import BOOK_BBO, BOOK_DEPTH
from services.runtime.settings import Settings
from services.runtime.topics import ensure_topics
from tests.book_builder.streams import (
    binance_payloads,
    committed_offset,
    end_offset,
    produce,
    reference_run,
    wait_for,
)
from tests.integration.helpers import start_service_process, wait_until_ready


def _rows(url: str, table: str, columns: tuple[str, ...]) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY ts, venue_seq").fetchall()


def _logged(log_path: Path, message: str) -> list[dict[str, Any]]:
    found = []
    for line in log_path.read_text().splitlines():
        if line.startswith("{") and message in line:
            found.append(orjson.loads(line))
    return found


async def test_sigkill_mid_replay_then_restart_writes_exactly_the_no_fault_rows(
    settings: Settings, binance_capture: Path, tmp_path: Path
) -> None:
    payloads = binance_payloads(binance_capture)
    expected = reference_run(payloads)
    group = f"{settings.consumer_group_prefix}.book-builder"
    log_path = tmp_path / "builder.log"
    await ensure_topics(settings)

    first, port = start_service_process(["services.cli", "run", "book-builder"], settings, log_path)
    try:
        await wait_until_ready(first, port, log_path)
        await produce(settings, payloads[:2500], chunk=250, pause_s=0.1)

        async def checkpointed() -> bool:
            return (
                await committed_offset(settings, group) >= 2500
                and await end_offset(settings, CHECKPOINT_TOPIC) >= 1
            )

        await wait_for("a committed checkpoint", checkpointed)
        rows_before = len(_rows(settings.database_url, BOOK_BBO.name, ("ts", "venue_seq")))
        # Kill it while it is busy with the next part of the stream.
        feeding = asyncio.create_task(produce(settings, payloads[2500:4500], chunk=100, pause_s=0.05))

        async def busy() -> bool:  # progress, not a sleep: a loaded machine cannot move the kill
            return await committed_offset(settings, group) >= 2600

        await wait_for("the builder to commit part of the next stretch", busy)
        first.send_signal(signal.SIGKILL)
        await feeding
    finally:
        if first.poll() is None:
            first.kill()
        first.wait(timeout=30)
    assert first.returncode == -signal.SIGKILL
    killed_at = await committed_offset(settings, group)
    assert 2600 <= killed_at < 4500, "the kill must land in the middle of the replay"
    assert rows_before > 0

    await produce(settings, payloads[4500:])
    second, port = start_service_process(["services.cli", "run", "book-builder"], settings, log_path)
    try:
        await wait_until_ready(second, port, log_path)

        async def consumed() -> bool:
            return await committed_offset(settings, group) >= len(payloads)

        await wait_for("the restarted builder to consume everything", consumed)
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=60)
    finally:
        if second.poll() is None:
            second.kill()
            second.wait(timeout=30)
    assert second.returncode == 0, log_path.read_text()[-3000:]

    restored = _logged(log_path, "books restored from checkpoints")
    assert restored[-1]["books"] == 1, "the restart rebuilt the book from its checkpoint"
    bbo = _rows(settings.database_url, BOOK_BBO.name, BOOK_BBO.columns)
    depth = _rows(settings.database_url, BOOK_DEPTH.name, BOOK_DEPTH.columns)
    expected_bbo = sorted(expected.rows[BOOK_BBO], key=lambda r: (r[0], r[3]))
    expected_depth = sorted(expected.rows[BOOK_DEPTH], key=lambda r: (r[0], r[3]))
    print(f"killed at offset {killed_at}; book_bbo rows {len(bbo)}, book_depth rows {len(depth)}")
    assert len(bbo) == len(expected_bbo) > 1000
    assert bbo == [_as_stored(r) for r in expected_bbo]
    assert depth == [_as_stored(r) for r in expected_depth]


def _as_stored(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A sink row as PostgreSQL gives it back (numeric arrays come back as lists of Decimal)."""
    return tuple([Decimal(v) for v in value] if isinstance(value, list) else value for value in row)
