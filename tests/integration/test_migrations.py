"""services.db.migrate against a real PostgreSQL server (plain path).

Uses the `fresh_database_url` fixture: a newly created, empty database, dropped afterwards.
"""

import threading
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from services.db import (
    ChecksumMismatchError,
    MigrationError,
    MigrationReport,
    TimescaleUnavailableError,
    discover_migrations,
    migrate,
    status,
)

pytestmark = pytest.mark.integration

EXPECTED_COLUMNS: dict[str, dict[str, str]] = {
    "market_trades": {
        "ts": "timestamp with time zone",
        "exchange": "text",
        "symbol": "text",
        "trade_id": "text",
        "side": "text",
        "price": "numeric",
        "quantity": "numeric",
        "notional": "numeric",
        "receive_ts": "timestamp with time zone",
    },
    "book_bbo": {
        "ts": "timestamp with time zone",
        "exchange": "text",
        "symbol": "text",
        "venue_seq": "bigint",
        "book_seq": "bigint",
        "bid_price": "numeric",
        "bid_qty": "numeric",
        "ask_price": "numeric",
        "ask_qty": "numeric",
        "receive_ts": "timestamp with time zone",
    },
    "funding_rates": {
        "ts": "timestamp with time zone",
        "exchange": "text",
        "symbol": "text",
        "rate": "numeric",
        "interval_s": "integer",
        "next_funding_ts": "timestamp with time zone",
        "mark_price": "numeric",
        "index_price": "numeric",
        "receive_ts": "timestamp with time zone",
    },
    "open_interest": {
        "ts": "timestamp with time zone",
        "exchange": "text",
        "symbol": "text",
        "open_interest": "numeric",
        "open_interest_notional": "numeric",
        "receive_ts": "timestamp with time zone",
    },
    "liquidations": {
        "ts": "timestamp with time zone",
        "exchange": "text",
        "symbol": "text",
        "side": "text",
        "price": "numeric",
        "quantity": "numeric",
        "notional": "numeric",
        "receive_ts": "timestamp with time zone",
    },
    "candles": {
        "ts": "timestamp with time zone",
        "exchange": "text",
        "symbol": "text",
        "interval_s": "integer",
        "open": "numeric",
        "high": "numeric",
        "low": "numeric",
        "close": "numeric",
        "volume": "numeric",
        "notional": "numeric",
        "trade_count": "integer",
        # Added by 0012_analytics (taker buy/sell split of the bar).
        "buy_volume": "numeric",
        "sell_volume": "numeric",
        # Added by 0014_backfill: 'trades' (built from md.trades.v1) or 'venue' (backfilled kline).
        "source": "text",
    },
}

EXPECTED_PRIMARY_KEYS: dict[str, list[str]] = {
    "market_trades": ["exchange", "symbol", "trade_id", "ts"],
    "book_bbo": ["exchange", "symbol", "venue_seq", "book_seq", "ts"],
    "funding_rates": ["exchange", "symbol", "ts"],
    "open_interest": ["exchange", "symbol", "ts"],
    "liquidations": ["exchange", "symbol", "ts", "side", "price", "quantity"],
    "candles": ["exchange", "symbol", "interval_s", "ts"],
}

EXPECTED_INDEXES: dict[str, set[str]] = {
    "market_trades": {"market_trades_pkey", "market_trades_symbol_ts_idx"},
    "book_bbo": {"book_bbo_pkey", "book_bbo_symbol_ts_idx"},
    "funding_rates": {"funding_rates_pkey", "funding_rates_symbol_ts_idx"},
    "open_interest": {"open_interest_pkey", "open_interest_symbol_ts_idx"},
    "liquidations": {"liquidations_pkey", "liquidations_symbol_ts_idx", "liquidations_ts_idx"},
    "candles": {"candles_pkey", "candles_symbol_interval_ts_idx"},
}

NULLABLE_COLUMNS = {
    ("funding_rates", "mark_price"),
    ("funding_rates", "index_price"),
    ("candles", "buy_volume"),
    ("candles", "sell_volume"),
    ("open_interest", "open_interest_notional"),
}

T0 = "2025-01-01 00:00:00+00"
# One valid row per table, written the way a sink writes it.
SAMPLE_INSERTS: dict[str, str] = {
    "market_trades": f"""INSERT INTO market_trades
        (ts, exchange, symbol, trade_id, side, price, quantity, notional, receive_ts)
        VALUES ('{T0}', 'binance_usdm', 'BTC-USDT-PERP', '42', 'buy', 100.5, 0.2, 20.1, '{T0}')""",
    "book_bbo": f"""INSERT INTO book_bbo
        (ts, exchange, symbol, venue_seq, book_seq, bid_price, bid_qty, ask_price, ask_qty, receive_ts)
        VALUES ('{T0}', 'binance_usdm', 'BTC-USDT-PERP', 7, 1, 100, 1, 100.1, 2, '{T0}')""",
    "funding_rates": f"""INSERT INTO funding_rates
        (ts, exchange, symbol, rate, interval_s, next_funding_ts, mark_price, index_price, receive_ts)
        VALUES ('{T0}', 'binance_usdm', 'BTC-USDT-PERP', 0.0001, 28800, '2025-01-01 08:00:00+00',
                NULL, NULL, '{T0}')""",
    "open_interest": f"""INSERT INTO open_interest
        (ts, exchange, symbol, open_interest, open_interest_notional, receive_ts)
        VALUES ('{T0}', 'binance_usdm', 'BTC-USDT-PERP', 1234.5, NULL, '{T0}')""",
    "liquidations": f"""INSERT INTO liquidations
        (ts, exchange, symbol, side, price, quantity, notional, receive_ts)
        VALUES ('{T0}', 'binance_usdm', 'BTC-USDT-PERP', 'sell', 99, 3, 297, '{T0}')""",
    "candles": f"""INSERT INTO candles
        (ts, exchange, symbol, interval_s, open, high, low, close, volume, notional, trade_count)
        VALUES ('{T0}', 'binance_usdm', 'BTC-USDT-PERP', 60, 100, 101, 99, 100.5, 5, 502.5, 17)""",
}


def _fetch(url: str, query: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(query.encode(), params).fetchall()


def _write_migrations(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)
    return directory


def test_plain_path_creates_every_table_column_and_index(fresh_database_url: str) -> None:
    messages: list[str] = []
    report = migrate(fresh_database_url, timescale="off", progress=messages.append)

    every_version = tuple(m.version for m in discover_migrations())
    assert report == MigrationReport(applied=every_version, skipped=(), timescale=False)
    assert any("0001_market_data.sql" in m for m in messages)
    for table, expected in EXPECTED_COLUMNS.items():
        columns = _fetch(
            fresh_database_url,
            """SELECT column_name, data_type, is_nullable FROM information_schema.columns
               WHERE table_schema = current_schema() AND table_name = %s""",
            (table,),
        )
        assert {name: data_type for name, data_type, _ in columns} == expected, table
        for name, _, nullable in columns:
            assert (nullable == "YES") == ((table, name) in NULLABLE_COLUMNS), f"{table}.{name}"
        indexes = _fetch(
            fresh_database_url,
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = %s",
            (table,),
        )
        assert {row[0] for row in indexes} == EXPECTED_INDEXES[table]
        primary_key = _fetch(
            fresh_database_url,
            """SELECT a.attname FROM pg_index i
               CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, position)
               JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
               WHERE i.indrelid = %s::regclass AND i.indisprimary ORDER BY k.position""",
            (table,),
        )
        assert [row[0] for row in primary_key] == EXPECTED_PRIMARY_KEYS[table]
        described = _fetch(fresh_database_url, "SELECT obj_description(%s::regclass, 'pg_class')", (table,))
        assert described[0][0], f"{table} has no COMMENT"


def test_auto_mode_on_plain_postgres_uses_plain_tables(fresh_database_url: str) -> None:
    available = _fetch(fresh_database_url, "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'")
    if available:
        pytest.skip("this server offers timescaledb; the plain-path assertion needs plain PostgreSQL")
    report = migrate(fresh_database_url)
    assert report.timescale is False
    assert report.timescale_applied == ()
    assert _fetch(fresh_database_url, "SELECT bool_or(timescale) FROM perpwatch_schema_migrations") == [
        (False,)
    ]


def test_second_run_applies_nothing(fresh_database_url: str) -> None:
    first = migrate(fresh_database_url, timescale="off")
    messages: list[str] = []
    second = migrate(fresh_database_url, timescale="off", progress=messages.append)

    assert first.applied
    assert second.applied == ()
    assert second.skipped == first.applied
    assert "database schema is up to date" in messages
    assert _fetch(fresh_database_url, "SELECT count(*) FROM perpwatch_schema_migrations") == [
        (len(first.applied),)
    ]


def test_status_lists_every_migration_pending_then_applied(fresh_database_url: str) -> None:
    known = discover_migrations()
    before = status(fresh_database_url)
    assert [(s.version, s.name, s.applied) for s in before] == [(m.version, m.name, False) for m in known]

    migrate(fresh_database_url, timescale="off")
    after = status(fresh_database_url)

    assert [(s.version, s.name) for s in after] == [(m.version, m.name) for m in known]
    assert all(s.applied and s.applied_at is not None for s in after)
    assert not any(s.timescale or s.checksum_mismatch for s in after)


def test_changed_checksum_of_applied_migration_is_a_clear_error(fresh_database_url: str) -> None:
    migrate(fresh_database_url, timescale="off")
    with psycopg.connect(fresh_database_url) as conn:
        conn.execute("UPDATE perpwatch_schema_migrations SET checksum = 'tampered' WHERE version = 1")

    with pytest.raises(ChecksumMismatchError, match=r"changed since they were applied: 0001_market_data"):
        migrate(fresh_database_url, timescale="off")
    assert [s.checksum_mismatch for s in status(fresh_database_url) if s.version == 1] == [True]


def test_timescale_on_without_the_extension_is_a_clear_error(fresh_database_url: str) -> None:
    available = _fetch(fresh_database_url, "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'")
    if available:
        pytest.skip("this server offers timescaledb")
    with pytest.raises(TimescaleUnavailableError, match="timescaledb extension is not available"):
        migrate(fresh_database_url, timescale="on")
    # Nothing half-done: not even the bookkeeping table.
    assert _fetch(fresh_database_url, "SELECT to_regclass('perpwatch_schema_migrations')") == [(None,)]


@pytest.mark.parametrize("table", sorted(SAMPLE_INSERTS))
def test_duplicate_natural_key_with_on_conflict_keeps_one_row(fresh_database_url: str, table: str) -> None:
    migrate(fresh_database_url, timescale="off")
    insert = SAMPLE_INSERTS[table] + " ON CONFLICT DO NOTHING"
    with psycopg.connect(fresh_database_url) as conn:
        assert conn.execute(insert.encode()).rowcount == 1
        assert conn.execute(insert.encode()).rowcount == 0
        assert conn.execute(f"SELECT count(*) FROM {table}".encode()).fetchone() == (1,)


def test_stored_values_round_trip_exactly(fresh_database_url: str) -> None:
    migrate(fresh_database_url, timescale="off")
    with psycopg.connect(fresh_database_url) as conn:
        conn.execute(SAMPLE_INSERTS["market_trades"].encode())
        row = conn.execute("SELECT price, quantity, notional FROM market_trades").fetchone()
    assert row == (Decimal("100.5"), Decimal("0.2"), Decimal("20.1"))


def test_checksum_covers_only_what_was_applied(fresh_database_url: str, tmp_path: Path) -> None:
    directory = _write_migrations(
        tmp_path / "migrations",
        {
            "0001_demo.sql": "CREATE TABLE demo (ts timestamptz NOT NULL);\n",
            "0001_demo.timescale.sql": "SELECT 1;\n",
        },
    )
    migrate(fresh_database_url, timescale="off", migrations=discover_migrations(directory))

    # The companion never ran on plain PostgreSQL, so fixing it is allowed...
    (directory / "0001_demo.timescale.sql").write_text("SELECT 2;\n")
    assert (
        migrate(fresh_database_url, timescale="off", migrations=discover_migrations(directory)).applied == ()
    )

    # ...but the applied base file is immutable.
    (directory / "0001_demo.sql").write_text("CREATE TABLE demo (ts timestamptz NOT NULL, v int);\n")
    with pytest.raises(ChecksumMismatchError, match=r"0001_demo \(changed: 0001_demo\.sql\)"):
        migrate(fresh_database_url, timescale="off", migrations=discover_migrations(directory))


def test_failing_migration_rolls_back_whole_file(fresh_database_url: str, tmp_path: Path) -> None:
    directory = _write_migrations(
        tmp_path / "migrations",
        {
            "0001_first.sql": "CREATE TABLE first_table (id int PRIMARY KEY);\n",
            "0002_broken.sql": "CREATE TABLE second_table (id int);\nSELECT no_such_function();\n",
        },
    )
    known = discover_migrations(directory)

    with pytest.raises(MigrationError, match=r"0002_broken\.sql:2 failed and was rolled back"):
        migrate(fresh_database_url, timescale="off", migrations=known)

    assert _fetch(fresh_database_url, "SELECT version FROM perpwatch_schema_migrations") == [(1,)]
    assert _fetch(fresh_database_url, "SELECT to_regclass('second_table')") == [(None,)]
    assert [s.applied for s in status(fresh_database_url, migrations=known)] == [True, False]


def test_concurrent_migrations_apply_each_file_once(fresh_database_url: str) -> None:
    reports: list[MigrationReport] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            reports.append(migrate(fresh_database_url, timescale="off"))
        except BaseException as error:
            errors.append(error)

    workers = [threading.Thread(target=run) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)

    assert errors == []
    every_version = tuple(m.version for m in discover_migrations())
    assert sorted(r.applied for r in reports) == [(), (), every_version]
