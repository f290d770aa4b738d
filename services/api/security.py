"""API keys, rate limits, body limits and correlation ids, as plain ASGI middleware.

The middleware answer before FastAPI parses anything: a 10 MB body is refused from its
Content-Length (or, when chunked, as soon as the count passes the limit), and a client over its
rate gets 429 with Retry-After without reaching a route or the database.
"""

import contextvars
import hashlib
import logging
import math
import re
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from services.api.metrics import REQUEST_SECONDS, REQUESTS
from services.runtime.http_limits import RateLimiter

log = logging.getLogger(__name__)

Scope = Literal["read", "write"]
ASGIApp = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
    Awaitable[None],
]

API_KEY_HEADER = "x-api-key"
REQUEST_ID_HEADER = "x-request-id"
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

correlation_id: contextvars.ContextVar[str] = contextvars.ContextVar("correlation_id", default="")


@dataclass(frozen=True)
class ApiKey:
    digest: str
    scope: Scope
    name: str

    def allows(self, needed: Scope) -> bool:
        return self.scope == "write" or needed == "read"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def parse_api_keys(text: str) -> dict[str, ApiKey]:
    """``sha256hex:scope[:name],...`` -> {digest: ApiKey}. Raises ValueError without echoing digests."""
    keys: dict[str, ApiKey] = {}
    for position, entry in enumerate((part.strip() for part in text.split(",")), start=1):
        if not entry:
            continue
        digest, _, rest = entry.partition(":")
        scope, _, name = rest.partition(":")
        digest = digest.strip().lower()
        if not _SHA256_HEX.match(digest):
            raise ValueError(f"api key entry {position} is not the 64 hex digits of a sha256")
        if scope not in ("read", "write"):
            raise ValueError(f"api key entry {position} has scope {scope!r}; read or write")
        if digest in keys:
            raise ValueError(f"api key entry {position} repeats a key")
        keys[digest] = ApiKey(digest, "write" if scope == "write" else "read", name.strip() or digest[:8])
    return keys


class KeyRing:
    """Looks a presented key up by its hash; the plain key is never kept."""

    def __init__(self, keys: dict[str, ApiKey]) -> None:
        self._keys = keys

    def find(self, presented: str | None) -> ApiKey | None:
        if not presented:
            return None
        digest = hash_key(presented)
        for known, key in self._keys.items():
            # Constant time over equal-length hex digests: no hint of how much matched.
            if secrets.compare_digest(known, digest):
                return key
        return None


def presented_key(headers: dict[str, str]) -> str | None:
    if key := headers.get(API_KEY_HEADER):
        return key
    authorization = headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        return authorization[7:].strip() or None
    return None


def error_body(status: int, code: str, message: str) -> bytes:
    return orjson.dumps(
        {
            "error": {
                "status": status,
                "code": code,
                "message": message,
                "correlation_id": correlation_id.get(),
            }
        }
    )


async def send_error(
    send: Callable[[Any], Awaitable[None]],
    status: int,
    code: str,
    message: str,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    body = error_body(status, code, message)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _headers(scope: MutableMapping[str, Any]) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


class CorrelationMiddleware:
    """Gives every request an id (the client's X-Request-ID when well formed), returns it as a
    header, and logs one access line with it; every log line of the request can read it too."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        offered = _headers(scope).get(REQUEST_ID_HEADER, "")
        request_id = offered if _CLIENT_REQUEST_ID.match(offered) else uuid.uuid4().hex
        token = correlation_id.set(request_id)
        started = time.monotonic()
        status = 0

        async def send_with_id(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message = {
                    **message,
                    "headers": [
                        *message.get("headers", []),
                        (REQUEST_ID_HEADER.encode(), request_id.encode()),
                    ],
                }
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.monotonic() - started
            if scope["type"] == "http":
                REQUESTS.labels(scope.get("method", ""), str(status)).inc()
                REQUEST_SECONDS.observe(elapsed)
            log.info(
                "request",
                extra={
                    "correlation_id": request_id,
                    "method": scope.get("method", "WS"),
                    "path": scope.get("path", ""),
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )
            correlation_id.reset(token)


class RateLimitMiddleware:
    """429 with Retry-After when the client IP, or the API key it presents, is over its rate."""

    def __init__(
        self,
        app: ASGIApp,
        keys: KeyRing,
        per_ip: RateLimiter,
        per_key: RateLimiter,
        prefix: str = "/v1",
    ) -> None:
        self.app = app
        self.keys = keys
        self.per_ip = per_ip
        self.per_key = per_key
        self.prefix = prefix

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
        if scope["type"] not in ("http", "websocket") or not str(scope.get("path", "")).startswith(
            self.prefix
        ):
            await self.app(scope, receive, send)
            return
        client = scope.get("client") or ("unknown", 0)
        wait = self.per_ip.wait_s(f"ip:{client[0]}")
        key = self.keys.find(presented_key(_headers(scope)))
        if key is not None:
            wait = max(wait, self.per_key.wait_s(f"key:{key.digest}"))
        if wait > 0:
            retry_after = str(max(1, math.ceil(wait))).encode()
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1013, "reason": "rate limited"})
                return
            await send_error(send, 429, "rate_limited", "too many requests", [(b"retry-after", retry_after)])
            return
        await self.app(scope, receive, send)
