"""The one process shell: logging, signals, the event loop, and a clean drain on SIGTERM.

Every long-running ``perpwatch run NAME`` goes through ``run_process``: stream services, ingest,
matching, the gateway. The service object owns its work; this shell only starts it, turns
SIGTERM, SIGINT and SIGHUP into ``request_stop()`` (finish the current batch, commit, close),
and logs how long the process ran.
"""

import asyncio
import contextlib
import inspect
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from services.runtime.logs import configure_logging
from services.runtime.settings import Settings

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class Runnable(Protocol):
    async def run(self) -> None: ...

    def request_stop(self) -> None: ...


def run_process(name: str, settings: Settings, build: Callable[[], Runnable | Awaitable[Runnable]]) -> None:
    """Build the service inside the event loop, run it until a stop signal, then return."""
    configure_logging(name, settings.log_level, settings.log_format)

    async def main() -> None:
        built = build()
        service: Runnable = await built if inspect.isawaitable(built) else built
        loop = asyncio.get_running_loop()
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, service.request_stop)
        started = time.monotonic()
        await service.run()
        log.info("exited cleanly", extra={"uptime_s": round(time.monotonic() - started, 1)})

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
