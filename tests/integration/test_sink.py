"""The database sink on the real PostgreSQL: idempotent, patient while the database is away."""

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import psycopg
import pytest

from services.book_builder.service import BOOK_BBO
from services.runtime.sink import SinkStopped, Table, TimescaleSink

TRADES = Table(
    "market_trades",
    ("ts", "exchange", "symbol", "trade_id", "side", "price", "quantity", "notional", "receive_ts"),
)


def trade_row(trade_id: str, side: str = "buy") -> tuple[object, ...]:
    ts = datetime(2024, 8, 8, 23, 54, 16, tzinfo=UTC)
    return (
        ts,
        "binance_usdm",
        "BTC-USDT-PERP",
        trade_id,
        side,
        Decimal("61800.3"),
        Decimal("0.006"),
        Decimal("370.8018"),
        ts,
    )


def count(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM market_trades").fetchone()
        assert row is not None
        return int(row[0])


async def test_a_redelivered_batch_changes_nothing(migrated_database_url: str) -> None:
    sink = TimescaleSink(migrated_database_url)
    rows = [trade_row(str(i)) for i in range(100)]
    first = await sink.write(TRADES, rows)
    again = await sink.write(TRADES, rows)
    await sink.close()
    assert (first.inserted, first.duplicates) == (100, 0)
    assert (again.inserted, again.duplicates) == (0, 100)
    assert count(migrated_database_url) == 100


async def test_bad_rows_are_rejected_one_by_one_and_good_rows_land(migrated_database_url: str) -> None:
    sink = TimescaleSink(migrated_database_url)
    result = await sink.write(TRADES, [trade_row("1"), trade_row("2", side="sideways"), trade_row("3")])
    await sink.close()
    assert result.inserted == 2
    assert [r.row[3] for r in result.rejected] == ["2"]
    assert "check" in result.rejected[0].error.lower()


async def test_a_dropped_connection_is_retried_without_losing_the_batch(migrated_database_url: str) -> None:
    sink = TimescaleSink(migrated_database_url, initial_backoff_s=0.05)
    await sink.write(TRADES, [trade_row("before")])
    with psycopg.connect(migrated_database_url, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    result = await sink.write(TRADES, [trade_row("after")])
    await sink.close()
    assert result.inserted == 1
    assert count(migrated_database_url) == 2


async def test_stopping_while_the_database_is_unreachable_keeps_the_batch_uncommitted() -> None:
    stopping = asyncio.Event()
    # Nothing listens on port 1: the database is simply not there.
    sink = TimescaleSink("postgresql://perpwatch@127.0.0.1:1/none", initial_backoff_s=0.05, stopping=stopping)
    writing = asyncio.create_task(sink.write(TRADES, [trade_row("x")]))
    await asyncio.sleep(0.5)
    assert not writing.done(), "the sink must keep retrying, not drop the batch"
    stopping.set()
    with pytest.raises(SinkStopped):
        await writing


def bbo_row(seq: int, bid: object = Decimal("61800.3")) -> tuple[object, ...]:
    ts = datetime(2024, 8, 8, 23, 54, 16, tzinfo=UTC)
    return (
        ts,
        "binance_usdm",
        "BTC-USDT-PERP",
        seq,
        seq,
        bid,
        Decimal("1.5"),
        Decimal("61800.4"),
        Decimal("2"),
        ts,
    )


def table_rows(url: str, table: str, order: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()


async def test_a_batch_of_several_tables_lands_in_one_transaction_and_partial_redelivery_counts(
    migrated_database_url: str,
) -> None:
    sink = TimescaleSink(migrated_database_url)
    first = await sink.write_batch(
        {TRADES: [trade_row(str(i)) for i in range(10)], BOOK_BBO: [bbo_row(i) for i in range(10)]}
    )
    # Half new, half already there, and one row twice in the same batch: the direct COPY fails
    # on the key, the batch goes again through the staging table.
    again = await sink.write_batch(
        {
            TRADES: [trade_row(str(i)) for i in [*range(5, 15), 14]],
            BOOK_BBO: [bbo_row(i) for i in range(10, 20)],
        }
    )
    # The table that met a duplicate goes back to the direct COPY after a clean merge.
    fresh = await sink.write_batch({TRADES: [trade_row(str(i)) for i in range(15, 20)]})
    await sink.close()
    assert (first[TRADES].inserted, first[TRADES].duplicates, first[BOOK_BBO].inserted) == (10, 0, 10)
    assert (again[TRADES].inserted, again[TRADES].duplicates) == (5, 6)
    assert (again[BOOK_BBO].inserted, again[BOOK_BBO].duplicates) == (10, 0)
    assert (fresh[TRADES].inserted, fresh[TRADES].duplicates) == (5, 0)
    assert count(migrated_database_url) == 20
    assert len(table_rows(migrated_database_url, "book_bbo", "venue_seq")) == 20


async def test_binary_and_text_copies_store_the_same_rows(migrated_database_url: str) -> None:
    """A value the binary COPY refuses (a float for a numeric column) sends the batch as text."""
    sink = TimescaleSink(migrated_database_url)
    await sink.write(BOOK_BBO, [bbo_row(1, Decimal("61800.25")), bbo_row(2, Decimal("61800.50"))])
    result = await sink.write(BOOK_BBO, [bbo_row(3, 61800.25), bbo_row(4, 61800.5)])
    await sink.close()
    assert result.inserted == 2
    rows = table_rows(migrated_database_url, "book_bbo", "venue_seq")
    assert [row[5] for row in rows] == [
        Decimal("61800.25"),
        Decimal("61800.50"),
        Decimal("61800.25"),
        Decimal("61800.5"),
    ]
    assert rows[0][0] == datetime(2024, 8, 8, 23, 54, 16, tzinfo=UTC)
