"""Order status from the ``venue_orders`` table that venue-recorder fills."""

import asyncio
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

import psycopg
from psycopg.rows import dict_row

from services.matching.gateway.models import OrderStatus

# A rejected request naming an existing order (a reused id, a refused amend) does not change
# that order, so the latest non-rejected row wins; a rejection shows only when it is all there is.
_LATEST_ORDER_ROW = """
SELECT ts, symbol, seq, account, client_order_id, order_id, status, side, order_type, tif,
       price, stop_price, quantity, filled_quantity, remaining_quantity, cancelled_quantity,
       request, reason
FROM venue_orders
WHERE account = %(account)s AND client_order_id = %(client_order_id)s
  AND (%(symbol)s::text IS NULL OR symbol = %(symbol)s::text)
ORDER BY (status = 'rejected'), ts DESC, seq DESC
LIMIT 1
"""


class OrderStoreUnavailable(Exception):
    """The order store cannot answer now (the gateway answers 503)."""


class OrderStatusReader(Protocol):
    async def latest(self, account: str, client_order_id: str, symbol: str | None) -> OrderStatus | None: ...


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def order_status_of(row: dict[str, Any]) -> OrderStatus:
    ts: datetime = row["ts"]
    return OrderStatus(
        symbol=row["symbol"],
        account=row["account"],
        client_order_id=row["client_order_id"],
        order_id=row["order_id"],
        status=row["status"],
        side=row["side"],
        order_type=row["order_type"],
        tif=row["tif"],
        price=_text(row["price"]),
        stop_price=_text(row["stop_price"]),
        quantity=_text(row["quantity"]),
        filled_quantity=_text(row["filled_quantity"]),
        remaining_quantity=_text(row["remaining_quantity"]),
        cancelled_quantity=_text(row["cancelled_quantity"]),
        request=row["request"],
        reason=row["reason"],
        seq=row["seq"],
        updated_at=ts,
    )


class PostgresOrderStatus:
    """One autocommit connection, opened lazily and reopened after a connection failure."""

    def __init__(self, database_url: str) -> None:
        self._url = database_url
        self._conn: psycopg.AsyncConnection[dict[str, Any]] | None = None
        self._lock = asyncio.Lock()

    async def latest(self, account: str, client_order_id: str, symbol: str | None) -> OrderStatus | None:
        params = {"account": account, "client_order_id": client_order_id, "symbol": symbol}
        async with self._lock:
            try:
                conn = await self._connection()
                cursor = await conn.execute(_LATEST_ORDER_ROW, params)
                row = await cursor.fetchone()
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                await self.close()
                raise OrderStoreUnavailable(str(exc)) from exc
        return None if row is None else order_status_of(row)

    async def check(self) -> None:
        """Raise ``OrderStoreUnavailable`` unless the database answers (wrong password included)."""
        async with self._lock:
            try:
                conn = await self._connection()
                await conn.execute("SELECT 1")
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                await self.close()
                raise OrderStoreUnavailable(str(exc)) from exc

    async def _connection(self) -> psycopg.AsyncConnection[dict[str, Any]]:
        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection.connect(
                self._url, autocommit=True, connect_timeout=5, row_factory=dict_row
            )
        return self._conn

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()
