"""A tiny HTTP/1.1 server on asyncio for the simulator's REST and control endpoints.

One request per connection (``Connection: close``), bodies by Content-Length, loopback only by
default: enough for snapshot and token calls, and no web framework to install.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable

from services.simulator.dialect import HttpReply, HttpRequest

log = logging.getLogger(__name__)

Handler = Callable[[HttpRequest], Awaitable[HttpReply]]

_REASONS = {
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    418: "I'm a teapot",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
MAX_BODY_BYTES = 1 << 20


class HttpServer:
    def __init__(self, handler: Handler, host: str = "127.0.0.1", port: int = 0) -> None:
        self._handler = handler
        self._host = host
        self._port = port
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            return self._port
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, host=self._host, port=self._port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(_read_request(reader), timeout=5)
            if request is None:
                return
            try:
                reply = await self._handler(request)
            except Exception:
                log.exception("simulator HTTP handler failed", extra={"path": request.path})
                reply = HttpReply.json({"error": "internal error"}, 500)
            head = [f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, 'Status')}"]
            headers = {"Content-Type": "application/json", **reply.headers}
            headers["Content-Length"] = str(len(reply.body))
            headers["Connection"] = "close"
            head.extend(f"{name}: {value}" for name, value in headers.items())
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + reply.body)
            await writer.drain()
        except (TimeoutError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()


async def _read_request(reader: asyncio.StreamReader) -> HttpRequest | None:
    request_line = (await reader.readline()).decode("latin-1").strip()
    if not request_line:
        return None
    method, target, *_ = request_line.split(" ")
    headers: dict[str, str] = {}
    while True:
        line = (await reader.readline()).decode("latin-1")
        if line in ("\r\n", "\n", ""):
            break
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = min(int(headers.get("content-length", "0") or 0), MAX_BODY_BYTES)
    body = await reader.readexactly(length) if length else b""
    return HttpRequest.parse_target(method, target, body, headers)
