"""The service's one decoder of ``book.l2.v1``: orjson straight to floats.

A 50-level ``BookDepth`` validated by pydantic parses 200 decimal strings into ``Decimal``
only for the core to turn them into floats; this reader checks what the contract promises and
the core relies on (venue, symbol, times, status, positive prices, non-negative sizes, levels
best first, an invalid book without levels, a valid one not crossed) and rejects anything else
with the reason, like the contract would. Unknown extra fields are tolerated (lenient reader).
"""

import re
from dataclasses import dataclass
from typing import Any

import orjson

from schemas.common import CANONICAL_SYMBOL_PATTERN, ExchangeId
from services.runtime.service import RejectedInput

_SYMBOL = re.compile(CANONICAL_SYMBOL_PATTERN)
_EXCHANGES = {e.value: e for e in ExchangeId}

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
    exchange = _EXCHANGES.get(document.get("exchange"))  # type: ignore[arg-type]
    if exchange is None:
        raise _reject("exchange", f"unknown venue {document.get('exchange')!r}")
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
