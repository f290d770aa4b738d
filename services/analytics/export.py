"""Export a time range of a perpwatch table to CSV or Parquet (``perpwatch export``).

Rows are read with a server-side cursor in chunks, in primary-key order by time, so a range of
any size streams in constant memory; ``progress(done, total)`` is called after every chunk (the
CLI draws a progress bar with it). Values keep their exact meaning:

- CSV: numerics as their exact decimal text, timestamps as ISO 8601 with offset, JSON as JSON
  text, NULL as an empty field. A header row names the columns.
- Parquet: numerics as strings (PostgreSQL ``numeric`` has no fixed precision, and a float would
  round prices and COIN-M quantities), timestamps as ``timestamp[us, UTC]``, integers as int64,
  doubles as float64, JSON as a JSON string. Needs ``pyarrow``.

``read_back`` parses an exported file into the same Python values a database query returns, so
a round trip can be checked exactly.
"""

import csv
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import psycopg
from psycopg import sql

Format = Literal["csv", "parquet"]

# Short names accepted besides the table names themselves.
ALIASES = {
    "trades": "market_trades",
    "spikes": "analytics_spikes",
    "flow": "analytics_flow_windows",
    "large_trades": "analytics_large_trades",
    "pairs": "analytics_pairs",
    "arbitrage": "arb_opportunities",
    "liquidity": "liquidity_metrics",
}
EXPORTABLE = (
    "candles",
    "market_trades",
    "book_bbo",
    "analytics_spikes",
    "analytics_flow_windows",
    "analytics_large_trades",
    "analytics_pairs",
    "arb_opportunities",
    "arb_spreads",
    "liquidity_metrics",
    "liquidity_anomalies",
)
CHUNK_ROWS = 10_000


class ExportError(Exception):
    """A request that cannot be exported (unknown table, missing column); the message says why."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # information_schema data_type, e.g. numeric, integer, timestamp with time zone


@dataclass(frozen=True)
class ExportResult:
    table: str
    rows: int
    path: Path


def resolve_table(name: str) -> str:
    table = ALIASES.get(name, name)
    if table not in EXPORTABLE:
        raise ExportError(f"cannot export {name!r}: choose one of {', '.join(EXPORTABLE + tuple(ALIASES))}")
    return table


def table_columns(conn: psycopg.Connection[Any], table: str) -> list[Column]:
    rows = conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = %s ORDER BY ordinal_position",
        (table,),
    ).fetchall()
    if not rows:
        raise ExportError(f"table {table} does not exist in this database (is its migration applied?)")
    return [Column(str(n), str(t)) for n, t in rows]


def primary_key(conn: psycopg.Connection[Any], table: str) -> list[str]:
    """The table's primary-key columns: with ts first, the export order (stable, unique)."""
    rows = conn.execute(
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
        "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = %s::regclass AND i.indisprimary "
        "ORDER BY array_position(i.indkey, a.attnum)",
        (table,),
    ).fetchall()
    if not rows:
        raise ExportError(f"table {table} has no primary key to order the export by")
    return [str(r[0]) for r in rows]


def _filters(
    columns: Sequence[Column], start: datetime, end: datetime, symbol: str | None, exchange: str | None
) -> tuple[sql.Composed, list[Any]]:
    names = {c.name for c in columns}
    if "ts" not in names:
        raise ExportError("the table has no ts column")
    clauses: list[sql.Composable] = [sql.SQL("ts >= %s AND ts < %s")]
    params: list[Any] = [start, end]
    for value, plain, legs in (
        (symbol, "symbol", ("symbol_a", "symbol_b")),
        (exchange, "exchange", ("exchange_a", "exchange_b")),
    ):
        if value is None:
            continue
        if plain in names:
            clauses.append(sql.SQL("{} = %s").format(sql.Identifier(plain)))
            params.append(value)
        elif set(legs) <= names:  # pairs: either leg
            clauses.append(sql.SQL("({} = %s OR {} = %s)").format(*map(sql.Identifier, legs)))
            params += [value, value]
        else:
            raise ExportError(f"the table has no {plain} column to filter on")
    return sql.SQL(" AND ").join(clauses), params


def export_table(
    database_url: str,
    table: str,
    *,
    start: datetime,
    end: datetime,
    out: Path,
    fmt: Format = "csv",
    symbol: str | None = None,
    exchange: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ExportResult:
    """Write the rows of ``table`` with ``start <= ts < end`` (and the filters) to ``out``."""
    table = resolve_table(table)
    if end <= start:
        raise ExportError("--to must be after --from")
    with psycopg.connect(database_url) as conn:
        columns = table_columns(conn, table)
        where, params = _filters(columns, start, end, symbol, exchange)
        total_row = conn.execute(
            sql.SQL("SELECT count(*) FROM {} WHERE ").format(sql.Identifier(table)) + where, params
        ).fetchone()
        total = int(total_row[0]) if total_row else 0
        select = sql.SQL("SELECT {} FROM {} WHERE ").format(
            sql.SQL(", ").join(sql.Identifier(c.name) for c in columns), sql.Identifier(table)
        )
        order = sql.SQL(" ORDER BY ts, {}").format(
            sql.SQL(", ").join(sql.Identifier(c) for c in primary_key(conn, table) if c != "ts")
        )
        with conn.cursor(name=f"export_{table}") as cursor:
            cursor.itersize = CHUNK_ROWS
            cursor.execute(select + where + order, params)
            chunks = _chunks(cursor, total, progress)
            rows = _write_csv(out, columns, chunks) if fmt == "csv" else _write_parquet(out, columns, chunks)
    return ExportResult(table, rows, out)


def _chunks(
    cursor: psycopg.Cursor[Any], total: int, progress: Callable[[int, int], None] | None
) -> Iterator[list[tuple[Any, ...]]]:
    done = 0
    while True:
        chunk = cursor.fetchmany(CHUNK_ROWS)
        if not chunk:
            break
        done += len(chunk)
        yield chunk
        if progress is not None:
            progress(done, total)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return str(value)


def _write_csv(out: Path, columns: Sequence[Column], chunks: Iterator[list[tuple[Any, ...]]]) -> int:
    rows = 0
    with out.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([c.name for c in columns])
        for chunk in chunks:
            writer.writerows([_text(v) for v in row] for row in chunk)
            rows += len(chunk)
    return rows


def _arrow_type(pa: Any, column: Column) -> Any:
    if column.type in ("integer", "bigint", "smallint"):
        return pa.int64()
    if column.type in ("double precision", "real"):
        return pa.float64()
    if column.type == "boolean":
        return pa.bool_()
    if column.type == "timestamp with time zone":
        return pa.timestamp("us", tz="UTC")
    return pa.string()  # numeric (exact text), text, jsonb


def _arrow_value(column: Column, value: Any) -> Any:
    if value is None:
        return None
    if column.type == "numeric":
        return format(value, "f")
    if column.type in ("jsonb", "json"):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return value


def _write_parquet(out: Path, columns: Sequence[Column], chunks: Iterator[list[tuple[Any, ...]]]) -> int:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ExportError("Parquet export needs pyarrow: pip install pyarrow") from None
    schema = pa.schema([(c.name, _arrow_type(pa, c)) for c in columns])
    rows = 0
    with pq.ParquetWriter(out, schema) as writer:
        for chunk in chunks:
            arrays = [
                pa.array([_arrow_value(c, row[i]) for row in chunk], type=schema.field(i).type)
                for i, c in enumerate(columns)
            ]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
            rows += len(chunk)
        if rows == 0:
            writer.write_table(schema.empty_table())
    return rows


def _parse(column: Column, text: str) -> Any:
    if text == "":
        return None
    if column.type == "numeric":
        return Decimal(text)
    if column.type in ("integer", "bigint", "smallint"):
        return int(text)
    if column.type in ("double precision", "real"):
        return float(text)
    if column.type == "boolean":
        return text == "True"
    if column.type == "timestamp with time zone":
        return datetime.fromisoformat(text)
    if column.type in ("jsonb", "json"):
        return json.loads(text)
    return text


def read_back(path: Path, columns: Sequence[Column], fmt: Format = "csv") -> list[tuple[Any, ...]]:
    """The rows of an exported file as the Python values psycopg returns for the table."""
    if fmt == "csv":
        with path.open(newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader)
            if header != [c.name for c in columns]:
                raise ExportError(f"unexpected header {header}")
            return [tuple(_parse(c, v) for c, v in zip(columns, row, strict=True)) for row in reader]
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    result = []
    for record in table.to_pylist():
        values = []
        for c in columns:
            value = record[c.name]
            if value is not None and c.type == "numeric":
                value = Decimal(value)
            elif value is not None and c.type in ("jsonb", "json"):
                value = json.loads(value)
            values.append(value)
        result.append(tuple(values))
    return result
