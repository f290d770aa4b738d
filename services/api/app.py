"""The query API's FastAPI application: REST over TimescaleDB, a WebSocket over Kafka, the dashboard.

``create_app`` only wires what it is given (a :class:`Store`, a :class:`Hub`, optionally a rule
store), so unit tests drive it with fakes and no server; the Kafka and uvicorn lifecycle lives
in :mod:`services.api.service`.

Where each endpoint reads from:
- TimescaleDB (history, via the sinks of the stream services): prices (latest ``book_bbo`` row
  per venue), books (``book_depth``), OHLC (``candles``), funding, open interest, arbitrage,
  liquidity, alerts and alert rules;
- the in-memory live state fed by Kafka: connection status in /v1/exchanges (``md.status.v1``)
  and every WebSocket message.
"""

import asyncio
import contextlib
import logging
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol

import orjson
from fastapi import (
    Depends,
    FastAPI,
    Header,
    HTTPException,
    Query,
    Request,
    WebSocket,
    status,
)
from fastapi import (
    Path as PathParam,
)
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.websockets import WebSocketDisconnect

from schemas.common import CANONICAL_SYMBOL_PATTERN, ExchangeId
from services.api import queries
from services.api.hub import Filters, Hub, Subscriber
from services.api.models import (
    AlertOut,
    ArbOpportunityOut,
    ArbSpreadOut,
    BestQuote,
    Book,
    CandleOut,
    ConnectionStatus,
    ErrorResponse,
    ExchangeInfo,
    FundingOut,
    LiquidityAnomalyOut,
    LiquidityOut,
    OpenInterestOut,
    Page,
    Prices,
    Quote,
    wire_row,
)
from services.api.queries import ListQuery, Order
from services.api.security import (
    ApiKey,
    CorrelationMiddleware,
    KeyRing,
    RateLimitMiddleware,
    Scope,
    correlation_id,
    error_body,
    parse_api_keys,
    presented_key,
    send_error,
)
from services.api.settings import ApiSettings
from services.api.store import Store, StoreUnavailable
from services.instruments.catalog import InstrumentCatalog
from services.runtime.http_limits import BodyLimitMiddleware, RateLimiter

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
INTERVALS = {
    "1s": 1,
    "5s": 5,
    "15s": 15,
    "1m": 60,
    "5m": 300,
    "15m": 900,
    "1h": 3600,
    "4h": 14400,
    "1d": 86400,
}
_TIME_TEXT = "ISO 8601 time (2026-01-01T00:00:00Z) or integer ns since the epoch."
_INTERVAL = re.compile(r"^([0-9]{1,6})(s|m|h|d)?$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": text}
    for code, text in {
        401: "Missing or unknown API key (when keys are required).",
        422: "A parameter or the body does not validate.",
        429: "Rate limit: retry after the Retry-After header's seconds.",
        503: "The database is unreachable or a table is missing.",
    }.items()
}
_WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **_ERRORS,
    400: {"model": ErrorResponse, "description": "The body is not JSON text (e.g. not UTF-8)."},
    401: {"model": ErrorResponse, "description": "No API key, or an unknown one."},
    403: {"model": ErrorResponse, "description": "A read-only key on a write endpoint."},
    413: {"model": ErrorResponse, "description": "Body over the size limit (not parsed)."},
}


class RuleStore(Protocol):
    """Alert rules: PostgreSQL table + alert.rules.v1 (services.alert.rules_api.RuleStore)."""

    async def all(self) -> list[Any]: ...

    async def get(self, rule_id: str) -> Any | None: ...

    async def put(self, rule: Any, *, who: str, create_only: bool = False) -> bool: ...

    async def delete(self, rule_id: str) -> bool: ...


@dataclass(frozen=True)
class Rules:
    """What the alert-rules endpoints need: the rule model, a validator and a store."""

    model: type[BaseModel]
    validate: Any
    """``validate(rule)`` raises ValueError when the alert service could not evaluate the rule."""
    store: RuleStore


def parse_interval(text: str) -> int:
    if text in INTERVALS:
        return INTERVALS[text]
    match = _INTERVAL.match(text)
    if match is None:
        raise HTTPException(422, "interval is seconds, or a number with s, m, h or d (1m, 5m, 1h)")
    seconds = int(match.group(1)) * _UNITS[match.group(2) or "s"]
    if not 0 < seconds <= 7 * 86400:
        raise HTTPException(422, "interval must be between 1 second and 7 days")
    return seconds


ExchangeQuery = Annotated[ExchangeId | None, Query(description="Only this venue.")]
SymbolQuery = Annotated[
    str | None,
    Query(
        pattern=CANONICAL_SYMBOL_PATTERN,
        max_length=64,
        description="Only this instrument, e.g. BTC-USDT-PERP.",
    ),
]
ExchangePath = Annotated[ExchangeId, PathParam(description="Venue id, e.g. binance_usdm.")]
SymbolPath = Annotated[
    str, PathParam(pattern=CANONICAL_SYMBOL_PATTERN, max_length=64, examples=["BTC-USDT-PERP"])
]
IntervalPath = Annotated[
    str, PathParam(max_length=8, description="Bar length: 1s, 1m, 5m, 15m, 1h, 4h, 1d or seconds.")
]


def create_app(
    api: ApiSettings,
    store: Store,
    hub: Hub,
    catalog: InstrumentCatalog | None = None,
    rules: Rules | None = None,
) -> FastAPI:
    keys = KeyRing(parse_api_keys(api.keys))

    app = FastAPI(
        title="perpwatch query API",
        version="1",
        description=(
            "Prices across venues, books, OHLC, funding, open interest, arbitrage, liquidity and alerts "
            "of perpwatch, and a WebSocket (`/v1/ws`) of the live Kafka topics. History comes from "
            "TimescaleDB; connection status and the WebSocket from Kafka. Lists are pages "
            "(`limit`, `offset`; `next_offset` is null on the last one). Writes need an API key with the "
            "write scope in `X-API-Key` (or `Authorization: Bearer`). Errors are "
            '`{"error": {"status", "code", "message", "correlation_id"}}`; every answer carries '
            "`X-Request-ID`."
        ),
    )

    # Outermost first: every answer (413 and 429 included) carries the correlation id.
    app.add_middleware(
        RateLimitMiddleware,
        keys=keys,
        per_ip=RateLimiter(api.rate_limit_per_ip, api.rate_limit_burst_s),
        per_key=RateLimiter(api.rate_limit_per_key, api.rate_limit_burst_s),
    )
    app.add_middleware(BodyLimitMiddleware, max_bytes=api.max_body_bytes, refuse=send_error)
    if api.origins():
        app.add_middleware(
            CORSMiddleware,
            allow_origins=api.origins(),
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["X-API-Key", "Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After"],
        )
    app.add_middleware(CorrelationMiddleware)
    _install_error_handlers(app)

    # ---- security -------------------------------------------------------------------------
    def caller(
        x_api_key: Annotated[str | None, Header(description="API key.")] = None,
        authorization: Annotated[
            str | None, Header(description="`Bearer KEY`, instead of X-API-Key.")
        ] = None,
    ) -> ApiKey | None:
        headers = {k: v for k, v in (("x-api-key", x_api_key), ("authorization", authorization)) if v}
        presented = presented_key(headers)
        key = keys.find(presented)
        if presented is not None and key is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown API key")
        return key

    def needs(scope: Scope) -> Any:
        def check(key: Annotated[ApiKey | None, Depends(caller)]) -> ApiKey | None:
            if scope == "read" and not api.require_read_key:
                return key
            if key is None:
                raise HTTPException(status.HTTP_401_UNAUTHORIZED, "an API key is needed")
            if not key.allows(scope):
                raise HTTPException(status.HTTP_403_FORBIDDEN, "this API key may only read")
            return key

        return check

    reader = [Depends(needs("read"))]
    Writer = Annotated[ApiKey, Depends(needs("write"))]

    def page_query(
        limit: Annotated[int, Query(ge=1, le=api.max_page, description="Page size.")] = 100,
        offset: Annotated[int, Query(ge=0, le=1_000_000, description="Rows to skip.")] = 0,
        start: Annotated[
            str | None, Query(max_length=40, description=_TIME_TEXT + " From (inclusive).")
        ] = None,
        end: Annotated[
            str | None, Query(max_length=40, description=_TIME_TEXT + " Before (exclusive).")
        ] = None,
        order: Annotated[Order, Query(description="By time: desc (newest first) or asc.")] = "desc",
    ) -> ListQuery:
        return ListQuery(limit=limit, offset=offset, start=_time(start), end=_time(end), order=order)

    def list_query(
        paged: Annotated[ListQuery, Depends(page_query)],
        exchange: ExchangeQuery = None,
        symbol: SymbolQuery = None,
    ) -> ListQuery:
        return replace(paged, exchange=exchange.value if exchange is not None else None, symbol=symbol)

    def venues_query(
        paged: Annotated[ListQuery, Depends(page_query)], exchange: ExchangeQuery = None
    ) -> ListQuery:
        return replace(paged, exchange=exchange.value if exchange is not None else None)

    Listing = Annotated[ListQuery, Depends(list_query)]
    Paging = Annotated[ListQuery, Depends(page_query)]
    VenuePaging = Annotated[ListQuery, Depends(venues_query)]

    async def page(sql: tuple[str, list[Any]], query: ListQuery, shape: Any = None) -> dict[str, Any]:
        rows = [wire_row(row) for row in await store.fetch(*sql)]
        if shape is not None:
            rows = [shape(row) for row in rows]
        more = len(rows) > query.limit
        return {
            "items": rows[: query.limit],
            "limit": query.limit,
            "offset": query.offset,
            "next_offset": query.offset + query.limit if more else None,
        }

    # ---- reference and prices -------------------------------------------------------------
    @app.get("/v1/exchanges", tags=["market"], responses=_ERRORS, dependencies=reader)
    async def exchanges(query: VenuePaging) -> Page[ExchangeInfo]:
        """Venues: capabilities from the instrument catalog, connection status live from md.status.v1."""
        venues = [e for e in ExchangeId if query.exchange in (None, e.value)]
        infos = []
        for exchange in venues:
            instruments = catalog.instruments(exchange) if catalog is not None else []
            live = hub.live.status.get(exchange.value)
            infos.append(
                ExchangeInfo(
                    exchange=exchange.value,
                    instruments=len(instruments),
                    symbols=sorted({i.symbol for i in instruments}),
                    linear=sum(not i.inverse for i in instruments),
                    inverse=sum(i.inverse for i in instruments),
                    quotes=sorted({i.quote for i in instruments}),
                    funding_intervals_s=sorted({i.funding_interval_s for i in instruments}),
                    status=ConnectionStatus.model_validate(live) if live else None,
                )
            )
        chunk = infos[query.offset : query.offset + query.limit]
        more = query.offset + query.limit < len(infos)
        return Page[ExchangeInfo](
            items=chunk,
            limit=query.limit,
            offset=query.offset,
            next_offset=query.offset + query.limit if more else None,
        )

    @app.get("/v1/prices", tags=["market"], responses=_ERRORS, dependencies=reader)
    async def prices(query: Listing) -> Prices:
        """Latest validated top of book per venue (TimescaleDB ``book_bbo``: the book-builder's
        output), as of ``end``, no older than ``start``; plus the cross-venue best bid and ask."""
        result = await page(queries.latest_prices(query), query)
        quotes = [Quote.model_validate(row) for row in result["items"]]
        return Prices(**{**result, "items": quotes, "best": _best(quotes)})

    @app.get(
        "/v1/books/{exchange}/{symbol}",
        tags=["market"],
        responses={**_ERRORS, 404: {"model": ErrorResponse, "description": "No book recorded."}},
        dependencies=reader,
    )
    async def book(
        exchange: ExchangePath,
        symbol: SymbolPath,
        levels: Annotated[int, Query(ge=1, le=1000, description="Levels per side.")] = 20,
        end: Annotated[
            str | None, Query(max_length=40, description=_TIME_TEXT + " The book as of before it.")
        ] = None,
    ) -> Book:
        """Top levels of the latest validated book (TimescaleDB ``book_depth``, one row per second)."""
        rows = await store.fetch(*queries.latest_book(exchange.value, symbol, levels, _time(end)))
        if not rows:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no book recorded for this venue and symbol")
        row = wire_row(rows[0])
        return Book(
            exchange=row["exchange"],
            symbol=row["symbol"],
            ts=row["ts"],
            venue_seq=row["venue_seq"],
            book_seq=row["book_seq"],
            bids=[
                {"price": p, "quantity": q} for p, q in zip(row["bid_prices"], row["bid_qtys"], strict=False)
            ],
            asks=[
                {"price": p, "quantity": q} for p, q in zip(row["ask_prices"], row["ask_qtys"], strict=False)
            ],
        )

    @app.get(
        "/v1/ohlc/{exchange}/{symbol}/{interval}", tags=["market"], responses=_ERRORS, dependencies=reader
    )
    async def ohlc(
        exchange: ExchangePath, symbol: SymbolPath, interval: IntervalPath, query: Paging
    ) -> Page[CandleOut]:
        """OHLCV bars of one venue (TimescaleDB ``candles``, written from md.candles.v1)."""
        query = replace(query, exchange=exchange.value, symbol=symbol)
        select = (
            queries.Select(queries.CANDLES).filtered(query).where("interval_s = %s", parse_interval(interval))
        )
        return Page[CandleOut].model_validate(await page(select.page(query), query))

    @app.get("/v1/ohlc/{symbol}/{interval}", tags=["market"], responses=_ERRORS, dependencies=reader)
    async def ohlc_all_venues(
        symbol: SymbolPath, interval: IntervalPath, query: VenuePaging
    ) -> Page[CandleOut]:
        """OHLCV bars of every venue of a symbol (``exchange`` narrows it), newest first by default."""
        query = replace(query, symbol=symbol)
        select = (
            queries.Select(queries.CANDLES).filtered(query).where("interval_s = %s", parse_interval(interval))
        )
        direction = "ASC" if query.order == "asc" else "DESC"
        sql = select.page(query, order_by=f"ts {direction}, exchange")
        return Page[CandleOut].model_validate(await page(sql, query))

    @app.get("/v1/funding", tags=["market"], responses=_ERRORS, dependencies=reader)
    async def funding(query: Listing) -> Page[FundingOut]:
        """Funding-rate observations (TimescaleDB ``funding_rates``)."""
        return Page[FundingOut].model_validate(
            await page(queries.Select(queries.FUNDING).filtered(query).page(query), query)
        )

    @app.get("/v1/open-interest", tags=["market"], responses=_ERRORS, dependencies=reader)
    async def open_interest(query: Listing) -> Page[OpenInterestOut]:
        """Open-interest observations (TimescaleDB ``open_interest``)."""
        select = queries.Select(queries.OPEN_INTEREST).filtered(query)
        return Page[OpenInterestOut].model_validate(await page(select.page(query), query))

    # ---- analytics ------------------------------------------------------------------------
    @app.get("/v1/arbitrage/opportunities", tags=["arbitrage"], responses=_ERRORS, dependencies=reader)
    async def arbitrage_opportunities(
        query: Listing,
        state: Annotated[
            Literal["open", "recent"],
            Query(description="open: the latest event of each opportunity not closed; recent: every event."),
        ] = "open",
    ) -> Page[ArbOpportunityOut]:
        """Cross-venue opportunities (TimescaleDB ``arb_open_opportunities`` / ``arb_opportunities``);
        ``exchange`` matches the buy or the sell venue."""
        source = queries.ARB_OPEN if state == "open" else queries.ARB_EVENTS
        select = queries.Select(source).filtered(query, queries.ARB_EXCHANGE)
        return Page[ArbOpportunityOut].model_validate(await page(select.page(query), query))

    @app.get("/v1/arbitrage/spreads", tags=["arbitrage"], responses=_ERRORS, dependencies=reader)
    async def arbitrage_spreads(query: Listing) -> Page[ArbSpreadOut]:
        """Sampled spreads per ordered venue pair (TimescaleDB ``arb_spreads``)."""
        select = queries.Select(queries.ARB_SPREADS).filtered(query, queries.ARB_EXCHANGE)
        return Page[ArbSpreadOut].model_validate(await page(select.page(query), query))

    @app.get("/v1/liquidity/anomalies", tags=["liquidity"], responses=_ERRORS, dependencies=reader)
    async def liquidity_anomalies(query: Listing) -> Page[LiquidityAnomalyOut]:
        """Liquidity crunches started and ended (TimescaleDB ``liquidity_anomalies``)."""
        select = queries.Select(queries.LIQUIDITY_ANOMALIES).filtered(query)
        return Page[LiquidityAnomalyOut].model_validate(await page(select.page(query), query))

    @app.get("/v1/liquidity/{exchange}/{symbol}", tags=["liquidity"], responses=_ERRORS, dependencies=reader)
    async def liquidity(exchange: ExchangePath, symbol: SymbolPath, query: Paging) -> Page[LiquidityOut]:
        """Sampled spread, depth bands, imbalance and slippage of one book (TimescaleDB ``liquidity_metrics``)."""
        query = replace(query, exchange=exchange.value, symbol=symbol)
        select = queries.Select(queries.LIQUIDITY).filtered(query)
        return Page[LiquidityOut].model_validate(
            await page(select.page(query), query, queries.liquidity_bands)
        )

    @app.get("/v1/alerts", tags=["alerts"], responses=_ERRORS, dependencies=reader)
    async def alerts(
        query: Listing,
        alert_status: Annotated[
            Literal["firing", "resolved"] | None, Query(alias="status", description="Only this status.")
        ] = None,
        rule_id: Annotated[str | None, Query(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")] = None,
    ) -> Page[AlertOut]:
        """Alert notifications, firing and resolved (TimescaleDB ``alert_history``); ``exchange`` and
        ``symbol`` match the alert's labels."""
        select = queries.Select(queries.ALERTS).filtered(query)
        if alert_status is not None:
            select.where("status = %s", alert_status)
        if rule_id is not None:
            select.where("rule_id = %s", rule_id)
        return Page[AlertOut].model_validate(await page(select.page(query), query))

    if rules is not None:
        _alert_rules(app, rules, reader, Writer)

    # ---- live -----------------------------------------------------------------------------
    @app.websocket("/v1/ws")
    async def stream(
        websocket: WebSocket,
        topic: str | None = None,
        exchange: str | None = None,
        symbol: str | None = None,
    ) -> None:
        """Live Kafka records, filtered; see the dashboard's app.js for a client."""
        await _serve_websocket(websocket, hub, api, keys, topic, exchange, symbol)

    # ---- dashboard ------------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    async def dashboard() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def _time(text: str | None) -> datetime | None:
    """ISO 8601 or integer nanoseconds -> aware datetime; 422 otherwise (without echoing it)."""
    if text is None:
        return None
    try:
        if text.isdigit():
            return datetime.fromtimestamp(int(text) / 1e9, UTC)
        return queries.utc(datetime.fromisoformat(text))
    except (ValueError, OverflowError, OSError):
        raise HTTPException(422, "times are ISO 8601 (2026-01-01T00:00:00Z) or integer nanoseconds") from None


def _best(quotes: list[Quote]) -> list[BestQuote]:
    by_symbol: dict[str, list[Quote]] = {}
    for quote in quotes:
        by_symbol.setdefault(quote.symbol, []).append(quote)
    best = []
    for symbol, venue_quotes in by_symbol.items():
        bid = max(venue_quotes, key=lambda q: Decimal(q.bid_price))
        ask = min(venue_quotes, key=lambda q: Decimal(q.ask_price))
        bid_price, ask_price = Decimal(bid.bid_price), Decimal(ask.ask_price)
        mid = (bid_price + ask_price) / 2
        best.append(
            BestQuote(
                symbol=symbol,
                venues=len(venue_quotes),
                best_bid_exchange=bid.exchange,
                best_bid=bid.bid_price,
                best_ask_exchange=ask.exchange,
                best_ask=ask.ask_price,
                spread_bps=float((ask_price - bid_price) / mid * 10_000) if mid > 0 else 0.0,
            )
        )
    return best


def _alert_rules(app: FastAPI, rules: Rules, reader: list[Any], writer: Any) -> None:
    RuleModel: Any = rules.model
    not_found: dict[int | str, dict[str, Any]] = {
        404: {"model": ErrorResponse, "description": "No such rule."}
    }

    def checked(rule: Any) -> Any:
        try:
            rules.validate(rule)
        except ValueError as exc:
            # The reasons quote the rule; they go to the log under the request's id, not back.
            log.info(
                "alert rule rejected", extra={"reasons": str(exc), "correlation_id": correlation_id.get()}
            )
            raise HTTPException(422, "the rule cannot be evaluated on the registered topics") from None
        return rule

    def who(key: ApiKey) -> str:
        return f"api:{key.name}"

    @app.get("/v1/alert-rules", tags=["alerts"], responses=_ERRORS, dependencies=reader)
    async def list_rules() -> list[RuleModel]:
        """Stored alert rules (TimescaleDB ``alert_rules``)."""
        return await _stored(rules.store.all())  # type: ignore[no-any-return]

    @app.get(
        "/v1/alert-rules/{rule_id}", tags=["alerts"], responses={**_ERRORS, **not_found}, dependencies=reader
    )
    async def get_rule(
        rule_id: Annotated[str, PathParam(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")],
    ) -> RuleModel:
        rule = await _stored(rules.store.get(rule_id))
        if rule is None:
            raise HTTPException(404, "no such rule")
        return rule

    @app.post(
        "/v1/alert-rules",
        status_code=201,
        tags=["alerts"],
        responses={
            **_WRITE_ERRORS,
            409: {"model": ErrorResponse, "description": "The id exists (PUT replaces)."},
        },
    )
    async def create_rule(rule: RuleModel, key: writer) -> RuleModel:
        """Create a rule (write scope); it is also published on alert.rules.v1 for the alert service."""
        try:
            await _stored(rules.store.put(checked(rule), who=who(key), create_only=True))
        except KeyError:
            raise HTTPException(409, "a rule with this id exists; PUT replaces it") from None
        return rule

    @app.put("/v1/alert-rules/{rule_id}", tags=["alerts"], responses=_WRITE_ERRORS)
    async def put_rule(
        rule_id: Annotated[str, PathParam(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")],
        rule: RuleModel,
        key: writer,
    ) -> RuleModel:
        """Create or replace a rule (write scope)."""
        if rule.id != rule_id:
            raise HTTPException(422, "the rule's id differs from the path")
        await _stored(rules.store.put(checked(rule), who=who(key)))
        return rule

    @app.delete(
        "/v1/alert-rules/{rule_id}",
        status_code=204,
        tags=["alerts"],
        responses={**_WRITE_ERRORS, **not_found},
    )
    async def delete_rule(
        rule_id: Annotated[str, PathParam(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")], key: writer
    ) -> Response:
        """Delete a rule (write scope)."""
        if not await _stored(rules.store.delete(rule_id)):
            raise HTTPException(404, "no such rule")
        return Response(status_code=204)


async def _stored(operation: Any) -> Any:
    try:
        return await operation
    except StoreUnavailable:
        raise
    except (OSError, ConnectionError) as exc:
        raise StoreUnavailable(type(exc).__name__) from exc
    except Exception as exc:
        if type(exc).__module__.split(".")[0] in ("psycopg", "aiokafka"):
            raise StoreUnavailable(type(exc).__name__) from exc
        raise


def _split(text: str | None) -> frozenset[str]:
    return frozenset(part.strip() for part in (text or "").split(",") if part.strip())


def _filters(hub: Hub, topics: Any, exchanges: Any, symbols: Any) -> Filters | str:
    def as_set(value: Any) -> frozenset[str] | None:
        if value is None:
            return frozenset()
        if isinstance(value, str):
            return _split(value)
        if (
            isinstance(value, list)
            and all(isinstance(v, str) and len(v) <= 64 for v in value)
            and len(value) <= 100
        ):
            return frozenset(value)
        return None

    wanted = [as_set(topics), as_set(exchanges), as_set(symbols)]
    if any(w is None for w in wanted):
        return "topics, exchanges and symbols are strings or lists of strings"
    topic_set, exchange_set, symbol_set = (w or frozenset() for w in wanted)
    if not topic_set <= hub.topics:
        return "unknown topic; the streamable topics are: " + ", ".join(sorted(hub.topics))
    return Filters(topic_set, exchange_set, symbol_set)


async def _serve_websocket(
    websocket: WebSocket,
    hub: Hub,
    api: ApiSettings,
    keys: KeyRing,
    topic: str | None,
    exchange: str | None,
    symbol: str | None,
) -> None:
    if api.require_read_key:
        headers = {k.lower(): v for k, v in websocket.headers.items()}
        presented = presented_key(headers) or websocket.query_params.get("api_key")
        if keys.find(presented) is None:
            await websocket.close(code=1008, reason="an API key is needed")
            return
    if len(hub.subscribers) >= api.ws_max_clients:
        await websocket.close(code=1013, reason="too many clients")
        return
    initial = _filters(hub, topic, exchange, symbol)
    await websocket.accept()
    if isinstance(initial, str):
        await websocket.send_text(orjson.dumps({"type": "error", "message": initial}).decode())
        await websocket.close(code=1008)
        return
    subscriber = hub.subscribe(initial)
    await websocket.send_text(orjson.dumps({"type": "subscribed", **_describe(initial)}).decode())

    async def send_loop(current: Subscriber) -> None:
        while True:
            await websocket.send_text((await current.take()).decode())

    async def receive_loop() -> None:
        nonlocal subscriber
        while True:
            text = await websocket.receive_text()
            if len(text) > 16_384:
                await websocket.send_text('{"type":"error","message":"message too large"}')
                continue
            try:
                request = orjson.loads(text)
            except orjson.JSONDecodeError:
                await websocket.send_text('{"type":"error","message":"messages are JSON objects"}')
                continue
            if not isinstance(request, dict) or request.get("op") != "subscribe":
                await websocket.send_text('{"type":"error","message":"the only op is subscribe"}')
                continue
            filters = _filters(hub, request.get("topics"), request.get("exchanges"), request.get("symbols"))
            if isinstance(filters, str):
                await websocket.send_text(orjson.dumps({"type": "error", "message": filters}).decode())
                continue
            subscriber.filters = filters
            await websocket.send_text(orjson.dumps({"type": "subscribed", **_describe(filters)}).decode())

    sender = asyncio.create_task(send_loop(subscriber))
    receiver = asyncio.create_task(receive_loop())
    try:
        await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        hub.unsubscribe(subscriber)
        for task in (sender, receiver):
            task.cancel()
        for task in (sender, receiver):
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError, OSError):
                await task


def _describe(filters: Filters) -> dict[str, list[str]]:
    return {
        "topics": sorted(filters.topics),
        "exchanges": sorted(filters.exchanges),
        "symbols": sorted(filters.symbols),
    }


def _install_error_handlers(app: FastAPI) -> None:
    codes = {
        400: "bad_request",
        401: "unauthorized",
        403: "forbidden",
        404: "not_found",
        405: "method_not_allowed",
        409: "conflict",
        413: "body_too_large",
        422: "invalid",
        429: "rate_limited",
        503: "unavailable",
    }

    def answer(status_code: int, message: str, details: list[dict[str, Any]] | None = None) -> JSONResponse:
        body = orjson.loads(error_body(status_code, codes.get(status_code, "error"), message))
        if details is not None:
            body["error"]["details"] = details
        return JSONResponse(body, status_code=status_code)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "request refused"
        response = answer(exc.status_code, message)
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        # Where and why, never the offending value: errors do not echo input back.
        details = [
            {
                "loc": [str(part) for part in error.get("loc", ())],
                "type": str(error.get("type", "")),
                "msg": str(error.get("msg", "")),
            }
            for error in exc.errors()[:20]
        ]
        return answer(422, "the request does not validate", details)

    @app.exception_handler(StoreUnavailable)
    async def unavailable(_: Request, exc: StoreUnavailable) -> JSONResponse:
        log.warning("database unavailable", extra={"error": str(exc), "correlation_id": correlation_id.get()})
        return answer(503, "the database is unavailable, retry later")

    @app.exception_handler(Exception)
    async def crashed(_: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error", exc_info=exc, extra={"correlation_id": correlation_id.get()})
        return answer(500, "internal error")
