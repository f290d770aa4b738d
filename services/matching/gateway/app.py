"""The gateway's FastAPI application: order entry, order status, public market data.

``create_app`` only wires what it is given (a command publisher, an order-status reader, the
in-memory market data), so unit tests drive it with fakes and no server; the Kafka and database
lifecycle lives in :mod:`services.matching.gateway.service`.
"""

import logging
import secrets
import uuid
from typing import Annotated, Any

import anyio
from fastapi import (
    Depends,
    FastAPI,
    HTTPException,
    Path,
    Query,
    Request,
    WebSocket,
    WebSocketDisconnect,
    status,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader

from schemas.venue import AmendCommand, CancelCommand, SubmitCommand, VenueId
from services.matching.gateway.commands import CommandNotAccepted, CommandPublisher, OrderCommand
from services.matching.gateway.limits import (
    RateLimited,
    rate_limited_response,
    refuse,
    take,
    validation_problem,
)
from services.matching.gateway.market import MarketData, Stream
from services.matching.gateway.models import (
    ID_PATTERN,
    AmendOrderRequest,
    Bbo,
    CommandAccepted,
    Depth,
    OrderStatus,
    SubmitOrderRequest,
)
from services.matching.gateway.orders import OrderStatusReader, OrderStoreUnavailable
from services.matching.gateway.settings import GatewaySettings
from services.runtime.http_limits import BodyLimitMiddleware, RateLimiter

log = logging.getLogger(__name__)

API_KEY_HEADER = "X-API-Key"
# WebSocket close code 1013 "try again later": the client did not keep up with the stream.
CLOSE_TOO_SLOW = 1013

_api_key = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, description="Maps to one account.")
ClientOrderId = Annotated[str, Path(min_length=1, max_length=64, pattern=ID_PATTERN)]
SymbolFilter = Annotated[
    str | None,
    Query(min_length=1, max_length=64, pattern=ID_PATTERN, description="Only this venue symbol."),
]
Symbol = Annotated[str, Path(min_length=1, max_length=64, pattern=ID_PATTERN, examples=["BTC-USDT"])]
CancelSymbol = Annotated[VenueId, Query(pattern=ID_PATTERN, description="The order's venue symbol.")]

_UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    status.HTTP_401_UNAUTHORIZED: {"description": "Missing or unknown API key."}
}
_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    status.HTTP_503_SERVICE_UNAVAILABLE: {"description": "Kafka or the database is unreachable."}
}


def create_app(
    gateway: GatewaySettings,
    publisher: CommandPublisher,
    orders: OrderStatusReader,
    market: MarketData,
) -> FastAPI:
    accounts_by_key = gateway.accounts_by_key()
    # A burst of rate_limit_burst requests, then rate_limit_per_s a second (x4 per address).
    burst_s = gateway.rate_limit_burst / gateway.rate_limit_per_s
    per_key = RateLimiter(gateway.rate_limit_per_s, burst_s)
    per_address = RateLimiter(gateway.rate_limit_per_s * 4, burst_s)

    def account_of(request: Request, api_key: Annotated[str | None, Depends(_api_key)]) -> str:
        address = request.client.host if request.client else "unknown"
        take(per_address, address)  # before the key check: guessing keys is limited too
        account = None
        if api_key:
            # Constant-time compare against every key: no timing hint about which prefix matched.
            for key, owner in accounts_by_key.items():
                if secrets.compare_digest(key.encode(), api_key.encode()):
                    account = owner
        if account is None:
            # The key itself is never logged; repeats are collapsed by the log filter.
            log.warning(
                "request refused: missing or unknown api key",
                extra={"client": address, "path": request.url.path, "key_given": bool(api_key)},
            )
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing or unknown API key")
        take(per_key, account)
        return account

    Account = Annotated[str, Depends(account_of)]

    async def place(command: OrderCommand) -> CommandAccepted:
        try:
            placement = await publisher.publish(command)
        except CommandNotAccepted as exc:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "command not accepted by Kafka") from exc
        return CommandAccepted(
            command_id=placement.command_id,
            type=command.type,
            symbol=command.symbol,
            account=command.account,
            client_order_id=command.client_order_id,
            partition=placement.partition,
            offset=placement.offset,
        )

    app = FastAPI(
        title="perpwatch venue gateway",
        version="1",
        description=(
            "Order entry and market data of perpwatch's own venue. Order entry answers 202 once the "
            "command is on venue.commands.v1; its outcome arrives as order events (GET the order, or "
            "the trades WebSocket). Order endpoints need the X-API-Key header; market data is public."
        ),
    )

    app.add_middleware(BodyLimitMiddleware, max_bytes=gateway.max_body_bytes, refuse=refuse)
    app.add_exception_handler(RequestValidationError, validation_problem)

    @app.exception_handler(RateLimited)
    async def _rate_limited(request: Request, exc: RateLimited) -> JSONResponse:
        return rate_limited_response(exc)

    @app.post(
        "/orders",
        status_code=status.HTTP_202_ACCEPTED,
        responses={**_UNAUTHORIZED, **_UNAVAILABLE},
        tags=["orders"],
    )
    async def submit_order(body: SubmitOrderRequest, account: Account) -> CommandAccepted:
        """Submit a new order for the API key's account."""
        fields = body.model_dump(exclude={"client_order_id"}, exclude_none=True)
        client_order_id = body.client_order_id or f"gw-{uuid.uuid4().hex}"
        command = SubmitCommand(type="submit", account=account, client_order_id=client_order_id, **fields)
        return await place(command)

    @app.delete(
        "/orders/{client_order_id}",
        status_code=status.HTTP_202_ACCEPTED,
        responses={**_UNAUTHORIZED, **_UNAVAILABLE},
        tags=["orders"],
    )
    async def cancel_order(
        client_order_id: ClientOrderId,
        symbol: CancelSymbol,
        account: Account,
    ) -> CommandAccepted:
        """Cancel a resting order or an untriggered stop."""
        command = CancelCommand(
            type="cancel", account=account, client_order_id=client_order_id, symbol=symbol
        )
        return await place(command)

    @app.patch(
        "/orders/{client_order_id}",
        status_code=status.HTTP_202_ACCEPTED,
        responses={**_UNAUTHORIZED, **_UNAVAILABLE},
        tags=["orders"],
    )
    async def amend_order(
        client_order_id: ClientOrderId, body: AmendOrderRequest, account: Account
    ) -> CommandAccepted:
        """Amend price and/or total quantity (a price change or size increase loses priority)."""
        fields = body.model_dump(exclude_none=True)
        command = AmendCommand(type="amend", account=account, client_order_id=client_order_id, **fields)
        return await place(command)

    @app.get(
        "/orders/{client_order_id}",
        responses={
            **_UNAUTHORIZED,
            **_UNAVAILABLE,
            status.HTTP_404_NOT_FOUND: {"description": "No such order for this account (yet)."},
        },
        tags=["orders"],
    )
    async def order_status(
        client_order_id: ClientOrderId, account: Account, symbol: SymbolFilter = None
    ) -> OrderStatus:
        """The order's latest recorded state; only the API key's account's orders are visible."""
        try:
            found = await orders.latest(account, client_order_id, symbol)
        except OrderStoreUnavailable as exc:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "order store unavailable") from exc
        if found is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "order not found")
        return found

    @app.get("/market", tags=["market data"])
    async def symbols() -> list[str]:
        """Symbols with market data."""
        return sorted(market.books)

    @app.get(
        "/market/{symbol}/bbo",
        responses={status.HTTP_404_NOT_FOUND: {"description": "No top of book for this symbol yet."}},
        tags=["market data"],
    )
    async def bbo(symbol: Symbol) -> Bbo:
        """Best bid and offer (`null` prices for an empty side)."""
        book = market.book(symbol)
        top = None if book is None else book.bbo()
        if top is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no market data for this symbol")
        return top

    @app.get(
        "/market/{symbol}/depth",
        responses={status.HTTP_404_NOT_FOUND: {"description": "No market data for this symbol yet."}},
        tags=["market data"],
    )
    async def depth(symbol: Symbol, levels: Annotated[int, Query(ge=1, le=1000)] = 20) -> Depth:
        """Displayed levels per side, best first (iceberg reserves are hidden)."""
        book = market.book(symbol)
        if book is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no market data for this symbol")
        return book.depth(levels)

    @app.websocket("/ws/trades")
    async def trades_stream(websocket: WebSocket, symbol: SymbolFilter = None) -> None:
        """Every venue trade (venue.trades.v1 JSON), from the moment of connection."""
        await _stream(websocket, market, "trades", symbol)

    @app.websocket("/ws/md")
    async def market_data_stream(websocket: WebSocket, symbol: SymbolFilter = None) -> None:
        """A `depth` message per symbol, then every l2/bbo event (venue.md.v1 JSON) after it."""
        await _stream(websocket, market, "md", symbol)

    return app


async def _stream(websocket: WebSocket, market: MarketData, stream: Stream, symbol: str | None) -> None:
    # Subscribed before the handshake completes: nothing the client triggers after it is missed.
    subscriber, snapshots = market.subscribe(stream, symbol)
    try:
        await websocket.accept()
        for snapshot in snapshots:
            await websocket.send_text('{"kind":"depth",' + snapshot.model_dump_json()[1:])
        async with anyio.create_task_group() as group:

            async def forward() -> None:
                try:
                    while (message := await subscriber.next()) is not None:
                        await websocket.send_text(message)
                    await websocket.close(CLOSE_TOO_SLOW, "client too slow")
                except (WebSocketDisconnect, OSError) as exc:
                    log.debug("websocket client gone", extra={"stream": stream, "error": repr(exc)})
                finally:
                    group.cancel_scope.cancel()

            async def until_disconnected() -> None:
                # Clients send nothing; reading is how a disconnect is noticed while the stream is quiet.
                while (await websocket.receive())["type"] != "websocket.disconnect":
                    pass
                group.cancel_scope.cancel()

            group.start_soon(forward)
            group.start_soon(until_disconnected)
    except WebSocketDisconnect:
        pass
    finally:
        market.unsubscribe(subscriber)
