"""``perpwatch book``: offline tools for the book-builder (mounted by the lead's CLI)."""

import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer

from schemas.common import ExchangeId

app = typer.Typer(help="Order books: check the book core against recorded captures.", no_args_is_help=True)


@app.callback()
def _book() -> None:
    """Keep ``check`` a subcommand even while it is the only one."""


@app.command()
def check(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The capture to replay.")],
    exchange: Annotated[
        ExchangeId | None,
        typer.Option("--exchange", help="Venue id, e.g. binance_usdm (default: what the file declares)."),
    ] = None,
    capture_format: Annotated[
        str,
        typer.Option(
            "--format",
            help="auto, hftbacktest, cryptofeed (REST snapshots read from NAME.http.*), "
            "capture (`perpwatch capture`) or raw.",
        ),
    ] = "auto",
    instruments: Annotated[
        list[Path] | None,
        typer.Option(
            "--instruments",
            help="The venue's instruments REST response, saved to a file (repeatable): contract sizes "
            "of symbols the committed snapshot and the local cache lack.",
        ),
    ] = None,
) -> None:
    """Rebuild every book of a capture; compare tops with the venue's own and verify checksums.

    No Kafka, no database. The last stdout line is one JSON object: messages, bbo_checks,
    mismatches, checksum_checks, checksum_failures, gaps, resyncs. The last stderr line is one
    JSON object too: frames, events, control, rejected by reason. Exits 1 when a rebuilt top
    disagrees with the venue or a checksum fails.
    """
    from services.book_builder.check import CAPTURE_FORMATS, check_capture
    from services.runtime.settings import get_settings

    if capture_format not in CAPTURE_FORMATS:
        raise typer.BadParameter(f"--format must be one of {', '.join(CAPTURE_FORMATS)}")
    try:
        report = check_capture(
            exchange,
            capture_format,
            file,
            instrument_cache=Path(get_settings().instrument_cache_dir),
            instruments=instruments or [],
        )
    except (NotImplementedError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    for line in report.first_mismatches:
        typer.echo(f"mismatch: {line}", err=True)
    typer.echo(f"books: {report.books}, book events: {report.book_events}", err=True)
    sys.stdout.write(orjson.dumps(report.summary()).decode() + "\n")
    sys.stdout.flush()
    sys.stderr.write(orjson.dumps(report.tally.summary()).decode() + "\n")
    if report.mismatches or report.checksum_failures:
        raise typer.Exit(1)
