"""The market-recorder's duplicate-trade window stops growing once it is full.

The 30-minute soak (reports/system.md) ended about when this window filled (26 instruments,
10,000 ids each, ~6 trades/s each), so its RSS was still rising; this shows what comes after:
memory flat while trades keep coming.
"""

import tracemalloc

from services.market_recorder.core.dedupe import RecentTradeIds

INSTRUMENTS = [f"venue:SYM{i}-USDT-PERP" for i in range(26)]
WINDOW = 2_000


def _feed(window: RecentTradeIds, start: int, count: int) -> None:
    for n in range(start, start + count):
        for instrument in INSTRUMENTS:
            assert window.first_time(instrument, f"{n:012d}")


def test_memory_is_flat_once_the_window_is_full() -> None:
    window = RecentTradeIds(per_instrument=WINDOW)
    tracemalloc.start()
    try:
        _feed(window, 0, WINDOW)  # warm-up: the window fills
        full = tracemalloc.get_traced_memory()[0]
        _feed(window, WINDOW, 5 * WINDOW)  # five more windows' worth of new trades
        later = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert later <= full * 1.05, f"{full / 1e6:.1f} MB when full, {later / 1e6:.1f} MB after 5x more"


def test_an_id_outside_the_window_counts_as_new_again() -> None:
    window = RecentTradeIds(per_instrument=3)
    for trade_id in "abcd":
        assert window.first_time("x", trade_id)
    assert not window.first_time("x", "d")
    assert window.first_time("x", "a")  # evicted when "d" came in
