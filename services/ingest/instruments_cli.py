"""``perpwatch instruments``: look at and refresh the instrument metadata used for normalizing."""

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from schemas.common import ExchangeId
from services.ingest.instrument_refresh import RefreshResult

app = typer.Typer(
    help="Instrument metadata: contract sizes, ticks, lots, linear or inverse.", no_args_is_help=True
)
console = Console(stderr=True, highlight=False)


@app.command("list")
def list_instruments(
    exchange: Annotated[ExchangeId | None, typer.Option(help="Only this venue.")] = None,
) -> None:
    """The instruments normalization uses now (committed snapshot overlaid with the refresh cache)."""
    from services.instruments.catalog import load_snapshot
    from services.runtime.settings import get_settings

    catalog = load_snapshot(Path(get_settings().instrument_cache_dir))
    table = Table("exchange", "native", "symbol", "tick", "lot", "contract size", "kind", "multiplier")
    for venue in [exchange] if exchange else sorted(ExchangeId, key=lambda e: e.value):
        for i in sorted(catalog.instruments(venue), key=lambda i: i.native_symbol):
            kind = "inverse" if i.inverse else "linear"
            table.add_row(
                venue.value,
                i.native_symbol,
                i.symbol,
                str(i.tick_size),
                str(i.lot_size),
                str(i.contract_size),
                kind,
                str(i.multiplier),
            )
    Console().print(table)


@app.command()
def refresh(
    exchange: Annotated[
        list[ExchangeId] | None, typer.Option(help="Venues to refresh (default: all).")
    ] = None,
    write_snapshot: Annotated[
        bool, typer.Option(help="Rewrite the committed snapshot files instead of the local cache.")
    ] = False,
) -> None:
    """Ask each venue's instrument endpoint for its perpetuals (needs the venues to be reachable)."""
    from services.ingest.instrument_refresh import SNAPSHOT_DIR, fetch_instruments
    from services.ingest.instrument_refresh import write_snapshot as write
    from services.ingest.venues import adapter_for, available_exchanges
    from services.instruments.catalog import load_snapshot
    from services.runtime.settings import get_settings

    settings = get_settings()
    catalog = load_snapshot()
    venues = exchange or available_exchanges()
    adapters = [adapter_for(v, catalog) for v in venues]
    results = asyncio.run(_gather([fetch_instruments(a, a.rest_url) for a in adapters]))
    target = SNAPSHOT_DIR if write_snapshot else Path(settings.instrument_cache_dir)
    failed = 0
    for result in results:
        if result.ok:
            path = write(target, result, "refreshed from the venue's instrument endpoint")
            console.print(
                f"[green]{result.exchange.value}[/green]: {len(result.instruments)} perpetuals -> {path}"
            )
        else:
            failed += 1
            console.print(f"[red]{result.exchange.value}[/red]: {result.error or 'no perpetuals'}")
    if failed:
        raise typer.Exit(1)


async def _gather(calls: list[Coroutine[Any, Any, RefreshResult]]) -> list[RefreshResult]:
    return list(await asyncio.gather(*calls))
