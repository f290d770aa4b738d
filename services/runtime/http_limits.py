"""What an HTTP service refuses before doing any work: bodies over a size, and floods.

Shared by the query API and the venue gateway; each answers in its own error format through the
``refuse`` callable it gives the middleware.

- ``BodyLimitMiddleware``: an ASGI middleware that answers 413 for a body over ``max_bytes``, from
  its ``Content-Length`` before reading, or while counting the chunks of one without; the app never
  parses more than the limit.
- ``TokenBucket`` / ``RateLimiter``: a bucket per client identity (API key, address), ``rate``
  tokens a second up to a burst; idle buckets are forgotten when the table grows, so a flood of new
  identities cannot grow the limiter itself without bound.
"""

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

ASGIApp = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
    Awaitable[None],
]
Send = Callable[[Any], Awaitable[None]]
Refuse = Callable[[Send, int, str, str], Awaitable[None]]
"""``refuse(send, status, code, message)``: the service's own error response."""


class TokenBucket:
    """``rate`` tokens per second up to ``capacity``; the clock is injected for tests."""

    __slots__ = ("capacity", "rate", "tokens", "updated")

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.updated = now

    def take(self, now: float) -> float:
        """0 when a token was taken, else the seconds until one is available."""
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class RateLimiter:
    """One bucket per client identity; idle (full) buckets are forgotten when the table grows."""

    MAX_BUCKETS = 50_000

    def __init__(self, rate: float, burst_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._rate = rate
        self._capacity = max(1.0, rate * burst_s)
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}

    def wait_s(self, identity: str) -> float:
        """0 when ``identity`` may go on now, else the seconds until it may (Retry-After)."""
        now = self._clock()
        bucket = self._buckets.get(identity)
        if bucket is None:
            if len(self._buckets) >= self.MAX_BUCKETS:
                self._forget_idle(now)
            bucket = self._buckets[identity] = TokenBucket(self._rate, self._capacity, now)
        return bucket.take(now)

    def _forget_idle(self, now: float) -> None:
        full_after = self._capacity / self._rate
        self._buckets = {k: b for k, b in self._buckets.items() if now - b.updated < full_after}


class _BodyTooLarge(Exception):
    pass


class BodyLimitMiddleware:
    """413 for a body over ``max_bytes``: from Content-Length before reading, or while counting chunks."""

    def __init__(self, app: ASGIApp, max_bytes: int, refuse: Refuse) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.refuse = refuse

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Send,
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large_message = f"request bodies are limited to {self.max_bytes} bytes"
        length = next(
            (v.decode("latin-1") for k, v in scope.get("headers", []) if k.lower() == b"content-length"), None
        )
        if length is not None and not length.isdigit():
            await self.refuse(send, 400, "bad_request", "Content-Length is not a number")
            return
        if length is not None and int(length) > self.max_bytes:
            await self.refuse(send, 413, "body_too_large", too_large_message)
            return
        received = 0
        too_large = False
        started = False

        async def counting_receive() -> Any:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    too_large = True
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Any) -> None:
            nonlocal started
            if too_large:
                return  # whatever the app made of the aborted read, the answer is 413
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except Exception:
            if not too_large:
                raise
        if too_large and not started:
            await self.refuse(send, 413, "body_too_large", too_large_message)
