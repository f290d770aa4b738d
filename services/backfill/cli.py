"""``perpwatch backfill``: venue history into the tables, with a progress bar per symbol and kind.

Progress goes to stderr, and so does the one summary JSON line the command ends with (the shape
of ``BackfillSummary.as_json``); the exit code is 1 when any task ended in ``error``.
"""

import asyncio
import re
import sys
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table

from schemas.common import ExchangeId
from services.backfill.core.plan import NS_PER_MS, NS_PER_S, What, Window, parse_interval

if TYPE_CHECKING:
    # Imported when the command runs: `perpwatch` mounts every command at start, and the runner
    # pulls in the venue adapters, the analytics rows and psycopg.
    from services.backfill.runner import BackfillSummary, TaskResult

console = Console(stderr=True, highlight=False)

_RELATIVE = re.compile(r"^(?:now)?-(\d+)([mhd])$")


def parse_time(text: str, now_ns: int) -> int:
    """``now``, ``-6h`` / ``now-3d`` (relative), epoch milliseconds, or an ISO 8601 date/time (UTC if no zone)."""
    text = text.strip()
    if text == "now":
        return now_ns
    relative = _RELATIVE.match(text)
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        return now_ns - amount * {"m": 60, "h": 3600, "d": 86400}[unit] * NS_PER_S
    if text.isdigit():
        return int(text) * NS_PER_MS
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(
            f"{text!r}: use now, -6h, -3d, epoch ms or ISO 8601 (2026-01-31T00:00Z)"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000) * NS_PER_MS


def parse_whats(text: str) -> list[What]:
    try:
        return [What(item.strip()) for item in text.split(",") if item.strip()]
    except ValueError:
        raise typer.BadParameter(f"--what takes {', '.join(w.value for w in What)}") from None


def print_capabilities() -> None:
    from services.backfill.history import capability_table

    table = Table(
        "exchange",
        "what",
        "status",
        "detail",
        title="Backfill capability (services/venues/<exchange>/history.py)",
    )
    for row in capability_table():
        table.add_row(row["exchange"], row["what"], row["status"], row["detail"])
    Console().print(table)


def backfill_with_progress(
    database_url: str,
    exchange: ExchangeId,
    symbols: list[str],
    window: Window,
    whats: list[What],
    interval_s: int,
    rest_url: str | None,
) -> "BackfillSummary":
    """Run the backfill with one progress bar per (symbol, kind of history)."""
    from services.backfill.runner import run_backfill

    with Progress(
        TextColumn("[bold]backfill[/bold] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("pages"),
        TextColumn("{task.fields[records]} records, {task.fields[inserted]} new {task.fields[status]}"),
        console=console,
        refresh_per_second=4,
    ) as progress:
        bars: dict[tuple[str, str], TaskID] = {}

        def update(task: "TaskResult") -> None:
            key = (task.symbol, task.what)
            if key not in bars:
                description = f"{task.exchange} {task.symbol} {task.what} {task.interval}"
                bars[key] = progress.add_task(
                    description, total=task.pages_planned or 1, records=0, inserted=0, status=""
                )
            status = "" if task.status == "ok" else task.status.replace("_", " ")
            done = task.pages if task.pages_planned else 1 if task.status != "ok" else 0
            progress.update(
                bars[key],
                total=task.pages_planned or 1,
                completed=done,
                records=task.records,
                inserted=task.inserted,
                status=status,
            )

        return asyncio.run(
            run_backfill(
                database_url,
                exchange,
                symbols,
                window,
                whats,
                interval_s=interval_s,
                rest_url=rest_url,
                on_progress=update,
            )
        )


def backfill(
    exchange: Annotated[
        ExchangeId | None, typer.Option("--exchange", help="Venue id, e.g. binance_usdm, bybit, hyperliquid.")
    ] = None,
    symbols: Annotated[
        str, typer.Option("--symbols", help="Comma separated, canonical (BTC-USDT-PERP) or native (BTCUSDT).")
    ] = "BTC-USDT-PERP",
    start: Annotated[
        str, typer.Option("--from", help="Start: -3d, -6h, epoch ms or ISO 8601 (UTC when no zone).")
    ] = "-1d",
    end: Annotated[
        str, typer.Option("--to", help="End (exclusive): now, -1h, epoch ms or ISO 8601.")
    ] = "now",
    what: Annotated[
        str, typer.Option("--what", help="Comma separated: klines, funding, oi.")
    ] = "klines,funding,oi",
    interval: Annotated[
        str, typer.Option("--interval", help="Bar length of the klines (1m and above).")
    ] = "1m",
    rest_url: Annotated[
        str | None,
        typer.Option("--rest-url", help="Venue REST base URL (default: the venue's; a simulator's)."),
    ] = None,
    capabilities: Annotated[
        bool, typer.Option("--capabilities", help="Print which venue offers which history, and exit.")
    ] = False,
) -> None:
    """Fetch klines, funding and open-interest history from a venue's REST API into the tables.

    Only what ``backfill_coverage`` lacks is fetched (a rerun resumes); rows already there from
    live data are kept (same natural keys, ON CONFLICT DO NOTHING). Ends with one JSON line on stderr.
    """
    import psycopg

    from services.runtime.settings import get_settings

    if capabilities:
        print_capabilities()
        return
    if exchange is None:
        raise typer.BadParameter("--exchange is required (see --capabilities)")
    now_ns = time.time_ns()
    start_ns, end_ns = parse_time(start, now_ns), parse_time(end, now_ns)
    if end_ns <= start_ns:
        raise typer.BadParameter(f"--from ({start}) must be before --to ({end})")
    try:
        interval_s = parse_interval(interval)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    try:
        summary = backfill_with_progress(
            get_settings().database_url,
            exchange,
            [s.strip() for s in symbols.split(",") if s.strip()],
            Window(start_ns, end_ns),
            parse_whats(what),
            interval_s,
            rest_url,
        )
    except (NotImplementedError, ValueError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    except psycopg.Error as exc:
        console.print(f"[red]database: {exc}[/red] (is it up and migrated? perpwatch db migrate)")
        raise typer.Exit(2) from None
    document = summary.as_json()
    sys.stderr.write(orjson.dumps(document).decode() + "\n")
    sys.stderr.flush()
    if document["errors"]:
        raise typer.Exit(1)
