"""What the gateway refuses before doing any work: oversized bodies, floods, and echoing input back.

- ``BodySizeLimit``: an ASGI middleware that answers 413 for a body over the limit, from its
  ``Content-Length`` or, without one, as soon as the bytes received pass it; nothing is parsed.
- ``RateLimiter``: token buckets per API key and per client address, 429 with ``Retry-After``.
- ``validation_problem``: a 422 that says where and what, never the input (a 10 MB body once came
  back four times in a 42 MB answer, and a JSON ``1e400`` made the error renderer fail with 500).
"""

import math
import time
from collections import OrderedDict
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Buckets remembered at most (least recently used go first): a flood of new addresses or keys
# must not grow the limiter itself without bound.
MAX_BUCKETS = 10_000


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await _too_large(self.max_bytes, send)
                return
        received = 0
        started = refused = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Answer now; the app sees a client that went away and whatever it then
                    # tries to send is dropped.
                    refused = True
                    if not started:
                        await _too_large(self.max_bytes, send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counting_receive, guarded_send)


async def _too_large(limit: int, send: Send) -> None:
    body = f'{{"detail":"request body larger than {limit} bytes"}}'.encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RateLimited(Exception):
    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"rate limited, retry in {retry_after_s:.1f} s")
        self.retry_after_s = retry_after_s


class RateLimiter:
    """A token bucket per name: ``burst`` requests at once, then ``per_s`` a second."""

    def __init__(self, per_s: float, burst: int) -> None:
        self.per_s = per_s
        self.burst = burst
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, name: str) -> None:
        """Spend one token of ``name``'s bucket, or raise ``RateLimited`` with the wait."""
        now = time.monotonic()
        tokens, at = self._buckets.pop(name, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.per_s)
        if tokens < 1.0:
            self._buckets[name] = (tokens, now)
            raise RateLimited((1.0 - tokens) / self.per_s)
        self._buckets[name] = (tokens - 1.0, now)
        while len(self._buckets) > MAX_BUCKETS:
            self._buckets.popitem(last=False)


def rate_limited_response(exc: RateLimited) -> JSONResponse:
    return JSONResponse(
        {"detail": "too many requests"},
        status_code=429,
        headers={"Retry-After": str(max(1, math.ceil(exc.retry_after_s)))},
    )


async def validation_problem(request: Request, exc: Exception) -> JSONResponse:
    """422 with where and what of each error (at most ten), and none of the input."""
    assert isinstance(exc, RequestValidationError)
    errors: list[dict[str, Any]] = [
        {
            "loc": list(error.get("loc", ())),
            "msg": str(error.get("msg", ""))[:200],
            "type": error.get("type", ""),
        }
        for error in exc.errors()[:10]
    ]
    return JSONResponse({"detail": errors}, status_code=422)
