"""Reconnect delays: exponential, jittered, capped, and forgiven after a healthy connection.

Jitter spreads the reconnects of many connections (or many pods) that lost a venue at the same
moment, so that they do not all come back in the same millisecond and get rate limited together.
"""

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    initial_s: float = 0.5
    cap_s: float = 30.0
    factor: float = 2.0
    healthy_after_s: float = 30.0
    """A connection that stayed up this long was healthy: the next delay starts from scratch."""
    rng: random.Random = field(default_factory=random.Random)
    failures: int = 0

    def delay_after(self, uptime_s: float) -> float:
        """The delay before the next attempt, for a connection that lived ``uptime_s`` seconds."""
        if uptime_s >= self.healthy_after_s:
            self.failures = 0
        ceiling = min(self.cap_s, self.initial_s * self.factor**self.failures)
        self.failures += 1
        # "Equal jitter": never less than half the exponential delay, never more than the cap.
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)

    def reset(self) -> None:
        self.failures = 0
