"""What a venue's history module is: ``VenueHistory``, and the lookups the backfill makes.

Each venue's module is ``services/venues/<exchange>/history.py``, named by its package's
``VenueParts.history``. A module knows its venue's documented history endpoints (path, parameters, page limit, order of
the answer) and parses their answers into the normal contracts (``Candle`` with
``source="venue"``, ``Funding``, ``OpenInterest``). The REST base URL and the rate limit come from
the venue's ingest adapter (``services/venues/<exchange>/adapter.py``), so both sides share one budget.
What a venue does not offer is declared in ``not_offered`` with the reason and reported as
such, never as an error; a contract kind a module does not read is named by ``not_covered``. ``capability_table()`` is the table the README documents.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

from schemas.common import ExchangeId, InstrumentEvent
from schemas.market_data import Candle, Funding
from services.backfill.core.plan import NS_PER_MS, NS_PER_S, What, Window
from services.ingest.parsing import event_ids
from services.ingest.venue import RateLimit, RestRequest
from services.instruments.catalog import Instrument, InstrumentCatalog
from services.venues import adapter_for, history_class, registered_venues


class HistoryRejected(ValueError):
    """A venue answer that cannot be read as history (an error envelope, a wrong shape)."""


@dataclass(frozen=True)
class Endpoint:
    """One documented history endpoint: where it is, what one page holds, where it is documented."""

    path: str
    page_limit: int
    doc: str
    note: str = ""
    max_age_s: int | None = None
    """How far back the venue keeps this history (None: as far as the listing)."""


class VenueHistory:
    """Base of a venue's history module; a venue fills in the class attributes and the hooks."""

    exchange: ClassVar[ExchangeId]
    endpoints: ClassVar[Mapping[What, Endpoint]]
    not_offered: ClassVar[Mapping[What, str]] = {}
    kline_intervals: ClassVar[Mapping[int, str]]
    """Bar length in seconds -> the venue's interval parameter."""
    oi_periods: ClassVar[Mapping[int, str]] = {}
    """OI period in seconds -> the venue's period parameter."""
    min_funding_interval_s: ClassVar[int] = 3600
    """The shortest funding interval the venue uses: a funding page spans limit x this."""

    def __init__(self, catalog: InstrumentCatalog) -> None:
        self.catalog = catalog
        adapter = adapter_for(self.exchange, catalog)
        self.rest_url: str = adapter.rest_url
        self.rest_rate_limit: RateLimit = adapter.rest_rate_limit

    # --- what is offered ---------------------------------------------------------------------

    def offers(self, what: What) -> bool:
        return what in self.endpoints

    def not_covered(self, what: What, instrument: Instrument) -> str | None:
        """Why this module does not read ``what`` for this instrument though the venue offers it
        (a contract kind it does not cover), or None. The task then ends as ``not_covered`` with
        that reason, before any request: a limit of the module, not a failed page."""
        return None

    def max_age_s(self, what: What, interval_s: int) -> int | None:
        """How far back the venue serves this history; older windows are not asked for."""
        return self.endpoints[what].max_age_s

    def record_interval_s(self, what: What, interval_s: int) -> int:
        """The coverage key's interval: bar length, OI period, 0 for funding."""
        if what is What.KLINES:
            if interval_s not in self.kline_intervals:
                raise ValueError(
                    f"{self.exchange.value} has no {interval_s}s klines; "
                    f"offered: {sorted(self.kline_intervals)}"
                )
            return interval_s
        if what is What.OI:
            # The finest documented period no finer than the bar length asked for.
            fitting = [p for p in self.oi_periods if p <= max(interval_s, min(self.oi_periods))]
            return max(fitting)
        return 0

    def step_ns(self, what: What, interval_s: int) -> int:
        """Spacing of records: pages and the requested window are aligned to it."""
        if what is What.FUNDING:
            return NS_PER_MS
        return self.record_interval_s(what, interval_s) * NS_PER_S

    def span_ns(self, what: What, interval_s: int) -> int:
        """How much time one request returns in full."""
        limit = self.endpoints[what].page_limit
        if what is What.FUNDING:
            return limit * self.min_funding_interval_s * NS_PER_S
        return limit * self.record_interval_s(what, interval_s) * NS_PER_S

    # --- per venue ---------------------------------------------------------------------------

    def request(self, what: What, instrument: Instrument, page: Window, interval_s: int) -> RestRequest:
        raise NotImplementedError

    def parse(
        self, what: What, instrument: Instrument, payload: Any, interval_s: int, receive_ns: int
    ) -> list[InstrumentEvent]:
        raise NotImplementedError

    # --- shared builders ---------------------------------------------------------------------

    @staticmethod
    def candle(
        instrument: Instrument,
        *,
        open_ms: int,
        interval_s: int,
        prices: tuple[Any, Any, Any, Any],
        volume: Decimal,
        notional: Decimal,
        trade_count: int,
        receive_ns: int,
        buy_volume: Decimal | None = None,
    ) -> Candle:
        """A closed venue bar; ``volume`` already in base units, prices as the venue quotes them."""
        o, h, low, c = (instrument.base_price(Decimal(str(p))) for p in prices)
        open_ns = open_ms * NS_PER_MS
        return Candle(
            **event_ids(instrument, open_ns, receive_ns),
            interval_s=interval_s,
            close_ts=open_ns + interval_s * NS_PER_S,
            open=o,
            high=h,
            low=low,
            close=c,
            volume=volume,
            notional=notional,
            trade_count=trade_count,
            closed=True,
            buy_volume=buy_volume,
            sell_volume=None if buy_volume is None else max(Decimal(0), volume - buy_volume),
            source="venue",
        )

    @staticmethod
    def funding(
        instrument: Instrument,
        *,
        funding_ms: int,
        rate: Any,
        receive_ns: int,
        mark_price: Any = None,
        interval_s: int | None = None,
    ) -> Funding:
        """A settled funding: ``exchange_ts`` is the settlement time, the next one an interval later."""
        ts = funding_ms * NS_PER_MS
        interval = interval_s or instrument.funding_interval_s
        mark = Decimal(str(mark_price)) if mark_price not in (None, "") else None
        return Funding(
            **event_ids(instrument, ts, receive_ns),
            rate=Decimal(str(rate)),
            interval_s=interval,
            next_funding_ts=ts + interval * NS_PER_S,
            mark_price=instrument.base_price(mark) if mark is not None and mark > 0 else None,
        )


def _history_class(exchange: ExchangeId) -> type[VenueHistory] | None:
    found = history_class(exchange)
    if found is None:
        return None
    if not issubclass(found, VenueHistory) or found.exchange is not exchange:
        raise TypeError(f"{exchange.value}'s history part is not a VenueHistory of {exchange.value}")
    return found


def history_for(exchange: ExchangeId, catalog: InstrumentCatalog) -> VenueHistory:
    found = _history_class(exchange)
    if found is None:
        raise NotImplementedError(f"no backfill module for {exchange.value}")
    return found(catalog)


def backfill_exchanges() -> list[ExchangeId]:
    return [exchange for exchange in registered_venues() if _history_class(exchange) is not None]


def capability_table() -> list[dict[str, str]]:
    """One row per venue and kind of history: offered (endpoint, page limit) or why not."""
    rows = []
    for exchange in registered_venues():
        history = _history_class(exchange)
        if history is None:
            continue
        for what in What:
            endpoint = history.endpoints.get(what)
            if endpoint is not None:
                status, detail = (
                    "yes",
                    f"{endpoint.path} ({endpoint.page_limit} per page) {endpoint.note}".strip(),
                )
            else:
                status, detail = "not offered", history.not_offered.get(what, "")
            rows.append({"exchange": exchange.value, "what": what.value, "status": status, "detail": detail})
    return rows
