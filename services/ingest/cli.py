"""Typer commands of the ingest side, for the ``perpwatch`` app to mount.

``register(app)`` adds ``simulate`` and ``capture``; each command is also a plain
function (``app.command()(simulate)`` mounts one). Heavy imports stay inside the commands so
that ``perpwatch --help`` stays fast.
"""

import asyncio
import contextlib
import signal
import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console

from schemas.common import ExchangeId

console = Console(stderr=True, highlight=False)


def _split(values: list[str] | None) -> list[str]:
    """``--symbols A,B --symbols C`` -> [A, B, C]."""
    return [part.strip() for value in values or [] for part in value.split(",") if part.strip()]


def simulate(
    venues: Annotated[
        list[str] | None,
        typer.Option(
            "--venue", help="Venue to serve (repeat or comma-separate); default: all with a dialect."
        ),
    ] = None,
    symbols: Annotated[
        list[str] | None,
        typer.Option("--symbols", help="Canonical symbols (default BTC-USDT-PERP,ETH-USDT-PERP)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the market model: same seed, same market.")] = 0,
    duration: Annotated[float, typer.Option(help="Seconds before the simulator stops by itself.")] = 3600.0,
    tick_ms: Annotated[float, typer.Option(help="Market clock period, ms.")] = 100.0,
    faults_per_minute: Annotated[
        float, typer.Option(help="Random faults per minute (0: only on demand).")
    ] = 0.0,
    port_base: Annotated[
        int,
        typer.Option(
            help="First port: venue i gets WebSocket port_base+2i and REST port_base+2i+1 (0: OS-chosen)."
        ),
    ] = 0,
    control_port: Annotated[int, typer.Option(help="Port of the control endpoint (0: OS-chosen).")] = 0,
    endpoints_out: Annotated[
        Path | None, typer.Option(help="Write the endpoints JSON here (for PERPWATCH_INGEST_ENDPOINTS).")
    ] = None,
) -> None:
    """Serve simulated venues on 127.0.0.1: WebSocket + REST per venue, plus a control endpoint.

    Inject faults with e.g. ``curl -X POST 'http://127.0.0.1:PORT/faults?kind=disconnect&venue=okx'``
    (kinds: dislocation, liquidity_crunch, liquidation_burst, funding_divergence, sequence_gap,
    disconnect, stall, rest_rate_limit); ``GET /stats`` shows what was sent.
    """
    from services.simulator.dialects import available_dialects
    from services.simulator.model import ModelConfig
    from services.simulator.server import DEFAULT_SYMBOLS, Simulator, SimulatorConfig

    chosen = tuple(ExchangeId(v) for v in _split(venues)) or tuple(available_dialects())
    ports = {v: (port_base + 2 * i, port_base + 2 * i + 1) for i, v in enumerate(chosen)} if port_base else {}
    config = SimulatorConfig(
        venues=chosen,
        symbols=tuple(_split(symbols)) or DEFAULT_SYMBOLS,
        seed=seed,
        ports=ports,
        control_port=control_port,
        duration_s=duration,
        model=ModelConfig(tick_s=tick_ms / 1000, fault_rate_per_min=faults_per_minute),
    )
    simulator = Simulator(config)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, lambda: asyncio.ensure_future(simulator.stop()))
        await simulator.start()
        endpoints = orjson.dumps(simulator.endpoints_json(), option=orjson.OPT_INDENT_2)
        if endpoints_out is not None:
            endpoints_out.write_bytes(endpoints)
        sys.stdout.buffer.write(endpoints + b"\n")
        sys.stdout.flush()
        console.print(
            f"simulating {', '.join(v.value for v in chosen)} for up to {duration:g}s (Ctrl-C stops)"
        )
        await simulator.run()
        console.print(orjson.dumps(simulator.stats.as_json()).decode())

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())


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
    app.command()(simulate)
    app.command()(capture)
