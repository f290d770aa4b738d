"""Liquidation and large-trade flow: per-side event-time windows, and the large-trade test.

Windows are cut by exchange time and closed by the instrument's own later events of the same
kind (after the grace period), so they are deterministic per input partition. Liquidation feeds
are sparse: a window closes only when a later liquidation of that instrument arrives. Windows
without events are never emitted. Cross-venue sums are a SQL view over the per-venue rows: venues
live on different partitions, and summing them in a consumer would depend on arrival order.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

ZERO = Decimal(0)

# Quote currencies whose notional counts as USD for thresholds and the notional_usd column.
USD_QUOTES = frozenset({"USD", "USDT", "USDC", "FDUSD", "BUSD", "TUSD", "USDE", "DAI"})


def usd_notional(symbol: str, notional: Decimal) -> Decimal | None:
    """The USD notional of an event on a canonical BASE-QUOTE-PERP symbol, when the quote is USD-like.

    Inverse (COIN-M) contracts are quoted in USD and the normalizers already turned contracts into
    base units and USD notional, so no contract size is needed here.
    """
    parts = symbol.split("-")
    return notional if len(parts) >= 2 and parts[1] in USD_QUOTES else None


@dataclass(slots=True)
class FlowAggregate:
    window_ns: int
    start_ns: int
    side: str
    count: int = 0
    quantity: Decimal = ZERO
    notional: Decimal = ZERO

    @property
    def close_ns(self) -> int:
        return self.start_ns + self.window_ns


class FlowWindows:
    """Per-side windows of one instrument and one kind (liquidations, or large trades)."""

    def __init__(self, windows_ns: Iterable[int], *, grace_ns: int) -> None:
        self.windows_ns = tuple(sorted(set(windows_ns)))
        if not self.windows_ns or self.windows_ns[0] <= 0:
            raise ValueError("flow windows must be positive")
        self.grace_ns = grace_ns
        self.watermark: int | None = None
        self.open: dict[tuple[int, int, str], FlowAggregate] = {}
        self.closed_through: dict[int, int] = {}  # window length -> end of the last closed window
        self.late = 0

    def add(
        self, ts: int, side: str, quantity: Decimal, notional: Decimal
    ) -> tuple[list[FlowAggregate], bool]:
        """Count one event; returns the windows it closed, and False when it was too late to count."""
        shortest = self.windows_ns[0]
        if ts - ts % shortest + shortest <= self.closed_through.get(shortest, -1):
            self.late += 1
            return [], False
        for window in self.windows_ns:
            start = ts - ts % window
            key = (window, start, side)
            agg = self.open.get(key)
            if agg is None:
                agg = self.open[key] = FlowAggregate(window, start, side)
            agg.count += 1
            agg.quantity += quantity
            agg.notional += notional
        if self.watermark is None or ts > self.watermark:
            self.watermark = ts
        return self._close_due(), True

    def _close_due(self) -> list[FlowAggregate]:
        assert self.watermark is not None
        cutoff = self.watermark - self.grace_ns
        due = sorted(key for key, agg in self.open.items() if agg.close_ns <= cutoff)
        closed = [self.open.pop(key) for key in due]
        for agg in closed:
            if agg.close_ns > self.closed_through.get(agg.window_ns, -1):
                self.closed_through[agg.window_ns] = agg.close_ns
        return closed

    def to_state(self) -> dict[str, Any]:
        return {
            "watermark": self.watermark,
            "open": [
                [a.window_ns, a.start_ns, a.side, a.count, str(a.quantity), str(a.notional)]
                for a in self.open.values()
            ],
            "closed_through": [[w, end] for w, end in self.closed_through.items()],
            "late": self.late,
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        self.watermark = state["watermark"]
        self.open = {}
        for window, start, side, count, quantity, notional in state["open"]:
            agg = FlowAggregate(
                int(window), int(start), str(side), int(count), Decimal(quantity), Decimal(notional)
            )
            self.open[(agg.window_ns, agg.start_ns, agg.side)] = agg
        self.closed_through = {int(w): int(end) for w, end in state["closed_through"]}
        self.late = int(state["late"])


def large_trade_threshold(symbol: str, thresholds: Mapping[str, Decimal], default: Decimal) -> Decimal:
    return thresholds.get(symbol, default)
