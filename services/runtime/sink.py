"""The database sink: batched, idempotent, and patient while the database is down.

Rows are COPYed into a per-connection staging table and moved with
``INSERT ... SELECT ... ON CONFLICT DO NOTHING``: COPY is the fastest way in, and the natural
primary key makes a re-delivered batch a no-op. A batch is retried with capped exponential
backoff for as long as the database is unreachable; it is never dropped, and the caller only
commits its Kafka offsets after ``write`` returns.
"""

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from services.runtime.metrics import SINK_BATCH_SECONDS, SINK_RETRIES, SINK_ROWS
from services.runtime.observability import Health
from services.runtime.timestamps import ns_to_datetime

__all__ = ["Row", "SinkStopped", "Table", "TimescaleSink", "ns_to_datetime"]

log = logging.getLogger(__name__)

Row = tuple[Any, ...]

# Errors that say "the database is not there right now", as opposed to "this row is wrong".
_TRANSIENT = (psycopg.OperationalError, psycopg.InterfaceError)


@dataclass(frozen=True)
class Table:
    """A target table and the columns a sink writes, in row order."""

    name: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class RejectedRow:
    row: Row
    error: str


@dataclass
class WriteResult:
    inserted: int = 0
    duplicates: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)


class SinkStopped(Exception):
    """Raised when the service stops while a batch is still waiting for the database."""


class TimescaleSink:
    def __init__(
        self,
        database_url: str,
        *,
        health: Health | None = None,
        max_backoff_s: float = 30.0,
        initial_backoff_s: float = 0.2,
        stopping: asyncio.Event | None = None,
    ) -> None:
        self._url = database_url
        self._health = health
        self._max_backoff = max_backoff_s
        self._initial_backoff = initial_backoff_s
        self._stopping = stopping or asyncio.Event()
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._staged: set[str] = set()

    @property
    def state(self) -> str:
        if self._conn is None or self._conn.closed:
            return "disconnected"
        return "connected"

    async def check(self) -> None:
        """Wait until the database answers a real query (a wrong password is not ready)."""
        backoff = self._initial_backoff
        while True:
            try:
                conn = await self._connection()
                async with conn.transaction():
                    await conn.execute("SELECT 1")
                if self._health is not None:
                    self._health.set_ready("database", True)
                return
            except psycopg.Error as exc:
                await self._drop_connection()
                reason = f"{type(exc).__name__}: {exc}".strip().splitlines()[0][:200]
                if self._health is not None:
                    self._health.set_ready("database", False, reason)
                log.warning("database not ready", extra={"error": reason, "retry_in_s": round(backoff, 2)})
                await self._sleep_or_stop(backoff)
                backoff = min(self._max_backoff, backoff * 2)

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection.connect(self._url, connect_timeout=5)
            self._staged.clear()
            if self._health is not None:
                self._health.set_ready("database", True)
        return self._conn

    async def write(self, table: Table, rows: Sequence[Row]) -> WriteResult:
        """Write rows durably and idempotently. Returns once they are committed."""
        if not rows:
            return WriteResult()
        started = time.perf_counter()
        backoff = self._initial_backoff
        while True:
            try:
                result = await self._write_batch(table, rows)
                break
            except _TRANSIENT as exc:
                await self._drop_connection()
                if self._health is not None:
                    self._health.set_ready("database", False, f"unreachable: {exc}".strip())
                SINK_RETRIES.labels(table.name).inc()
                log.warning(
                    "database unavailable, batch kept for retry",
                    extra={"table": table.name, "rows": len(rows), "retry_in_s": round(backoff, 2)},
                )
                await self._sleep_or_stop(backoff)
                backoff = min(self._max_backoff, backoff * 2) * random.uniform(0.8, 1.0)
            except psycopg.Error:
                # Something in this batch is unacceptable to the database: find the bad rows
                # one by one so the good ones still land and the bad ones can be dead-lettered.
                await self._rollback()
                result = await self._write_row_by_row(table, rows)
                break
        SINK_ROWS.labels(table.name).inc(result.inserted)
        SINK_BATCH_SECONDS.labels(table.name).observe(time.perf_counter() - started)
        return result

    async def _write_batch(self, table: Table, rows: Sequence[Row]) -> WriteResult:
        conn = await self._connection()
        stage = f"_stage_{table.name}"
        columns = sql.SQL(", ").join(map(sql.Identifier, table.columns))
        try:
            return await self._copy_and_merge(conn, table, rows, stage, columns)
        except BaseException:
            # A rolled-back transaction may have taken the staging table's creation with it.
            self._staged.discard(stage)
            raise

    async def _copy_and_merge(
        self,
        conn: psycopg.AsyncConnection[Any],
        table: Table,
        rows: Sequence[Row],
        stage: str,
        columns: sql.Composed,
    ) -> WriteResult:
        async with conn.transaction(), conn.cursor() as cur:
            if stage not in self._staged:
                await cur.execute(
                    sql.SQL(
                        "CREATE TEMP TABLE IF NOT EXISTS {} (LIKE {} INCLUDING DEFAULTS) "
                        "ON COMMIT DELETE ROWS"
                    ).format(sql.Identifier(stage), sql.Identifier(table.name))
                )
                self._staged.add(stage)
            copy = sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier(stage), columns)
            async with cur.copy(copy) as copier:
                for row in rows:
                    await copier.write_row(row)
            await cur.execute(
                sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} ON CONFLICT DO NOTHING").format(
                    sql.Identifier(table.name), columns, columns, sql.Identifier(stage)
                )
            )
            inserted = max(cur.rowcount, 0)
        return WriteResult(inserted=inserted, duplicates=len(rows) - inserted)

    async def _write_row_by_row(self, table: Table, rows: Sequence[Row]) -> WriteResult:
        result = WriteResult()
        conn = await self._connection()
        statement = sql.SQL("INSERT INTO {} ({}) VALUES ({}) ON CONFLICT DO NOTHING").format(
            sql.Identifier(table.name),
            sql.SQL(", ").join(map(sql.Identifier, table.columns)),
            sql.SQL(", ").join(sql.Placeholder() * len(table.columns)),
        )
        for row in rows:
            try:
                async with conn.transaction(), conn.cursor() as cur:
                    await cur.execute(statement, row)
                    if cur.rowcount > 0:
                        result.inserted += 1
                    else:
                        result.duplicates += 1
            except _TRANSIENT:
                raise
            except psycopg.Error as exc:
                result.rejected.append(RejectedRow(row, f"{type(exc).__name__}: {exc}".strip()))
        return result

    async def _rollback(self) -> None:
        if self._conn is not None and not self._conn.closed:
            try:
                await self._conn.rollback()
            except psycopg.Error:
                await self._drop_connection()

    async def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                await conn.close()

    async def _sleep_or_stop(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        except TimeoutError:
            return
        raise SinkStopped("stopping with an unwritten batch; its offsets stay uncommitted")
