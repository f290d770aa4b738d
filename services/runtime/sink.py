"""The database sink: batched, idempotent, and patient while the database is down.

Fresh rows are COPYed straight into their table: COPY is the fastest way in. A re-delivered
row fails that COPY on the natural primary key; the transaction is run again, and the rows are
COPYed into a per-connection staging table and moved with
``INSERT ... SELECT ... ON CONFLICT DO NOTHING``, so a re-delivered batch is a no-op (that way
stays in use for the table until a batch merges with no duplicate). ``write_batch`` does this
for every table of a service batch in one transaction (one commit per batch rather than per
table or chunk). The COPY is binary where every column's type has a binary form that means
exactly what the text form means (``BINARY_SAFE_TYPES``), text otherwise: binary formatting
costs the client less than half of text, and the rows that land are the same. A batch is
retried with capped exponential backoff for as long as the database is unreachable; it is
never dropped, and the caller only commits its Kafka offsets after ``write``/``write_batch``
returns.
"""

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from services.runtime.metrics import SINK_BATCH_SECONDS, SINK_RETRIES, SINK_ROWS
from services.runtime.observability import Health
from services.runtime.timestamps import ns_to_datetime

__all__ = ["Row", "SinkStopped", "Table", "TimescaleSink", "WriteResult", "ns_to_datetime"]

log = logging.getLogger(__name__)

Row = tuple[Any, ...]

# Errors that say "the database is not there right now", as opposed to "this row is wrong".
_TRANSIENT = (psycopg.OperationalError, psycopg.InterfaceError)

# Column types COPYed in binary. Only types whose binary dumper either writes what the text form
# would mean or refuses the Python value (TypeError, then the batch goes again as text): int4 and
# int2 are left out because their binary dumpers wrap an out-of-range int silently, json/jsonb
# because a str would be stored as a JSON string rather than parsed as a document.
BINARY_SAFE_TYPES = frozenset(
    {
        "timestamptz",
        "text",
        "int8",
        "numeric",
        "bool",
        "float8",
        "_numeric",
        "_text",
        "_int8",
        "_float8",
    }
)


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


class _Retry(Exception):
    """Run the transaction again: a table's rows go another way (as text, or idempotently)."""


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
        # Per table, the column type oids for a binary COPY, or None for text (per connection).
        self._binary: dict[Table, list[int] | None] = {}
        # Per table, whether the next batch is COPYed straight in (False after a duplicate).
        self._direct: dict[Table, bool] = {}

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
            self._binary.clear()
            if self._health is not None:
                self._health.set_ready("database", True)
        return self._conn

    async def write(self, table: Table, rows: Sequence[Row]) -> WriteResult:
        """Write rows durably and idempotently. Returns once they are committed."""
        return (await self.write_batch({table: rows})).get(table, WriteResult())

    async def write_batch(self, batch: Mapping[Table, Sequence[Row]]) -> dict[Table, WriteResult]:
        """Write the rows of several tables durably and idempotently, in one transaction.

        Returns once they are committed. If the database refuses something in the batch, each
        table is written again on its own, and a refused table row by row, so the good rows land
        and the bad ones come back in ``WriteResult.rejected``.
        """
        tables = {table: rows for table, rows in batch.items() if rows}
        if not tables:
            return {}
        started = time.perf_counter()
        try:
            results = await self._retrying(tables, self._write_tables)
        except psycopg.Error:
            # Something is unacceptable to the database: find it table by table, then row by row.
            await self._rollback()
            results = {}
            for table, rows in tables.items():
                results.update(await self._write_table(table, rows))
        elapsed = time.perf_counter() - started
        for table, result in results.items():
            SINK_ROWS.labels(table.name).inc(result.inserted)
            SINK_BATCH_SECONDS.labels(table.name).observe(elapsed)
        return results

    async def _write_table(self, table: Table, rows: Sequence[Row]) -> dict[Table, WriteResult]:
        try:
            return await self._retrying({table: rows}, self._write_tables)
        except psycopg.Error:
            # Something in these rows is unacceptable to the database: find the bad rows one by
            # one so the good ones still land and the bad ones can be dead-lettered.
            await self._rollback()
            return {table: await self._write_row_by_row(table, rows)}

    async def _retrying(
        self,
        tables: dict[Table, Sequence[Row]],
        attempt: Callable[[dict[Table, Sequence[Row]]], Awaitable[dict[Table, WriteResult]]],
    ) -> dict[Table, WriteResult]:
        """Run one attempt until the database answers; non-transient errors go to the caller."""
        backoff = self._initial_backoff
        while True:
            try:
                return await attempt(tables)
            except _Retry:
                continue
            except _TRANSIENT as exc:
                await self._drop_connection()
                if self._health is not None:
                    self._health.set_ready("database", False, f"unreachable: {exc}".strip())
                for table in tables:
                    SINK_RETRIES.labels(table.name).inc()
                log.warning(
                    "database unavailable, batch kept for retry",
                    extra={
                        "tables": [table.name for table in tables],
                        "rows": sum(len(rows) for rows in tables.values()),
                        "retry_in_s": round(backoff, 2),
                    },
                )
                await self._sleep_or_stop(backoff)
                backoff = min(self._max_backoff, backoff * 2) * random.uniform(0.8, 1.0)

    async def _write_tables(self, tables: dict[Table, Sequence[Row]]) -> dict[Table, WriteResult]:
        """One transaction for all the tables' rows (see ``_copy_and_merge``)."""
        conn = await self._connection()
        try:
            async with conn.transaction(), conn.cursor() as cur:
                results = {}
                for table, rows in tables.items():
                    results[table] = await self._copy_and_merge(cur, table, rows)
            return results
        except BaseException:
            # A rolled-back transaction may have taken the staging tables' creation with it.
            self._staged.difference_update(f"_stage_{table.name}" for table in tables)
            raise

    async def _copy_and_merge(
        self, cur: psycopg.AsyncCursor[Any], table: Table, rows: Sequence[Row]
    ) -> WriteResult:
        columns = sql.SQL(", ").join(map(sql.Identifier, table.columns))
        types = await self._binary_types(cur, table)
        if self._direct.get(table, True):
            # Fresh rows, the usual case: COPY straight into the table. A row already there (a
            # redelivery) fails the COPY on the primary key, which rolls the transaction back;
            # it is run again with this table's rows going the idempotent way below, which
            # stays the way for the table until a batch merges without a duplicate.
            try:
                await self._copy(cur, table, table.name, columns, rows, types)
            except psycopg.errors.UniqueViolation:
                self._direct[table] = False
                raise _Retry() from None
            return WriteResult(inserted=len(rows))
        stage = f"_stage_{table.name}"
        if stage not in self._staged:
            await cur.execute(
                sql.SQL(
                    "CREATE TEMP TABLE IF NOT EXISTS {} (LIKE {} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
                ).format(sql.Identifier(stage), sql.Identifier(table.name))
            )
            self._staged.add(stage)
        await self._copy(cur, table, stage, columns, rows, types)
        await cur.execute(
            sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} ON CONFLICT DO NOTHING").format(
                sql.Identifier(table.name), columns, columns, sql.Identifier(stage)
            )
        )
        inserted = max(cur.rowcount, 0)
        if inserted == len(rows):
            self._direct[table] = True
        return WriteResult(inserted=inserted, duplicates=len(rows) - inserted)

    async def _copy(
        self,
        cur: psycopg.AsyncCursor[Any],
        table: Table,
        target: str,
        columns: sql.Composed,
        rows: Sequence[Row],
        types: list[int] | None,
    ) -> None:
        options = sql.SQL(" (FORMAT BINARY)" if types is not None else "")
        copy = sql.SQL("COPY {} ({}) FROM STDIN{}").format(sql.Identifier(target), columns, options)
        try:
            async with cur.copy(copy) as copier:
                if types is not None:
                    copier.set_types(types)
                for row in rows:
                    await copier.write_row(row)
        except TypeError:
            if types is None:
                raise
            # A Python value the binary dumper refuses (a float for a numeric, say): the text
            # form of the same values is what the database has always been sent.
            self._binary[table] = None
            raise _Retry() from None

    async def _binary_types(self, cur: psycopg.AsyncCursor[Any], table: Table) -> list[int] | None:
        """The columns' type oids when all of them are binary-safe, else None (text COPY)."""
        if table not in self._binary:
            await cur.execute(
                "SELECT attname, atttypid, typname FROM pg_attribute JOIN pg_type ON pg_type.oid = atttypid "
                "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
                (table.name,),
            )
            found = {name: (oid, type_name) for name, oid, type_name in await cur.fetchall()}
            safe = all(found.get(column, (0, ""))[1] in BINARY_SAFE_TYPES for column in table.columns)
            self._binary[table] = [found[column][0] for column in table.columns] if safe else None
        return self._binary[table]

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
