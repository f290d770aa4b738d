"""REST calls to a venue: rate limited per venue, patient with 418/429, retried on 5xx.

The HTTP exchange itself is ``urllib`` in a worker thread: REST traffic here is a handful of
snapshots and polls, so the standard library is enough and the project needs no HTTP client.
A 418/429 answer pauses the whole venue bucket for its Retry-After, which is what stops a
re-snapshot storm from turning a rate limit into an IP ban.
"""

import asyncio
import email.utils
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import orjson

from schemas.common import ExchangeId
from services.ingest.connector.backoff import Backoff
from services.ingest.connector.metrics import RATE_LIMITED, REST_REQUESTS
from services.ingest.connector.rate_limit import TokenBucket
from services.ingest.venue import RateLimit, RestRequest

log = logging.getLogger(__name__)

# When a 418/429 carries no usable Retry-After, wait at least this long.
DEFAULT_RETRY_AFTER_S = 1.0
MAX_RETRY_AFTER_S = 600.0

RateLimitedCallback = Callable[[int, float, str], Awaitable[None]]
"""Called with (HTTP status, seconds paused, path) on every 418/429."""


class RestError(Exception):
    def __init__(self, message: str, status: int = 0, body: bytes = b"") -> None:
        super().__init__(message)
        self.status = status
        self.body = body


@dataclass(frozen=True)
class RestResponse:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    received_ns: int = 0


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date (RFC 9110)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    return min(MAX_RETRY_AFTER_S, max(0.0, seconds))


def _blocking_call(url: str, request: RestRequest, timeout_s: float) -> RestResponse:
    data = None
    headers = {"Accept": "application/json", "User-Agent": "perpwatch-ingest"}
    if request.method != "GET" and request.params:
        # POST APIs take JSON bodies (Hyperliquid's /info {"type": "meta"}).
        data = orjson.dumps(request.params)
        headers["Content-Type"] = "application/json"
    http_request = urllib.request.Request(url, data=data, method=request.method, headers=headers)
    try:
        with urllib.request.urlopen(http_request, timeout=timeout_s) as answer:
            body = answer.read()
            return RestResponse(answer.status, body, dict(answer.headers.items()), time.time_ns())
    except urllib.error.HTTPError as exc:  # a non-2xx answer is still an answer
        body = exc.read() if exc.fp is not None else b""
        return RestResponse(exc.code, body, dict(exc.headers.items()) if exc.headers else {}, time.time_ns())


class RestClient:
    def __init__(
        self,
        exchange: ExchangeId,
        base_url: str,
        limit: RateLimit,
        *,
        timeout_s: float = 10.0,
        max_attempts: int = 5,
        on_rate_limited: RateLimitedCallback | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.exchange = exchange
        self.base_url = base_url.rstrip("/")
        self.bucket = TokenBucket(limit)
        self._timeout_s = timeout_s
        self._max_attempts = max_attempts
        self._on_rate_limited = on_rate_limited
        self._backoff = backoff or Backoff(initial_s=0.5, cap_s=10.0)
        self.calls = 0

    def url_of(self, request: RestRequest) -> str:
        url = f"{self.base_url}{request.path}"
        if request.method == "GET" and request.params:
            url += "?" + urllib.parse.urlencode(request.params)
        return url

    async def call(self, request: RestRequest) -> RestResponse:
        """The first 2xx answer; raises ``RestError`` on a 4xx or when every attempt failed."""
        url = self.url_of(request)
        last_error = ""
        for _attempt in range(self._max_attempts):
            await self.bucket.acquire(request.weight)
            self.calls += 1
            try:
                response = await asyncio.to_thread(_blocking_call, url, request, self._timeout_s)
            except (OSError, urllib.error.URLError, TimeoutError) as exc:
                REST_REQUESTS.labels(self.exchange.value, "0").inc()
                last_error = f"{type(exc).__name__}: {exc}"
                await asyncio.sleep(self._backoff.delay_after(0))
                continue
            REST_REQUESTS.labels(self.exchange.value, str(response.status)).inc()
            if response.status in (418, 429):
                pause = parse_retry_after(response.headers.get("Retry-After")) or DEFAULT_RETRY_AFTER_S
                self.bucket.pause(pause)
                RATE_LIMITED.labels(self.exchange.value).inc()
                log.warning(
                    "rate limited",
                    extra={"exchange": self.exchange.value, "status": response.status, "pause_s": pause},
                )
                if self._on_rate_limited is not None:
                    await self._on_rate_limited(response.status, pause, request.path)
                last_error = f"HTTP {response.status}"
                continue
            if response.status >= 500:
                last_error = f"HTTP {response.status}"
                await asyncio.sleep(self._backoff.delay_after(0))
                continue
            if response.status >= 400:
                raise RestError(
                    f"{request.method} {request.path}: HTTP {response.status}: {response.body[:300]!r}",
                    response.status,
                    response.body,
                )
            self._backoff.reset()
            return response
        raise RestError(
            f"{request.method} {request.path}: gave up after {self._max_attempts} attempts ({last_error})"
        )
