"""A backfill run: for each symbol and kind of history, fetch the pages still missing and store them.

REST calls go through the ingest ``RestClient`` with the venue adapter's rate limit, so a 418/429
pauses the venue for its Retry-After and the same page is asked again. A kind of history the
venue does not offer ends as ``not_offered`` with the reason, a contract kind the venue's module
does not read as ``not_covered`` with the reason; a failing page ends its task as
``error`` (the pages before it stay stored, a rerun continues after them); nothing raises out of
``run_backfill`` for one bad venue answer.
"""

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson
import psycopg
from pydantic import ValidationError

from schemas.common import ExchangeId
from services.backfill import store
from services.backfill.core.plan import NS_PER_S, What, Window, interval_name, plan
from services.backfill.history import HistoryRejected, VenueHistory, history_for
from services.ingest.connector.rest import RestClient, RestError
from services.instruments.catalog import Instrument, InstrumentCatalog, load_snapshot

log = logging.getLogger(__name__)


@dataclass
class TaskResult:
    exchange: str
    symbol: str
    what: str
    interval: str
    status: str = "ok"
    """ok | up_to_date | not_offered | not_covered | error"""
    pages: int = 0
    """Pages fetched in this run."""
    pages_planned: int = 0
    records: int = 0
    """Records the venue returned inside the pages."""
    inserted: int = 0
    """Rows new to the table (the rest were there already: live data or an earlier run)."""
    reason: str = ""


@dataclass
class BackfillSummary:
    exchange: str
    start_ns: int
    end_ns: int
    tasks: list[TaskResult] = field(default_factory=list)
    requests: int = 0
    rate_limited: int = 0
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "exchange": self.exchange,
            "from": self.start_ns // 1_000_000,
            "to": self.end_ns // 1_000_000,
            "requests": self.requests,
            "rate_limited": self.rate_limited,
            "pages": sum(t.pages for t in self.tasks),
            "records": sum(t.records for t in self.tasks),
            "inserted": sum(t.inserted for t in self.tasks),
            "errors": sum(t.status == "error" for t in self.tasks),
            "seconds": round(self.seconds, 3),
            "tasks": [asdict(t) for t in self.tasks],
        }


Progress = Callable[[TaskResult], None]
"""Called when a task is planned and after every page (``pages`` of ``pages_planned`` done)."""


async def run_backfill(
    database_url: str,
    exchange: ExchangeId,
    symbols: Sequence[str],
    window: Window,
    whats: Sequence[What] = (What.KLINES, What.FUNDING, What.OI),
    *,
    interval_s: int = 60,
    rest_url: str | None = None,
    catalog: InstrumentCatalog | None = None,
    now_ns: int | None = None,
    on_progress: Progress | None = None,
    max_attempts: int = 8,
) -> BackfillSummary:
    """Backfill ``symbols`` of one venue over ``window``; only what ``backfill_coverage`` lacks."""
    started = time.monotonic()
    catalog = catalog or load_snapshot()
    history = history_for(exchange, catalog)
    instruments = catalog.resolve(exchange, list(symbols))
    summary = BackfillSummary(exchange.value, window.start_ns, window.end_ns)

    async def counted(status: int, pause_s: float, path: str) -> None:
        summary.rate_limited += 1

    client = RestClient(
        exchange,
        rest_url or history.rest_url,
        history.rest_rate_limit,
        max_attempts=max_attempts,
        on_rate_limited=counted,
    )
    now = now_ns if now_ns is not None else time.time_ns()
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        for instrument in instruments:
            for what in whats:
                task = TaskResult(exchange.value, instrument.symbol, what.value, interval_name(interval_s))
                summary.tasks.append(task)
                if not history.offers(what):
                    task.status, task.reason = "not_offered", history.not_offered.get(what, "not offered")
                elif (uncovered := history.not_covered(what, instrument)) is not None:
                    task.status, task.reason = "not_covered", uncovered
                if task.status != "ok":
                    task.interval = "-"
                    if on_progress:
                        on_progress(task)
                    continue
                await _run_task(
                    conn, client, history, instrument, what, interval_s, window, now, task, on_progress
                )
    summary.requests = client.calls
    summary.seconds = time.monotonic() - started
    return summary


async def _run_task(
    conn: psycopg.AsyncConnection[Any],
    client: RestClient,
    history: VenueHistory,
    instrument: Instrument,
    what: What,
    interval_s: int,
    window: Window,
    now_ns: int,
    task: TaskResult,
    on_progress: Progress | None,
) -> None:
    try:
        record_interval = history.record_interval_s(what, interval_s)
    except ValueError as exc:
        task.status, task.reason = "error", str(exc)
        return
    task.interval = interval_name(record_interval) if record_interval else "-"
    requested = window
    max_age = history.max_age_s(what, interval_s)
    if max_age is not None and requested.start_ns < now_ns - max_age * NS_PER_S:
        start = now_ns - max_age * NS_PER_S
        if start >= requested.end_ns:
            task.status, task.reason = (
                "not_offered",
                f"older than the {max_age // 86400 or 1}-day history the venue keeps",
            )
            return
        requested = Window(start, requested.end_ns)
        task.reason = f"venue keeps {max_age}s of this history; started at its limit"
    covered = await store.covered(conn, instrument.exchange.value, instrument.symbol, what, record_interval)
    pages = plan(
        requested,
        covered,
        step_ns=history.step_ns(what, interval_s),
        span_ns=history.span_ns(what, interval_s),
        now_ns=now_ns,
    )
    task.pages_planned = len(pages)
    if on_progress:
        on_progress(task)
    if not pages:
        task.status = "up_to_date"
        return
    for page in pages:
        try:
            response = await client.call(history.request(what, instrument, page, record_interval))
            events = history.parse(
                what, instrument, orjson.loads(response.body), record_interval, response.received_ns
            )
        except (RestError, HistoryRejected, ValidationError, orjson.JSONDecodeError, KeyError, TypeError,
                ValueError, IndexError) as exc:  # fmt: skip
            task.status, task.reason = "error", f"{type(exc).__name__}: {str(exc)[:300]}"
            # The fields are in the message too: before logging is configured (``perpwatch up``
            # runs the backfill first), Python prints the bare message.
            log.warning(
                "backfill page failed: %s %s %s: %s", instrument.exchange.value, instrument.symbol, what.value,
                task.reason,
                extra={"exchange": instrument.exchange.value, "symbol": instrument.symbol, "what": what.value,
                       "error": task.reason},
            )  # fmt: skip
            return
        # Only what lies in the page: a venue may answer a little around it (an inclusive end,
        # the still-forming bar), and that belongs to another page or to no page yet.
        events = [e for e in events if page.contains(e.exchange_ts)]
        task.inserted += await store.write_page(
            conn,
            what=what,
            exchange=instrument.exchange.value,
            symbol=instrument.symbol,
            interval_s=record_interval,
            page=page,
            events=events,
        )
        task.pages += 1
        task.records += len(events)
        if on_progress:
            on_progress(task)
