"""A deliberately naive single-symbol order book: the oracle for differential tests.

It restates the venue rules in the most direct way possible and shares no code with the
engine: resting orders live in one dict; every fill scans them all for the best maker,
ordered by (price best-first, time stamp).  Time priority is an explicit stamp that an
order gets when it joins the book and again when an iceberg refills or an amend loses
priority.  Slow and obviously right, which is the point.  Stops are not modelled.
"""

from dataclasses import dataclass, field
from itertools import count

BUY, SELL = 0, 1
GTC, IOC, FOK, POST_ONLY = 0, 1, 2, 3
STP_NONE, EXPIRE_TAKER, EXPIRE_MAKER, EXPIRE_BOTH = 0, 1, 2, 3


@dataclass
class RefOrder:
    account: str
    client_order_id: str
    side: int
    price: int | None  # None: market
    quantity: int
    tif: int = GTC
    display: int = 0
    stp: int = STP_NONE
    filled: int = 0
    visible: int = 0
    stamp: int = 0

    @property
    def open(self) -> int:
        return self.quantity - self.filled


@dataclass
class RefOutcome:
    """What one command did: a rejection reason, or order events and trades."""

    rejected: str | None = None
    # (client_order_id, status) in emission order, as the engine emits them.
    order_events: list[tuple[str, str]] = field(default_factory=list)
    # (maker_id, taker_id, price, quantity)
    trades: list[tuple[str, str, int, int]] = field(default_factory=list)


class ReferenceBook:
    def __init__(self, min_qty: int = 1) -> None:
        self.min_qty = min_qty
        self.resting: dict[tuple[str, str], RefOrder] = {}
        self.used: set[tuple[str, str]] = set()
        self._stamps = count(1)

    # Helpers -----------------------------------------------------------------------

    def _crosses(self, taker_side: int, limit: int | None, maker: RefOrder) -> bool:
        assert maker.price is not None
        if limit is None:
            return True
        return maker.price <= limit if taker_side == BUY else maker.price >= limit

    def _makers(self, taker_side: int, limit: int | None) -> list[RefOrder]:
        """Opposite orders the taker may trade with, best first (price, then time)."""
        makers = [
            o for o in self.resting.values() if o.side != taker_side and self._crosses(taker_side, limit, o)
        ]
        sign = 1 if taker_side == BUY else -1
        makers.sort(key=lambda o: (sign * (o.price or 0), o.stamp))
        return makers

    def _would_take(self, side: int, price: int) -> bool:
        return bool(self._makers(side, price))

    def _rest(self, order: RefOrder) -> None:
        order.stamp = next(self._stamps)
        order.visible = min(order.display, order.open) if order.display else order.open
        self.resting[(order.account, order.client_order_id)] = order

    def _fok_fillable(self, taker: RefOrder) -> bool:
        needed = taker.open
        for maker in self._makers(taker.side, taker.price):
            if taker.stp and maker.account == taker.account:
                if taker.stp == EXPIRE_MAKER:
                    continue
                return False
            needed -= maker.open
            if needed <= 0:
                return True
        return False

    def _take(self, taker: RefOrder, out: RefOutcome) -> bool:
        """Match; True when self-trade prevention stopped the taker."""
        while taker.open:
            makers = self._makers(taker.side, taker.price)
            if not makers:
                return False
            maker = makers[0]
            if taker.stp and maker.account == taker.account:
                if taker.stp == EXPIRE_TAKER:
                    return True
                del self.resting[(maker.account, maker.client_order_id)]
                out.order_events.append((maker.client_order_id, "expired"))
                if taker.stp == EXPIRE_BOTH:
                    return True
                continue
            assert maker.price is not None
            quantity = min(taker.open, maker.visible)
            maker.visible -= quantity
            maker.filled += quantity
            taker.filled += quantity
            out.trades.append((maker.client_order_id, taker.client_order_id, maker.price, quantity))
            if maker.open == 0:
                del self.resting[(maker.account, maker.client_order_id)]
                out.order_events.append((maker.client_order_id, "filled"))
            else:
                out.order_events.append((maker.client_order_id, "partially_filled"))
                if maker.visible == 0:
                    maker.visible = min(maker.display, maker.open)
                    maker.stamp = next(self._stamps)
        return False

    def _execute(self, order: RefOrder, out: RefOutcome, filled_before: int) -> None:
        crosses = bool(self._makers(order.side, order.price))
        if order.tif == FOK and not (crosses and self._fok_fillable(order)):
            out.order_events.append((order.client_order_id, "expired"))
            return
        stopped = self._take(order, out) if crosses else False
        if order.open == 0:
            out.order_events.append((order.client_order_id, "filled"))
        elif stopped or order.tif in (IOC, FOK) or order.price is None:
            out.order_events.append((order.client_order_id, "expired"))
        else:
            if order.filled != filled_before:
                out.order_events.append((order.client_order_id, "partially_filled"))
            self._rest(order)

    # Commands ----------------------------------------------------------------------

    def submit(self, order: RefOrder) -> RefOutcome:
        out = RefOutcome()
        key = (order.account, order.client_order_id)
        if key in self.used:
            out.rejected = "duplicate_client_order_id"
            return out
        if order.tif == POST_ONLY and order.price is not None and self._would_take(order.side, order.price):
            out.rejected = "post_only_would_take"
            return out
        self.used.add(key)
        out.order_events.append((order.client_order_id, "accepted"))
        self._execute(order, out, 0)
        return out

    def cancel(self, account: str, client_order_id: str) -> RefOutcome:
        out = RefOutcome()
        order = self.resting.pop((account, client_order_id), None)
        if order is None:
            out.rejected = "unknown_order"
        else:
            out.order_events.append((client_order_id, "cancelled"))
        return out

    def amend(
        self, account: str, client_order_id: str, price: int | None, quantity: int | None
    ) -> RefOutcome:
        out = RefOutcome()
        order = self.resting.get((account, client_order_id))
        if order is None:
            out.rejected = "unknown_order"
            return out
        if price is None and quantity is None:
            out.rejected = "nothing_to_amend"
            return out
        new_price = order.price if price is None else price
        new_quantity = order.quantity if quantity is None else quantity
        assert new_price is not None
        if quantity is not None and quantity < self.min_qty:
            out.rejected = "quantity_below_minimum"
            return out
        if quantity is not None and quantity <= order.filled:
            out.rejected = "quantity_not_above_filled"
            return out
        if new_price == order.price and new_quantity == order.quantity:
            out.rejected = "amend_no_change"
            return out
        if new_price == order.price and new_quantity < order.quantity:
            order.quantity = new_quantity
            order.visible = min(order.visible, order.open)
            out.order_events.append((client_order_id, "amended"))
            return out
        if order.tif == POST_ONLY and self._would_take(order.side, new_price):
            out.rejected = "post_only_would_take"
            return out
        del self.resting[(account, client_order_id)]
        order.price = new_price
        order.quantity = new_quantity
        out.order_events.append((client_order_id, "amended"))
        self._execute(order, out, order.filled)
        return out

    def queues(self) -> dict[int, list[tuple[int, list[tuple[str, str, int, int]]]]]:
        """Per side: levels best first, each with its queue of (account, id, visible, open)."""
        result: dict[int, list[tuple[int, list[tuple[str, str, int, int]]]]] = {}
        for side in (BUY, SELL):
            orders = sorted(
                (o for o in self.resting.values() if o.side == side),
                key=lambda o: ((-(o.price or 0) if side == BUY else (o.price or 0)), o.stamp),
            )
            levels: list[tuple[int, list[tuple[str, str, int, int]]]] = []
            for o in orders:
                assert o.price is not None
                if not levels or levels[-1][0] != o.price:
                    levels.append((o.price, []))
                levels[-1][1].append((o.account, o.client_order_id, o.visible, o.open))
            result[side] = levels
        return result
