"""A backfill task's pages asked of the simulator's history endpoints in-process, as the runner asks.

The runner's loop without the database: plan the pages, build each request with the venue's
history module, let ``VenueHistoryEndpoints`` answer it, parse the answer and keep what lies in
the page. What comes back is every stored event of the task, in page order.
"""

import itertools
from dataclasses import dataclass

import orjson

from schemas.common import ExchangeId, InstrumentEvent
from services.backfill.core.plan import NS_PER_MS, NS_PER_S, What, Window, plan
from services.backfill.history import VenueHistory, capability_table, history_for
from services.instruments.catalog import load_snapshot
from services.simulator.dialect import HttpRequest
from services.simulator.history import HistoryModel, VenueHistoryEndpoints
from services.simulator.model import MarketModel
from services.simulator.server import grids_for

NOW_MS = 1_800_000_000_000 // 3_600_000 * 3_600_000
NOW_NS = NOW_MS * NS_PER_MS
CATALOG = load_snapshot()


@dataclass
class RoundTrip:
    history: VenueHistory
    endpoints: VenueHistoryEndpoints
    requests: list[HttpRequest]


def round_trip(exchange: ExchangeId) -> RoundTrip:
    model = MarketModel(grids_for([exchange], ("BTC-USDT-PERP",)), seed=5)
    endpoints = VenueHistoryEndpoints(exchange, HistoryModel(model, 5, NOW_MS))
    return RoundTrip(history_for(exchange, CATALOG), endpoints, [])


def fetch(
    trip: RoundTrip, native_symbol: str, what: What, window: Window, interval_s: int = 60
) -> tuple[list[Window], list[InstrumentEvent]]:
    """The planned pages and the events stored from them."""
    history = trip.history
    instrument = CATALOG.get(history.exchange, native_symbol)
    record_interval = history.record_interval_s(what, interval_s)
    pages = plan(
        window,
        [],
        step_ns=history.step_ns(what, interval_s),
        span_ns=history.span_ns(what, interval_s),
        now_ns=NOW_NS,
    )
    events: list[InstrumentEvent] = []
    for page in pages:
        request = history.request(what, instrument, page, record_interval)
        http = HttpRequest(request.method, request.path, dict(request.params))
        trip.requests.append(http)
        reply = trip.endpoints.reply(http, NOW_NS)
        assert reply is not None, f"the simulator does not serve {request.path}"
        assert reply.status == 200, reply.body[:300]
        parsed = history.parse(what, instrument, orjson.loads(reply.body), record_interval, NOW_NS)
        events += [e for e in parsed if page.contains(e.exchange_ts)]
    return pages, events


def assert_contiguous_minute_bars(bars: list[InstrumentEvent], minutes: int) -> None:
    """``minutes`` one-minute bars, each once, none missing between pages."""
    opens = [bar.exchange_ts for bar in bars]
    assert len(opens) == minutes == len(set(opens))
    assert all(b - a == 60 * NS_PER_S for a, b in itertools.pairwise(opens))


def assert_not_offered(exchange: ExchangeId, what: What, reason: str) -> None:
    """The venue does not offer ``what``: the capability table says so, with ``reason`` in it."""
    [row] = [r for r in capability_table() if r["exchange"] == exchange.value and r["what"] == what.value]
    assert row["status"] == "not offered"
    assert reason in row["detail"]
