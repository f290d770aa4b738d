"""``perpwatch simulate``: local venues speaking each exchange's protocol, beside the simulator."""

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
    from services.simulator.model import ModelConfig
    from services.simulator.server import DEFAULT_SYMBOLS, Simulator, SimulatorConfig
    from services.venues import registered_venues

    chosen = tuple(ExchangeId(v) for v in _split(venues)) or tuple(registered_venues())
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
