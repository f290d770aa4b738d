"""What the gateway refuses before doing any work: oversized bodies, floods, and echoing input back.

- ``refuse``: the gateway's answer for the shared body limit (``services/runtime/http_limits.py``:
  413 from ``Content-Length`` or as soon as the bytes received pass the limit; nothing is parsed).
- ``take``: one request against a shared ``RateLimiter`` (per API key, per client address), and
  ``RateLimited`` for the 429 with ``Retry-After``.
- ``validation_problem``: a 422 that says where and what, never the input (a 10 MB body once came
  back four times in a 42 MB answer, and a JSON ``1e400`` made the error renderer fail with 500).
"""

import math
from typing import Any

import orjson
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from services.runtime.http_limits import RateLimiter, Send


async def refuse(send: Send, status: int, code: str, message: str) -> None:
    """The gateway's error format for what the shared body limit refuses: ``{"detail": ...}``."""
    body = orjson.dumps({"detail": message})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RateLimited(Exception):
    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"rate limited, retry in {retry_after_s:.1f} s")
        self.retry_after_s = retry_after_s


def take(limiter: RateLimiter, name: str) -> None:
    """Spend one of ``name``'s requests, or raise ``RateLimited`` with the wait (a 429)."""
    wait_s = limiter.wait_s(name)
    if wait_s:
        raise RateLimited(wait_s)


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
