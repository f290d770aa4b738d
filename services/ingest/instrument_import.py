"""Instrument lists saved by the user: the venue's own instruments REST response, read offline.

Contract venues need each symbol's contract size, which only the venue's instrument list gives.
``perpwatch instruments import --exchange X FILE`` puts such a saved response into the local
cache; ``open_capture(..., instruments=[FILE])`` (``--instruments FILE``) uses one for a single run.

A file is either one JSON response body (what ``curl`` saves), a perpwatch snapshot document
(``{"exchange", "instruments": [...]}``), or lines ``URL -> ts: body`` as cryptofeed records its
REST calls (its ``NAME.0`` files), where each body is one response: venues that list perpetuals
per currency or per product type (Deribit, Bitget) answer in several.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from schemas.common import ExchangeId
from services.ingest.venue import VenueAdapter
from services.instruments.catalog import Instrument, InstrumentCatalog, instrument_from_json

_RECORDED_RESPONSE = " -> "


@dataclass
class ImportResult:
    exchange: ExchangeId
    instruments: list[Instrument] = field(default_factory=list)
    responses: int = 0
    errors: list[str] = field(default_factory=list)
    """One line per response body that held no perpetuals the venue's parser could read."""


def response_bodies(text: str) -> list[Any]:
    """The JSON response bodies in a saved file (one body, or cryptofeed's ``URL -> ts: body`` lines)."""
    try:
        return [orjson.loads(text)]
    except orjson.JSONDecodeError:
        pass
    bodies = []
    for number, line in enumerate(text.splitlines(), start=1):
        if _RECORDED_RESPONSE not in line:
            continue
        _, _, rest = line.partition(_RECORDED_RESPONSE)
        _, separator, body = rest.partition(": ")
        if not separator:
            raise ValueError(f"line {number}: a recorded response without a body")
        bodies.append(orjson.loads(body))
    if not bodies:
        raise ValueError("neither a JSON response nor recorded `URL -> ts: body` lines")
    return bodies


def parse_instrument_file(adapter: VenueAdapter, path: Path) -> ImportResult:
    """The perpetuals in a saved instruments response of ``adapter``'s venue; never raises on content."""
    result = ImportResult(adapter.exchange)
    try:
        bodies = response_bodies(path.read_text())
    except (OSError, ValueError) as exc:
        result.errors.append(f"{path}: {exc}")
        return result
    by_symbol: dict[str, Instrument] = {}
    for index, body in enumerate(bodies, start=1):
        result.responses += 1
        try:
            found = _instruments_of(adapter, body)
        except (KeyError, TypeError, ValueError, ArithmeticError, AttributeError, IndexError) as exc:
            result.errors.append(
                f"response {index}: not a {adapter.exchange.value} instrument list ({exc!r})"
            )
            continue
        if not found:
            result.errors.append(f"response {index}: no {adapter.exchange.value} perpetuals in it")
        by_symbol.update((i.native_symbol, i) for i in found)
    result.instruments = list(by_symbol.values())
    return result


def _instruments_of(adapter: VenueAdapter, body: Any) -> list[Instrument]:
    if isinstance(body, dict) and "instruments" in body and "exchange" in body:
        exchange = ExchangeId(body["exchange"])
        if exchange is not adapter.exchange:
            raise ValueError(f"a snapshot of {exchange.value}")
        return [instrument_from_json(exchange, entry) for entry in body["instruments"]]
    return adapter.parse_instruments(body)


def catalog_with_files(
    catalog: InstrumentCatalog, adapter: VenueAdapter, paths: list[Path]
) -> InstrumentCatalog:
    """``catalog`` with the instruments of saved responses added; raises ``ValueError`` if a file holds none."""
    for path in paths:
        result = parse_instrument_file(adapter, path)
        if not result.instruments:
            raise ValueError(f"no {adapter.exchange.value} instruments in {path}: {'; '.join(result.errors)}")
        catalog = catalog.overlaid(result.instruments, f"{adapter.exchange.value}@{path.name}")
    return catalog
