"""A token bucket per venue for REST calls, which a Retry-After answer can also pause."""

import asyncio
import time
from collections.abc import Callable

from services.ingest.venue import RateLimit


class TokenBucket:
    def __init__(self, limit: RateLimit, *, clock: Callable[[], float] = time.monotonic) -> None:
        if limit.capacity <= 0 or limit.per_second <= 0:
            raise ValueError(f"rate limit must be positive: {limit}")
        self.capacity = float(limit.capacity)
        self.per_second = float(limit.per_second)
        self._clock = clock
        self._tokens = self.capacity
        self._updated = clock()
        self._paused_until = 0.0
        # One waiter at a time, so that a heavy request is not starved by a stream of light ones.
        self._lock = asyncio.Lock()

    def _refill(self, now: float) -> None:
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.per_second)
        self._updated = now

    def wait_time(self, weight: float) -> float:
        """Seconds until ``weight`` tokens are available (0 when they are there now)."""
        now = self._clock()
        self._refill(now)
        weight = min(weight, self.capacity)
        pause = max(0.0, self._paused_until - now)
        shortfall = max(0.0, weight - self._tokens) / self.per_second
        return max(pause, shortfall)

    async def acquire(self, weight: float = 1) -> float:
        """Take ``weight`` tokens, waiting as long as needed; returns the seconds waited."""
        waited = 0.0
        async with self._lock:
            while (delay := self.wait_time(weight)) > 0:
                await asyncio.sleep(delay)
                waited += delay
            self._tokens -= min(weight, self.capacity)
        return waited

    def pause(self, seconds: float) -> None:
        """Take nothing for ``seconds`` (a 429/418 Retry-After), and start again from empty."""
        now = self._clock()
        self._paused_until = max(self._paused_until, now + seconds)
        self._tokens = 0.0
        self._updated = max(self._updated, now)

    @property
    def paused_for(self) -> float:
        return max(0.0, self._paused_until - self._clock())
