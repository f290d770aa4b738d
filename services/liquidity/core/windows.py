"""Trailing event-time windows: taker flow over trades, and the book update rate.

Both answer for the window ``(t - width, t]`` of exchange time, whatever has arrived after ``t``:
a sample's trade flow must not depend on how far the trade stream has run ahead of the book
stream when the sample is finalized (see ``engine.py``).
"""

from bisect import bisect_right, insort
from collections import deque
from dataclasses import dataclass
from decimal import Decimal

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class TradeFlow:
    """Taker volume in a window, per aggressor side."""

    buy_base: Decimal
    sell_base: Decimal
    buy_notional: Decimal
    sell_notional: Decimal
    trades: int

    @property
    def net_base(self) -> Decimal:
        return self.buy_base - self.sell_base

    @property
    def imbalance(self) -> float | None:
        """(buy - sell) / (buy + sell) taker base volume, in [-1, 1]; None without trades."""
        total = self.buy_base + self.sell_base
        if total == 0:
            return None
        return float((self.buy_base - self.sell_base) / total)


class TradeWindow:
    """Trades kept in exchange-time order with running sums, so any window is two bisections.

    The running sums are cumulative from the oldest kept trade (index 0 holds zeros); ``trim``
    drops trades no future window can reach and re-bases the sums.
    """

    def __init__(self) -> None:
        self._ts: list[int] = []
        # Cumulative (buy_base, sell_base, buy_notional, sell_notional, trades); entry i covers trades < i.
        self._cum: list[tuple[Decimal, Decimal, Decimal, Decimal, int]] = [(_ZERO, _ZERO, _ZERO, _ZERO, 0)]
        self._rows: list[tuple[bool, Decimal, Decimal]] = []
        self.watermark: int | None = None
        """Latest trade time seen."""

    def __len__(self) -> int:
        return len(self._ts)

    def add(self, ts: int, buy: bool, base: Decimal, notional: Decimal) -> None:
        if self.watermark is None or ts >= self.watermark:
            self.watermark = ts
            self._ts.append(ts)
            self._rows.append((buy, base, notional))
            self._cum.append(_plus(self._cum[-1], buy, base, notional))
            return
        # A late trade (rare): put it in time order and rebuild the sums after it.
        position = bisect_right(self._ts, ts)
        insort(self._ts, ts)
        self._rows.insert(position, (buy, base, notional))
        del self._cum[position + 1 :]
        for row in self._rows[position:]:
            self._cum.append(_plus(self._cum[-1], *row))

    def flow(self, since_exclusive: int, until_inclusive: int) -> TradeFlow:
        lo = bisect_right(self._ts, since_exclusive)
        hi = bisect_right(self._ts, until_inclusive)
        if hi <= lo:
            return TradeFlow(_ZERO, _ZERO, _ZERO, _ZERO, 0)
        a, b = self._cum[lo], self._cum[hi]
        return TradeFlow(b[0] - a[0], b[1] - a[1], b[2] - a[2], b[3] - a[3], b[4] - a[4])

    def trim(self, before_inclusive: int) -> None:
        """Forget trades at or before this time (no window still to be asked reaches them).

        Re-basing the sums costs a pass over what is kept: callers trim now and then, not per trade.
        """
        cut = bisect_right(self._ts, before_inclusive)
        if cut == 0:
            return
        del self._ts[:cut]
        del self._rows[:cut]
        self._cum = [(_ZERO, _ZERO, _ZERO, _ZERO, 0)]
        for row in self._rows:
            self._cum.append(_plus(self._cum[-1], *row))


def _plus(
    total: tuple[Decimal, Decimal, Decimal, Decimal, int], buy: bool, base: Decimal, notional: Decimal
) -> tuple[Decimal, Decimal, Decimal, Decimal, int]:
    if buy:
        return (total[0] + base, total[1], total[2] + notional, total[3], total[4] + 1)
    return (total[0], total[1] + base, total[2], total[3] + notional, total[4] + 1)


class UpdateRate:
    """Book messages per second over the trailing window; books arrive in time order."""

    def __init__(self, width_ns: int) -> None:
        self.width_ns = width_ns
        self._times: deque[int] = deque()

    def add(self, ts: int) -> None:
        self._times.append(ts)

    def per_second(self, now: int) -> float:
        times = self._times
        floor = now - self.width_ns
        while times and times[0] <= floor:
            times.popleft()
        return len(times) / (self.width_ns / 1e9)
