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
    exchange: Annotated[ExchangeId, typer.Option("--exchange", help="Venue id, e.g. binance_usdm.")],
    capture_format: Annotated[
        str,
        typer.Option("--format", help="hftbacktest or cryptofeed (REST snapshots read from NAME.http.*)."),
    ] = "hftbacktest",
) -> None:
    """Rebuild every book of a capture; compare tops with the venue's own and verify checksums.

    No Kafka, no database. The last line printed is one JSON object:
    messages, bbo_checks, mismatches, checksum_checks, checksum_failures, gaps, resyncs.
    Exits 1 when a rebuilt top disagrees with the venue or a checksum fails.
    """
    from services.book_builder.check import check_capture

    if capture_format not in ("hftbacktest", "cryptofeed"):
        raise typer.BadParameter("--format must be hftbacktest or cryptofeed")
    try:
        report = check_capture(exchange, capture_format, file)  # type: ignore[arg-type]
    except NotImplementedError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    for line in report.first_mismatches:
        typer.echo(f"mismatch: {line}", err=True)
    if report.rejected:
        typer.echo(f"frames rejected by the parser: {dict(report.rejected)}", err=True)
    typer.echo(f"books: {report.books}, book events: {report.book_events}", err=True)
    sys.stdout.write(orjson.dumps(report.summary()).decode() + "\n")
    if report.mismatches or report.checksum_failures:
        raise typer.Exit(1)
