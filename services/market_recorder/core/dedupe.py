"""Trade ids seen recently, per instrument, in bounded memory.

Bitget and Phemex resend their recent trades on every resubscribe, and a replayed batch
delivers trades again: a trade id already written is skipped here before it costs a row.
The database key stays the final guard (a restart forgets what this remembered).
"""

from collections import deque


class RecentTradeIds:
    def __init__(self, per_instrument: int = 10_000) -> None:
        if per_instrument < 1:
            raise ValueError("per_instrument must be at least 1")
        self._capacity = per_instrument
        self._seen: dict[str, set[str]] = {}
        self._order: dict[str, deque[str]] = {}

    def first_time(self, instrument: str, trade_id: str) -> bool:
        """True the first time this id is seen for this instrument (within the window)."""
        seen = self._seen.get(instrument)
        if seen is None:
            seen = self._seen[instrument] = set()
            self._order[instrument] = deque()
        if trade_id in seen:
            return False
        order = self._order[instrument]
        if len(order) >= self._capacity:
            seen.discard(order.popleft())
        seen.add(trade_id)
        order.append(trade_id)
        return True

    def forget(self, instruments: set[str]) -> None:
        for instrument in instruments:
            self._seen.pop(instrument, None)
            self._order.pop(instrument, None)
