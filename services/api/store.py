"""Reading TimescaleDB/PostgreSQL: one short read-only connection per query, a bounded number at once.

A connection per query keeps the API stateless towards the database (a restarted database
costs one failed request, not a poisoned pool); the semaphore keeps a burst of requests from
opening more connections than the database should give one service.
"""

import asyncio
from collections.abc import Sequence
from typing import Any, Protocol

import psycopg
from psycopg.rows import dict_row


class StoreUnavailable(Exception):
    """The database did not answer (down, timeout, missing table): the API answers 503."""


class Store(Protocol):
    async def fetch(self, query: str, params: Sequence[Any]) -> list[dict[str, Any]]: ...

    async def tables(self) -> set[str]: ...


class PostgresStore:
    def __init__(self, url: str, *, connections: int = 8, timeout_s: float = 10.0) -> None:
        self._url = url
        self._slots = asyncio.Semaphore(connections)
        self._timeout_ms = int(timeout_s * 1000)

    async def fetch(self, query: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        async with self._slots:
            try:
                conn = await psycopg.AsyncConnection.connect(
                    self._url,
                    row_factory=dict_row,
                    connect_timeout=5,
                    options=f"-c statement_timeout={self._timeout_ms} -c default_transaction_read_only=on",
                )
                async with conn:
                    cursor = await conn.execute(query, params)
                    return await cursor.fetchall()
            except psycopg.Error as exc:
                raise StoreUnavailable(type(exc).__name__) from exc
            except OSError as exc:
                raise StoreUnavailable(type(exc).__name__) from exc

    async def tables(self) -> set[str]:
        rows = await self.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()", ()
        )
        return {str(row["table_name"]) for row in rows}
