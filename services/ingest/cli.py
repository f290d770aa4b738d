"""Typer commands of the ingest side, for the ``perpwatch`` app to mount.

``register(app)`` adds ``capture`` (``simulate`` lives beside the simulator, in
``services.simulator.cli``); each command is also a plain function. Heavy imports stay inside the commands so
that ``perpwatch --help`` stays fast.
"""

import asyncio
import signal
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from schemas.common import ExchangeId

console = Console(stderr=True, highlight=False)


def _split(values: list[str] | None) -> list[str]:
    """``--symbols A,B --symbols C`` -> [A, B, C]."""
    return [part.strip() for value in values or [] for part in value.split(",") if part.strip()]


def capture(
    exchange: Annotated[ExchangeId, typer.Option(help="Venue to record.")],
    symbols: Annotated[
        list[str], typer.Option("--symbols", help="Symbols, native or canonical (repeat or comma-separate).")
    ],
    out: Annotated[Path, typer.Option(help="Output file (gzip JSONL), e.g. btc.capture.jsonl.gz.")],
    channels: Annotated[
        list[str] | None,
        typer.Option(
            "--channel",
            help="Channels (trades, book, bbo, funding, open_interest, liquidations); default all.",
        ),
    ] = None,
    duration: Annotated[float, typer.Option(help="Seconds to record.")] = 60.0,
    max_frames: Annotated[int | None, typer.Option(help="Stop after this many frames.")] = None,
    ws_url: Annotated[str | None, typer.Option(help="Override the venue's WebSocket URL.")] = None,
    rest_url: Annotated[str | None, typer.Option(help="Override the venue's REST base URL.")] = None,
    endpoints: Annotated[
        str | None, typer.Option(help="Endpoints JSON (file or string) from `perpwatch simulate`.")
    ] = None,
) -> None:
    """Record a venue's raw frames with receive times to compressed JSONL (replayable)."""
    from services.ingest.capture import capture_feed
    from services.ingest.connector import ConnectorOptions
    from services.ingest.service import endpoint_overrides
    from services.ingest.venue import Channel

    options = (
        endpoint_overrides(endpoints).get(exchange, ConnectorOptions()) if endpoints else ConnectorOptions()
    )
    if ws_url or rest_url:
        options = ConnectorOptions(ws_url=ws_url or options.ws_url, rest_url=rest_url or options.rest_url)
    wanted = frozenset(Channel(c) for c in _split(channels)) or frozenset(Channel)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        stats = await capture_feed(
            exchange,
            _split(symbols),
            out,
            channels=wanted,
            duration_s=duration,
            max_frames=max_frames,
            options=options,
            stop=stop,
        )
        for line in stats.statuses:
            console.print(f"[dim]{line}[/dim]")
        console.print(
            f"recorded {stats.frames} frames ({stats.events} events, {stats.rejected} rejected) "
            f"in {stats.seconds:.1f}s to {stats.path}"
        )

    try:
        asyncio.run(main())
    except ValueError as exc:  # an unknown symbol
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None


def register(app: typer.Typer) -> None:
    """Mount ``simulate`` and ``capture`` on the ``perpwatch`` app.

    The ingestors themselves run as a service, like every other: ``perpwatch run ingest``.
    """
    app.command()(capture)
