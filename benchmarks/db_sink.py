"""Benchmark of the database sink against psql COPY (``python benchmarks/db_sink.py``).

Needs PostgreSQL: ``PERPWATCH_DATABASE_URL`` from the environment, else the local stack
(``deploy/local/stack.sh``). A fresh database is created (migrated, TimescaleDB when available)
and dropped at the end.

Load: ``--rows`` ``book_bbo`` rows (default 200,000) as the book-builder makes them
(``book_bbo_row``: two timestamps, exchange, symbol, two sequence numbers, four ``Decimal``
prices and sizes), built once. Every measurement starts from an empty ``book_bbo`` table.

Measured, as rows/s:

- **sink**: ``TimescaleSink.write_batch`` once per service batch of ``--batch-rows`` rows
  (default 5,000: the runtime fetches at most ``MAX_BATCH_RECORDS`` = 5,000 records per batch and
  the book-builder makes about one row per record), exactly as ``StreamService`` calls it: COPY to a staging table and
  ``INSERT ... ON CONFLICT DO NOTHING``, one transaction per batch;
- **sink, 500-row transactions**: the same sink called per 500-row chunk, the runtime's call
  pattern before one transaction per batch (``PERPWATCH_SINK_BATCH_ROWS=500``);
- **sink, redelivered**: the whole load written again into the full table (every row a
  duplicate), the cost of an at-least-once replay;
- **psql COPY**: ``psql -c "\\copy book_bbo ... FROM file"`` of the same rows as text, prepared
  before the clock starts: the floor, with no idempotency at all (a redelivered row would fail).

Each run measures all four back to back, so a shared machine's load falls on them alike; rows/s
are the best of ``--repeats`` runs, and each ratio (sink rows/s over psql COPY rows/s) is the
median of the runs' own ratios.
"""

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._stack import private_database
from services.book_builder.service import BOOK_BBO
from services.runtime.service import MAX_BATCH_RECORDS
from services.runtime.sink import Row, TimescaleSink

REPO_ROOT = Path(__file__).resolve().parents[1]


def database_url() -> str:
    url = os.environ.get("PERPWATCH_DATABASE_URL")
    if url:
        return url
    script = REPO_ROOT / "deploy" / "local" / "stack.sh"
    out = subprocess.run(["bash", str(script), "env"], check=True, capture_output=True, text=True).stdout
    env = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    return env["PERPWATCH_DATABASE_URL"]


def bbo_rows(count: int) -> list[Row]:
    """Rows shaped like the book-builder's: a top every millisecond around 61,800 USDT."""
    start = datetime(2024, 8, 8, tzinfo=UTC)
    rows: list[Row] = []
    for i in range(count):
        ts = start + timedelta(microseconds=1000 * i)
        bid = Decimal(618003 + i % 97) / 10
        rows.append(
            (
                ts,
                "binance_usdm",
                "BTC-USDT-PERP",
                5_000_000_000 + i,
                i + 1,
                bid,
                Decimal(1 + i % 1234) / 1000,
                bid + Decimal("0.1"),
                Decimal(1 + i % 877) / 1000,
                ts + timedelta(microseconds=2500),
            )
        )
    return rows


def copy_text(rows: Sequence[Row]) -> bytes:
    """The rows as COPY text (no value here needs escaping)."""
    return "".join("\t".join(map(str, row)) + "\n" for row in rows).encode()


def truncate(url: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute("TRUNCATE book_bbo")


def count(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM book_bbo").fetchone()
    return int(row[0]) if row else 0


def psql_copy(url: str, path: Path) -> float:
    columns = ", ".join(BOOK_BBO.columns)
    started = time.perf_counter()
    subprocess.run(
        ["psql", url, "-q", "-v", "ON_ERROR_STOP=1", "-c", f"\\copy book_bbo ({columns}) FROM '{path}'"],
        check=True,
    )
    return time.perf_counter() - started


async def sink_run(url: str, rows: Sequence[Row], chunk: int) -> tuple[float, int]:
    sink = TimescaleSink(url)
    try:
        await sink.check()  # connect outside the clock, as a running service is connected
        inserted = 0
        started = time.perf_counter()
        for i in range(0, len(rows), chunk):
            results = await sink.write_batch({BOOK_BBO: rows[i : i + chunk]})
            inserted += results[BOOK_BBO].inserted
        return time.perf_counter() - started, inserted
    finally:
        await sink.close()


async def run(args: argparse.Namespace) -> None:
    admin_url = database_url()
    with private_database(admin_url, "bench_sink") as url:
        rows = bbo_rows(args.rows)
        n = len(rows)
        best: dict[str, float] = {}
        ratios: dict[str, list[float]] = {"sink": [], "sink500": [], "again": []}
        with tempfile.TemporaryDirectory() as folder:
            text = Path(folder) / "book_bbo.tsv"
            text.write_bytes(copy_text(rows))
            for repeat in range(args.repeats):
                seconds: dict[str, float] = {}
                truncate(url)
                seconds["copy"] = psql_copy(url, text)
                assert count(url) == n

                truncate(url)
                seconds["sink"], inserted = await sink_run(url, rows, args.batch_rows)
                assert inserted == n == count(url), (inserted, n)

                seconds["again"], inserted = await sink_run(url, rows, args.batch_rows)
                assert inserted == 0
                assert count(url) == n

                truncate(url)
                seconds["sink500"], inserted = await sink_run(url, rows, 500)
                assert inserted == n == count(url)
                for name, value in seconds.items():
                    best[name] = min(best.get(name, value), value)
                for name in ratios:
                    ratios[name].append(seconds["copy"] / seconds[name])
                print(
                    f"  run {repeat + 1}/{args.repeats}: sink/COPY {ratios['sink'][-1]:.2f} "
                    f"(load average {os.getloadavg()[0]:.2f})",
                    flush=True,
                )
        rate = {name: n / value for name, value in best.items()}
        ratio = {name: statistics.median(values) for name, values in ratios.items()}
        print(f"{n:,} book_bbo rows; best of {args.repeats} for rows/s; ratio: median of the runs' ratios")
        print(
            f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} (a shared machine: trust the ratios)"
        )
        print(f"  psql COPY (text, no idempotency)           {rate['copy']:>10,.0f} rows/s")
        print(
            f"  sink, {args.batch_rows}-row batches, 1 transaction each {rate['sink']:>10,.0f} rows/s"
            f"   ratio {ratio['sink']:.2f}x of COPY"
        )
        print(
            f"  sink, 500-row transactions                 {rate['sink500']:>10,.0f} rows/s"
            f"   ratio {ratio['sink500']:.2f}x of COPY"
        )
        print(
            f"  sink, all rows redelivered (duplicates)    {rate['again']:>10,.0f} rows/s"
            f"   ratio {ratio['again']:.2f}x of COPY"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000, help="book_bbo rows in the load.")
    parser.add_argument("--batch-rows", type=int, default=MAX_BATCH_RECORDS, help="Rows per service batch.")
    parser.add_argument("--repeats", type=int, default=5, help="Runs of each measurement; the best is kept.")
    args: Any = parser.parse_args()
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
