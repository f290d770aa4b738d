"""``perpwatch``: run services, manage topics and the schema, look at data, run the local pipeline."""

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table as RichTable

from schemas.common import ExchangeId
from schemas.topics import TOPICS, TOPICS_BY_NAME
from services.runtime.settings import get_settings

app = typer.Typer(
    help="perpwatch: Kafka stream processing for crypto perpetual-futures markets.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
topics_app = typer.Typer(help="The topic registry (schemas/topics.py) on the broker.", no_args_is_help=True)
db_app = typer.Typer(help="The database schema (numbered SQL migrations).", no_args_is_help=True)
app.add_typer(topics_app, name="topics")
app.add_typer(db_app, name="db")

console = Console(stderr=True)


def _services() -> dict[str, str]:
    return {
        "ingest": "venue WebSockets -> normalized md.* topics (PERPWATCH_INGEST_FEEDS)",
        "book-builder": "md.book.v1 -> validated books -> book.bbo.v1, book.l2.v1 + book_bbo rows",
        "matching": "venue.commands.v1 -> matching engine -> venue.events/trades/md.v1 (exactly once)",
        "venue-recorder": "venue.events.v1 + venue.trades.v1 -> venue_orders, venue_trades rows",
        "gateway": "REST + WebSocket order entry and market data of the matching venue",
    }


@app.command()
def run(service: Annotated[str, typer.Argument(help="Service to run, e.g. book-builder.")]) -> None:
    """Run one service until SIGTERM or Ctrl-C (then it drains and exits)."""
    from services.runtime.service import run_service

    settings = get_settings()
    if service == "ingest":
        from services.ingest.service import run_ingest

        run_ingest(settings)
        return
    if service == "matching":
        from services.matching.service import run_matching

        run_matching(settings)
        return
    if service == "venue-recorder":
        from services.matching.recorder import run_venue_recorder

        run_venue_recorder(settings)
        return
    if service == "gateway":
        from services.matching.gateway import run_gateway

        run_gateway(settings)
        return
    if service == "book-builder":
        from services.book_builder.service import BookBuilderProcessor

        run_service(BookBuilderProcessor(), settings)
        return
    known = ", ".join(_services())
    console.print(f"[red]unknown service {service!r}[/red]; available: {known}")
    raise typer.Exit(2)


@topics_app.command("create")
def topics_create() -> None:
    """Create every registry topic that is missing (idempotent)."""
    from services.runtime.topics import ensure_topics

    settings = get_settings()
    created = asyncio.run(ensure_topics(settings))
    for name in created:
        console.print(f"created {name}")
    console.print(
        f"{len(TOPICS)} topics in the registry, {len(created)} created on {settings.kafka_bootstrap}"
    )


@topics_app.command("list")
def topics_list() -> None:
    """The registry: name, key, retention, schema."""
    table = RichTable("topic", "key", "retention", "schema", "producer", "consumers")
    for contract in TOPICS:
        table.add_row(
            contract.name,
            contract.key,
            contract.retention_text(),
            f"schemas/json/{contract.name}.schema.json",
            contract.producer,
            ", ".join(contract.consumers),
        )
    Console().print(table)


@topics_app.command("describe")
def topics_describe(
    names: Annotated[list[str] | None, typer.Argument(help="Topics (default: all).")] = None,
) -> None:
    """Compare the registry with the broker: present or missing, partition counts."""
    from services.runtime.topics import describe_topics

    wanted = names or [c.name for c in TOPICS]
    states = asyncio.run(describe_topics(get_settings(), wanted))
    table = RichTable("topic", "on broker", "partitions", "registered")
    for state in states:
        table.add_row(
            state.name,
            "[green]yes[/green]" if state.exists else "[red]missing[/red]",
            str(state.partitions or "-"),
            "yes" if state.name in TOPICS_BY_NAME else "[yellow]no[/yellow]",
        )
    Console().print(table)


@db_app.command("migrate")
def db_migrate(
    timescale: Annotated[str, typer.Option(help="auto: use TimescaleDB when available; on; off.")] = "auto",
) -> None:
    """Apply pending migrations (safe to run twice, and from several pods at once)."""
    from services.db.migrate import migrate

    if timescale not in ("auto", "on", "off"):
        raise typer.BadParameter("timescale must be auto, on or off")
    report = migrate(get_settings().database_url, timescale=timescale, progress=console.print)  # type: ignore[arg-type]
    console.print(
        f"applied {len(report.applied)} migration(s), {len(report.skipped)} already applied; "
        f"timescaledb {'on' if report.timescale else 'off'}"
    )


@db_app.command("status")
def db_status() -> None:
    """Applied and pending migrations."""
    from services.db.migrate import status

    table = RichTable("version", "name", "applied", "applied at", "timescale")
    for row in status(get_settings().database_url):
        table.add_row(
            f"{row.version:04d}",
            row.name,
            "[green]yes[/green]" if row.applied else "[yellow]pending[/yellow]",
            str(row.applied_at or "-"),
            "yes" if row.timescale else "no",
        )
    Console().print(table)


@app.command()
def tail(
    topic: Annotated[str, typer.Argument(help="Topic to read, e.g. book.bbo.v1.")],
    from_beginning: Annotated[
        bool, typer.Option("--from-beginning", help="Start at the oldest record.")
    ] = False,
    key: Annotated[str | None, typer.Option("--key", help="Only records with this key.")] = None,
    max_records: Annotated[int | None, typer.Option("--max", help="Stop after this many records.")] = None,
) -> None:
    """Pretty-print a topic: decoded, one line per event, with colour."""
    from services.cli.tail import tail_topic

    if topic not in TOPICS_BY_NAME:
        console.print(f"[red]unknown topic {topic!r}[/red]; see `perpwatch topics list`")
        raise typer.Exit(2)
    asyncio.run(tail_topic(get_settings(), topic, from_beginning=from_beginning, key=key, limit=max_records))


def _parse_speed(speed: str) -> float | None:
    if speed == "max":
        return None
    try:
        value = float(speed)
    except ValueError:
        raise typer.BadParameter("speed is a multiple of real time (e.g. 10) or 'max'") from None
    if value <= 0:
        raise typer.BadParameter("speed must be positive")
    return value


@app.command()
def replay(
    file: Annotated[
        Path, typer.Argument(help="Capture file: hftbacktest, cryptofeed sample_data or perpwatch capture.")
    ],
    speed: Annotated[str, typer.Option(help="Multiple of recorded time, or 'max'.")] = "max",
    fmt: Annotated[str, typer.Option("--format", help="hftbacktest, cryptofeed, capture or auto.")] = "auto",
    exchange: Annotated[
        ExchangeId | None, typer.Option(help="Venue the capture comes from (default: from the file).")
    ] = None,
) -> None:
    """Publish a recorded capture into the md.* topics through the live normalizers."""
    from services.cli.progress import replay_with_progress

    stats = replay_with_progress(file, get_settings(), exchange=exchange, speed=_parse_speed(speed), fmt=fmt)
    console.print(
        orjson.dumps({"frames": stats.frames, "events": stats.events, "rejected": stats.rejected}).decode()
    )


@app.command()
def normalize(
    file: Annotated[Path, typer.Argument(help="Capture file.")],
    exchange: Annotated[
        ExchangeId | None, typer.Option(help="Venue the frames come from (default: from the file).")
    ] = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format", help="raw (one JSON frame per line), hftbacktest, cryptofeed, capture or auto."
        ),
    ] = "auto",
) -> None:
    """Print the normalized events of a capture as JSONL on stdout (no Kafka, no database)."""
    from services.cli.normalize import normalize_file

    errors = normalize_file(file, exchange, fmt, sys.stdout.buffer)
    if errors:
        console.print(f"[yellow]{errors} frame(s) rejected (reasons on stderr)[/yellow]")


@app.command()
def up(
    source: Annotated[
        str,
        typer.Option(help="simulator (no internet needed), replay (a real capture) or live (real venues)."),
    ] = "simulator",
    speed: Annotated[str, typer.Option(help="Replay speed: multiple of recorded time, or 'max'.")] = "10",
    stop_stack: Annotated[bool, typer.Option(help="Stop Kafka and PostgreSQL on exit.")] = True,
) -> None:
    """Run the local pipeline: stack, topics, schema, services, and a data source feeding them."""
    from services.cli.up import run_local_pipeline

    if source not in ("simulator", "replay", "live"):
        raise typer.BadParameter("source must be simulator, replay or live")
    raise typer.Exit(
        run_local_pipeline(
            get_settings(),
            source=source,  # type: ignore[arg-type]
            speed=_parse_speed(speed),
            stop_stack=stop_stack,
        )
    )


def _mount_subcommands() -> None:
    from services.book_builder.cli import app as book_app
    from services.ingest.cli import register
    from services.ingest.instruments_cli import app as instruments_app
    from services.matching.cli import app as venue_app

    register(app)
    app.add_typer(instruments_app, name="instruments")
    app.add_typer(
        venue_app, name="venue", help="The perpwatch matching venue: run its core on a command file."
    )
    app.add_typer(book_app, name="book", help="Book tools: check a capture against the venue's own tops.")


_mount_subcommands()


def main() -> None:
    app()
