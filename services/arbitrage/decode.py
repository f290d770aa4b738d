"""The service's one decoder of ``book.l2.v1``: orjson straight to floats.

A 50-level ``BookDepth`` validated by pydantic parses 200 decimal strings into ``Decimal``
only for the core to turn them into floats; this reader checks what the contract promises and
the core relies on (venue, symbol, times, status, positive prices, non-negative sizes, levels
best first, an invalid book without levels, a valid one not crossed) and rejects anything else
with the reason, like the contract would. The fields the core does not use are checked too (the
field set, and their types): a record the contract refuses is dead-lettered here as everywhere.
"""

import re
from dataclasses import dataclass
from typing import Any

import orjson

from schemas.book import BookDepth
from schemas.common import CANONICAL_SYMBOL_PATTERN, ExchangeId, InstrumentProvenance
from schemas.fast_decode import check_fields, integer, optional_integer, required_fields, text
from services.runtime.service import RejectedInput

_SYMBOL = re.compile(CANONICAL_SYMBOL_PATTERN)
_EXCHANGES = {e.value: e for e in ExchangeId}
_DEPTH_FIELDS = frozenset(BookDepth.model_fields)
_DEPTH_REQUIRED = required_fields(BookDepth)
_PROVENANCES = frozenset(p.value for p in InstrumentProvenance)

Levels = list[tuple[float, float]]
_INF = float("inf")


@dataclass(frozen=True, slots=True)
class DepthInput:
    exchange: ExchangeId
    symbol: str
    exchange_ts: int
    valid: bool
    reason: str
    bids: Levels
    asks: Levels


def _reject(where: str, message: str) -> RejectedInput:
    return RejectedInput("validation_error", f"{where}: {message}")


def float_levels(raw: Any, side: str, *, descending: bool) -> Levels:
    """``[[price, quantity], ...]`` (strings, numbers or Decimals) -> floats, checked."""
    if not isinstance(raw, list):
        raise _reject(side, "expected a list of [price, quantity]")
    levels: Levels = []
    previous = None
    for n, level in enumerate(raw):
        try:
            price_text, quantity_text = level
            price, quantity = float(price_text), float(quantity_text)
        except (TypeError, ValueError):
            raise _reject(f"{side}.{n}", f"expected [price, quantity] decimals, got {level!r}") from None
        if not (0.0 < price < _INF and 0.0 <= quantity < _INF):
            raise _reject(f"{side}.{n}", "price must be > 0 and quantity >= 0")
        if previous is not None and (price >= previous if descending else price <= previous):
            raise _reject(f"{side}.{n}", "levels must be best first, one per price")
        previous = price
        levels.append((price, quantity))
    return levels


def decode_depth(raw: bytes) -> DepthInput:
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise RejectedInput("validation_error", f"not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise _reject("payload", "expected a JSON object")
    _check_unused_fields(document)
    raw_exchange = document.get("exchange")
    exchange = _EXCHANGES.get(raw_exchange) if type(raw_exchange) is str else None
    if exchange is None:  # not a key of _EXCHANGES unless a string (a dict would not even hash)
        raise _reject("exchange", f"unknown venue {repr(raw_exchange)[:100]}")
    symbol = document.get("symbol")
    if not isinstance(symbol, str) or not _SYMBOL.match(symbol):
        raise _reject("symbol", f"not a canonical symbol: {symbol!r}")
    ts = document.get("exchange_ts")
    if type(ts) is not int or ts < 0:
        raise _reject("exchange_ts", "expected a non-negative integer (ns)")
    status = document.get("status")
    bids = float_levels(document.get("bids"), "bids", descending=True)
    asks = float_levels(document.get("asks"), "asks", descending=False)
    if status == "invalid":
        if bids or asks:
            raise _reject("status", "an invalid book carries no levels")
        reason = document.get("reason", "")
        return DepthInput(exchange, symbol, ts, False, reason if isinstance(reason, str) else "", bids, asks)
    if status != "valid":
        raise _reject("status", f"expected valid or invalid, got {status!r}")
    if bids and asks and bids[0][0] >= asks[0][0]:
        raise _reject("bids", "a valid book is never crossed or locked")
    return DepthInput(exchange, symbol, ts, True, "", bids, asks)


def _check_unused_fields(document: dict[str, Any]) -> None:
    """The contract's field set and the types of the fields the core does not read."""
    check_fields(document, _DEPTH_FIELDS, _DEPTH_REQUIRED, "")
    text(document["native_symbol"], "native_symbol", min_length=1)
    integer(document["receive_ts"], "receive_ts", minimum=0)
    integer(document["book_seq"], "book_seq", minimum=0)
    optional_integer(document.get("venue_seq"), "venue_seq")
    integer(document["depth"], "depth", minimum=1)
    text(document.get("reason", ""), "reason")
    provenance = document.get("instrument_provenance", "listed")
    if type(provenance) is not str or provenance not in _PROVENANCES:
        raise _reject("instrument_provenance", "Input should be 'listed' or 'derived'")
