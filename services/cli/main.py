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
from services.registry import SERVICES
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


@app.command()
def run(
    service: Annotated[
        str, typer.Argument(help="Service to run: " + ", ".join(s.name for s in SERVICES) + ".")
    ],
) -> None:
    """Run one service until SIGTERM or Ctrl-C (then it drains and exits)."""
    from services.registry import UnknownService
    from services.registry import run as run_registered

    try:
        run_registered(service, get_settings())
    except UnknownService as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None


def _offline_help() -> str:
    from services.registry import SERVICES as specs

    lines = []
    for service in specs:
        if service.offline is None:
            continue
        names = " | ".join([service.name, *(view for view, _ in service.offline.views)])
        options = "  ".join(f"--{o.flag} ({o.help})" for o in service.offline.options)
        lines.append(f"{names}: {options}")
    return "Service options:\n\n" + "\n\n".join(lines)


def _option_values(extra: list[str]) -> dict[str, str]:
    """``--flag value`` / ``--flag=value`` pairs after the known options."""
    values: dict[str, str] = {}
    items = iter(extra)
    for item in items:
        if not item.startswith("--"):
            raise typer.BadParameter(f"unexpected argument {item!r}")
        flag, eq, value = item[2:].partition("=")
        if not eq:
            value = next(items, None)  # type: ignore[assignment]
            if value is None:
                raise typer.BadParameter(f"--{flag} needs a value")
        values[flag] = value
    return values


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    epilog=_offline_help(),
)
def analyze(
    ctx: typer.Context,
    service: Annotated[
        str,
        typer.Argument(
            help="A stream service (arbitrage, liquidity, analytics, alert, ...) or a view of one: "
            "alerts, candles, spikes, flow, pairs."
        ),
    ],
    file: Annotated[
        Path, typer.Argument(help="JSONL envelopes {topic,key,event}, as `perpwatch normalize` prints.")
    ],
    via: Annotated[
        list[str] | None,
        typer.Option(help="Run the file through these services first (e.g. --via book-builder)."),
    ] = None,
    books: Annotated[
        bool, typer.Option("--books", help="Build books from md.book.v1 first (--via book-builder).")
    ] = False,
    order: Annotated[str, typer.Option(help="file (as written) or time (by exchange_ts).")] = "file",
) -> None:
    """Run a service's processor over a file offline: its events as JSONL, then one summary line.

    Each service's own options (listed below) set its settings for this run, the same settings
    `perpwatch run` reads from PERPWATCH_* variables.
    """
    import gzip
    import os

    from services.registry import UnknownService, build_offline_processor, build_processor, offline_run
    from services.runtime.offline import analyze as analyze_lines

    if order not in ("file", "time"):
        raise typer.BadParameter("order must be file or time")
    if not file.exists():
        raise typer.BadParameter(f"{file} not found")
    upstream_names = [*(["book-builder"] if books else []), *(via or [])]
    try:
        resolved = offline_run(service)
        processor = build_offline_processor(resolved, _option_values(ctx.args), os.environ)
        upstream = [build_processor(name) for name in upstream_names]
    except (UnknownService, ValueError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    opener = gzip.open if file.suffix == ".gz" else open
    with opener(file, "rb") as lines:
        summary = analyze_lines(
            processor,
            lines,
            sys.stdout.buffer,
            via=upstream,
            order=order,  # type: ignore[arg-type]
            outputs=resolved.outputs,
        )
    sys.stdout.buffer.write(orjson.dumps(summary.as_json()) + b"\n")
    sys.stdout.buffer.flush()


@app.command()
def export(
    table: Annotated[
        str, typer.Argument(help="candles, trades, book_bbo, spikes, flow, large_trades, pairs, ...")
    ],
    start: Annotated[str, typer.Option("--from", help="Start (ISO 8601, UTC if no offset), inclusive.")],
    end: Annotated[str, typer.Option("--to", help="End (ISO 8601), exclusive.")],
    out: Annotated[Path, typer.Option(help="Output file.")],
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet (needs pyarrow).")] = "csv",
    symbol: Annotated[str | None, typer.Option(help="Canonical symbol, e.g. BTC-USDT-PERP.")] = None,
    exchange: Annotated[str | None, typer.Option(help="Venue id, e.g. binance_usdm.")] = None,
) -> None:
    """Export a time range of a table to CSV or Parquet, with a progress bar; exact decimals."""
    from datetime import UTC, datetime

    from rich.progress import Progress

    from services.analytics.export import ExportError, export_table

    def moment(text: str) -> datetime:
        parsed = datetime.fromisoformat(text)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

    if fmt not in ("csv", "parquet"):
        raise typer.BadParameter("format must be csv or parquet")
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task(f"export {table}", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            result = export_table(
                get_settings().database_url,
                table,
                start=moment(start),
                end=moment(end),
                out=out,
                fmt=fmt,  # type: ignore[arg-type]
                symbol=symbol,
                exchange=exchange,
                progress=progress,
            )
        except (ExportError, ValueError) as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from None
    console.print(f"[green]exported[/green] {result.rows} rows of {result.table} to {result.path}")


@app.command("services")
def services_list() -> None:
    """List the services `perpwatch run` knows (the registry Compose and Helm follow)."""
    table = RichTable("service", "kind", "local port", "what it does")
    for spec in SERVICES:
        table.add_row(spec.name, spec.kind, str(spec.local_metrics_port), spec.summary)
    Console().print(table)


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


INSTRUMENTS_OPTION = typer.Option(
    "--instruments",
    help="The venue's instruments REST response, saved to a file (repeatable): contract sizes of "
    "symbols the committed snapshot and the local cache lack.",
)


def _summary_line(summary: dict[str, object]) -> None:
    """The one JSON line an offline command ends with, on stderr (stdout stays data); unwrapped."""
    sys.stderr.write(orjson.dumps(summary).decode() + "\n")
    sys.stderr.flush()


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
    instruments: Annotated[list[Path] | None, INSTRUMENTS_OPTION] = None,
) -> None:
    """Publish a recorded capture into the md.* topics through the live normalizers.

    Ends with one JSON line on stderr: frames, events, control, rejected by reason, events by topic.
    """
    from services.cli.progress import replay_with_progress

    settings = get_settings()
    try:
        stats = replay_with_progress(
            file,
            settings,
            exchange=exchange,
            speed=_parse_speed(speed),
            fmt=fmt,
            instrument_cache=Path(settings.instrument_cache_dir),
            instruments=instruments or [],
        )
    except ValueError as exc:  # an --instruments file without the venue's instruments
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    _summary_line({**stats.tally.summary(), "events_by_topic": dict(sorted(stats.events.items()))})


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
    instruments: Annotated[list[Path] | None, INSTRUMENTS_OPTION] = None,
) -> None:
    """Print the normalized events of a capture as JSONL on stdout (no Kafka, no database).

    Rejected frames are listed on stderr with their reason; the last stderr line is one JSON
    summary: frames, events, control, rejected by reason.
    """
    from services.cli.normalize import normalize_file
    from services.ingest.replay import FrameTally

    tally = FrameTally()
    errors = normalize_file(
        file,
        exchange,
        fmt,
        sys.stdout.buffer,
        instrument_cache=Path(get_settings().instrument_cache_dir),
        instruments=instruments or [],
        tally=tally,
    )
    if errors:
        console.print(f"[yellow]{errors} frame(s) rejected (reasons above)[/yellow]")
    _summary_line(tally.summary())


@app.command()
def up(
    source: Annotated[
        str,
        typer.Option(help="simulator (no internet needed), replay (a real capture) or live (real venues)."),
    ] = "simulator",
    speed: Annotated[str, typer.Option(help="Replay speed: multiple of recorded time, or 'max'.")] = "10",
    stop_stack: Annotated[bool, typer.Option(help="Stop Kafka and PostgreSQL on exit.")] = True,
    duration: Annotated[
        float | None, typer.Option(help="Stop by itself after this many seconds (default: run until Ctrl-C).")
    ] = None,
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
            duration_s=duration,
        )
    )


def _mount_subcommands() -> None:
    from services.backfill.cli import backfill
    from services.book_builder.cli import app as book_app
    from services.ingest.cli import register
    from services.ingest.instruments_cli import app as instruments_app
    from services.matching.cli import app as venue_app
    from services.simulator.cli import simulate

    register(app)
    app.command()(simulate)
    app.command()(backfill)
    app.add_typer(instruments_app, name="instruments")
    app.add_typer(
        venue_app, name="venue", help="The perpwatch matching venue: run its core on a command file."
    )
    app.add_typer(book_app, name="book", help="Book tools: check a capture against the venue's own tops.")


_mount_subcommands()


def main() -> None:
    app()
