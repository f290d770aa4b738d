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
from services.instruments.catalog import Instrument

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
    from services.ingest.instrument_refresh import cache_file, fetch_instruments
    from services.ingest.instrument_refresh import write_snapshot as write
    from services.instruments.catalog import load_snapshot
    from services.runtime.settings import get_settings
    from services.venues import adapter_for, instruments_path, registered_venues

    settings = get_settings()
    catalog = load_snapshot()
    venues = exchange or registered_venues()
    adapters = [adapter_for(v, catalog) for v in venues]
    results = asyncio.run(_gather([fetch_instruments(a, a.rest_url) for a in adapters]))
    cache_dir = Path(settings.instrument_cache_dir)
    failed = 0
    for result in results:
        if result.ok:
            target = (
                instruments_path(result.exchange)
                if write_snapshot
                else cache_file(cache_dir, result.exchange)
            )
            path = write(target, result, "refreshed from the venue's instrument endpoint")
            console.print(
                f"[green]{result.exchange.value}[/green]: {len(result.instruments)} perpetuals -> {path}"
            )
        else:
            failed += 1
            console.print(f"[red]{result.exchange.value}[/red]: {result.error or 'no perpetuals'}")
    if failed:
        raise typer.Exit(1)


@app.command()
def endpoint(exchange: Annotated[ExchangeId, typer.Option(help="The venue.")]) -> None:
    """The venue's instruments request, to save its answer for `perpwatch instruments import`."""
    from urllib.parse import urlencode

    from services.instruments.catalog import load_snapshot
    from services.venues import adapter_for

    adapter = adapter_for(exchange, load_snapshot())
    request = adapter.instruments_request()
    if request.method == "GET":
        query = f"?{urlencode(request.params)}" if request.params else ""
        print(f"curl -s '{adapter.rest_url}{request.path}{query}' > {exchange.value}-instruments.json")
    else:
        import orjson

        body = orjson.dumps(request.params).decode()
        print(
            f"curl -s -X {request.method} -H 'Content-Type: application/json' -d '{body}' "
            f"'{adapter.rest_url}{request.path}' > {exchange.value}-instruments.json"
        )


@app.command("import")
def import_file(
    exchange: Annotated[ExchangeId, typer.Option(help="The venue the saved response comes from.")],
    file: Annotated[
        Path,
        typer.Argument(
            help="The venue's instruments REST response as saved (the command `perpwatch instruments "
            "endpoint` prints), or recorded `URL -> ts: body` lines (cryptofeed NAME.0)."
        ),
    ],
) -> None:
    """Add the perpetuals of a saved instruments response to the local cache (no network needed).

    Contract venues (OKX, Gate.io, KuCoin, BitMEX, Phemex, MEXC, Deribit, inverse contracts) need
    it for symbols outside the committed snapshot: only the venue's list gives a contract size.
    """
    from services.ingest.instrument_import import parse_instrument_file
    from services.ingest.instrument_refresh import RefreshResult, cache_file, write_snapshot
    from services.instruments.catalog import load_snapshot
    from services.runtime.settings import get_settings
    from services.venues import adapter_for

    cache_dir = Path(get_settings().instrument_cache_dir)
    result = parse_instrument_file(adapter_for(exchange, load_snapshot()), file)
    for error in result.errors:
        console.print(f"[yellow]{error}[/yellow]")
    if not result.instruments:
        console.print(f"[red]{exchange.value}[/red]: no perpetuals read from {file}")
        raise typer.Exit(1)
    cached = _cached_instruments(cache_dir, exchange)
    merged = {**cached, **{i.native_symbol: i for i in result.instruments}}
    path = write_snapshot(
        cache_file(cache_dir, exchange),
        RefreshResult(exchange, list(merged.values())),
        f"imported from {file.name} (the venue's instruments response)",
    )
    console.print(
        f"[green]{exchange.value}[/green]: {len(result.instruments)} perpetuals imported "
        f"({len(merged)} in the cache) -> {path}"
    )


def _cached_instruments(cache_dir: Path, exchange: ExchangeId) -> dict[str, Instrument]:
    """What the cache already holds for the venue, so that an import adds to a refresh."""
    import orjson

    from services.ingest.instrument_refresh import cache_file
    from services.instruments.catalog import instrument_from_json

    path = cache_file(cache_dir, exchange)
    if not path.is_file():
        return {}
    document = orjson.loads(path.read_bytes())
    instruments = (instrument_from_json(exchange, entry) for entry in document["instruments"])
    return {i.native_symbol: i for i in instruments}


async def _gather(calls: list[Coroutine[Any, Any, RefreshResult]]) -> list[RefreshResult]:
    return list(await asyncio.gather(*calls))
