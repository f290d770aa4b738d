"""A bounded backfill at start-up: the last hours of history for a few symbols, never raising.

Used by ``perpwatch up`` (from the simulator, before the live stream starts) and by the analytics
service (its configured symbols, in the background, so its baselines and charts start full). A
venue without a backfill module, or one that fails, is logged and skipped: start-up goes on.
"""

import logging
import time
from collections.abc import Mapping, Sequence

from schemas.common import ExchangeId
from services.backfill.core.plan import NS_PER_S, What, Window
from services.backfill.history import backfill_exchanges
from services.backfill.runner import BackfillSummary, run_backfill

log = logging.getLogger(__name__)


def parse_targets(text: str) -> dict[ExchangeId, list[str]]:
    """``binance_usdm:BTC-USDT-PERP,bybit:BTCUSDT`` -> symbols per venue."""
    targets: dict[ExchangeId, list[str]] = {}
    for item in text.split(","):
        exchange, sep, symbol = item.strip().partition(":")
        if not sep or not symbol:
            if item.strip():
                raise ValueError(f"backfill target {item!r} is not exchange:SYMBOL")
            continue
        targets.setdefault(ExchangeId(exchange), []).append(symbol)
    return targets


def parse_urls(text: str) -> dict[ExchangeId, str]:
    """``binance_usdm=http://127.0.0.1:1234,bybit=...`` -> REST base URL per venue."""
    urls = {}
    for item in text.split(","):
        exchange, sep, url = item.strip().partition("=")
        if sep:
            urls[ExchangeId(exchange)] = url
    return urls


async def backfill_recent(
    database_url: str,
    targets: Mapping[ExchangeId, Sequence[str]],
    hours: float,
    *,
    rest_urls: Mapping[ExchangeId, str] | None = None,
    whats: Sequence[What] = (What.KLINES, What.FUNDING, What.OI),
    interval_s: int = 60,
) -> list[BackfillSummary]:
    """The last ``hours`` for ``targets``; venues without a backfill module are skipped."""
    if hours <= 0:
        return []
    now = time.time_ns()
    window = Window(now - int(hours * 3600) * NS_PER_S, now)
    supported = set(backfill_exchanges())
    summaries = []
    for exchange, symbols in targets.items():
        if exchange not in supported:
            log.info("no backfill module for this venue; skipped", extra={"exchange": exchange.value})
            continue
        try:
            summary = await run_backfill(
                database_url,
                exchange,
                list(symbols),
                window,
                whats,
                interval_s=interval_s,
                rest_url=(rest_urls or {}).get(exchange),
                now_ns=now,
            )
        except Exception as exc:  # start-up goes on without history rather than not at all
            log.warning("start-up backfill failed", extra={"exchange": exchange.value, "error": repr(exc)})
            continue
        summaries.append(summary)
        document = summary.as_json()
        log.info(
            "start-up backfill done",
            extra={k: document[k] for k in ("exchange", "pages", "records", "inserted", "errors", "seconds")},
        )
    return summaries
