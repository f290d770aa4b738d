"""Output events of the engine: plain tuples with a kind code and the venue ``seq``.

The matching loop creates about three events per command, so their cost dominates
what is left after the book work: a tuple literal costs ~40 ns where a ``__slots__``
object with an ``__init__`` costs ~170 ns on CPython 3.11 (measured: the whole "mix"
benchmark ran 18% faster).  Each layout below is a fixed-length tuple whose first two
items are always ``(kind, seq)``; the named index constants make reading them explicit.
Wire dictionaries with decimal strings are built only by :func:`.wire.encode_event`,
outside the hot path.

``seq`` is the venue sequence number: consecutive, starting at 1, across all symbols.
"""

from typing import Final

from .book import Order

# Kind codes (item 0).
ORDER: Final = 0
REJECT: Final = 1
TRADE: Final = 2
L2: Final = 3
BBO: Final = 4
SYMBOL: Final = 5
KIND_NAMES: Final = ("order", "order", "trade", "l2", "bbo", "symbol")

KIND: Final = 0
SEQ: Final = 1

OrderEvent = tuple[int, int, Order, str, int | None, int, int, int, str | None]
"""``(ORDER, seq, order, status, price, quantity, filled, remaining, reason)``.

A state change of an accepted order.  ``remaining`` is the open (working) quantity; on
``cancelled``/``expired`` it is 0 and ``quantity - filled`` was cancelled.  ``price``
and ``quantity`` are the order's values at the time of the event (an amend changes
them); the static fields (ids, side, type) are read from ``order``.
"""
ORDER_ORDER: Final = 2
ORDER_STATUS: Final = 3
ORDER_PRICE: Final = 4
ORDER_QUANTITY: Final = 5
ORDER_FILLED: Final = 6
ORDER_REMAINING: Final = 7
ORDER_REASON: Final = 8

RejectEvent = tuple[int, int, str, str, str, str, str]
"""``(REJECT, seq, symbol, account, client_order_id, request, reason)``: a command
refused without changing any state; ``request`` is submit, cancel, amend or ``""``."""
REJECT_SYMBOL: Final = 2
REJECT_ACCOUNT: Final = 3
REJECT_CLIENT_ORDER_ID: Final = 4
REJECT_REQUEST: Final = 5
REJECT_REASON: Final = 6

TradeEvent = tuple[int, int, int, Order, Order, int, int, int, int]
"""``(TRADE, seq, trade_id, maker, taker, price, quantity, maker_fee, taker_fee)``: one
fill at the maker's price; fees are integers of the notional quantum (tick * lot)."""
TRADE_ID: Final = 2
TRADE_MAKER: Final = 3
TRADE_TAKER: Final = 4
TRADE_PRICE: Final = 5
TRADE_QUANTITY: Final = 6
TRADE_MAKER_FEE: Final = 7
TRADE_TAKER_FEE: Final = 8

L2Event = tuple[int, int, str, int, int, int, int]
"""``(L2, seq, symbol, book_side, price, quantity, l2_seq)``: new displayed quantity at
one level (0 = level gone).  ``l2_seq`` numbers L2 deltas per symbol without gaps, so
a consumer of one symbol detects a missed delta although ``seq`` is venue-wide."""
L2_SYMBOL: Final = 2
L2_SIDE: Final = 3
L2_PRICE: Final = 4
L2_QUANTITY: Final = 5
L2_SEQ: Final = 6

BboEvent = tuple[int, int, str, int, int, int, int, int]
"""``(BBO, seq, symbol, bid_price, bid_quantity, ask_price, ask_quantity, l2_seq)``:
top of book after a command changed it; price 0 means that side is empty.  ``l2_seq``
is the last L2 delta the BBO is consistent with."""
BBO_SYMBOL: Final = 2
BBO_BID_PRICE: Final = 3
BBO_BID_QUANTITY: Final = 4
BBO_ASK_PRICE: Final = 5
BBO_ASK_QUANTITY: Final = 6
BBO_L2_SEQ: Final = 7

SymbolEvent = tuple[int, int, str, str, str | None]
"""``(SYMBOL, seq, symbol, status, reason)``: outcome of ``add_symbol`` (added/rejected)."""
SYMBOL_SYMBOL: Final = 2
SYMBOL_STATUS: Final = 3
SYMBOL_REASON: Final = 4

Event = OrderEvent | RejectEvent | TradeEvent | L2Event | BboEvent | SymbolEvent


def event_symbol(event: Event) -> str:
    """The symbol an event belongs to (``""`` for unreadable commands)."""
    kind = event[KIND]
    if kind == ORDER:
        order: Order = event[ORDER_ORDER]  # type: ignore[assignment]
        return order.symbol
    if kind == TRADE:
        taker: Order = event[TRADE_TAKER]  # type: ignore[assignment]
        return taker.symbol
    symbol: str = event[2]  # type: ignore[assignment]
    return symbol
