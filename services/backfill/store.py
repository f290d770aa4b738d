"""The backfill's database side: what is covered already, and one page written atomically.

Rows are built by the same functions the live sinks use (the analytics service's candle row,
the market-recorder's funding and open-interest rows) and inserted with ON CONFLICT DO NOTHING
on the tables' natural keys, so history and live data never duplicate each other: whichever
row arrives first for a key is kept. A page's rows and its ``backfill_coverage`` row commit in
one transaction, so a run killed at any point resumes exactly after the last committed page.
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql

from schemas.common import InstrumentEvent
from schemas.market_data import Candle, Funding, OpenInterest
from services.analytics.service import CANDLES, output_row
from services.backfill.core.plan import What, Window
from services.market_recorder.core.rows import (
    FUNDING_COLUMNS,
    OPEN_INTEREST_COLUMNS,
    funding_row,
    open_interest_row,
)
from services.runtime.sink import Row, Table
from services.runtime.timestamps import ns_to_datetime

FUNDING_RATES = Table("funding_rates", FUNDING_COLUMNS)
OPEN_INTEREST = Table("open_interest", OPEN_INTEREST_COLUMNS)
TABLE_OF = {What.KLINES: CANDLES, What.FUNDING: FUNDING_RATES, What.OI: OPEN_INTEREST}


def row_of(event: InstrumentEvent) -> Row:
    if isinstance(event, Candle):
        return output_row(event)[1]
    if isinstance(event, Funding):
        return funding_row(event)
    if isinstance(event, OpenInterest):
        return open_interest_row(event)
    raise TypeError(f"backfill has no table for {type(event).__name__}")


def _insert(table: Table) -> sql.Composed:
    return sql.SQL("INSERT INTO {} ({}) VALUES ({}) ON CONFLICT DO NOTHING").format(
        sql.Identifier(table.name),
        sql.SQL(", ").join(sql.Identifier(c) for c in table.columns),
        sql.SQL(", ").join(sql.Placeholder() * len(table.columns)),
    )


async def covered(
    conn: psycopg.AsyncConnection[Any], exchange: str, symbol: str, what: What, interval_s: int
) -> list[Window]:
    rows = await (
        await conn.execute(
            "SELECT start_ts, end_ts FROM backfill_coverage "
            "WHERE exchange = %s AND symbol = %s AND what = %s AND interval_s = %s",
            (exchange, symbol, what.value, interval_s),
        )
    ).fetchall()
    return [Window(_ns(start), _ns(end)) for start, end in rows]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _ns(value: datetime) -> int:
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


async def write_page(
    conn: psycopg.AsyncConnection[Any],
    *,
    what: What,
    exchange: str,
    symbol: str,
    interval_s: int,
    page: Window,
    events: Sequence[InstrumentEvent],
) -> int:
    """Insert a page's rows and mark the page covered, in one transaction; rows inserted."""
    table = TABLE_OF[what]
    inserted = 0
    async with conn.transaction(), conn.cursor() as cursor:
        if events:
            await cursor.executemany(_insert(table), [row_of(e) for e in events])
            inserted = max(0, cursor.rowcount)
        await cursor.execute(
            "INSERT INTO backfill_coverage (exchange, symbol, what, interval_s, start_ts, end_ts, records) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (exchange, symbol, what, interval_s, start_ts) DO UPDATE SET "
            "end_ts = GREATEST(backfill_coverage.end_ts, EXCLUDED.end_ts), "
            "records = EXCLUDED.records, fetched_at = now()",
            (
                exchange,
                symbol,
                what.value,
                interval_s,
                ns_to_datetime(page.start_ns),
                ns_to_datetime(page.end_ns),
                len(events),
            ),
        )
    return inserted
