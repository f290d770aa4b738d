"""The matching engine: one synchronous ``process(command) -> list[event]`` entry point.

Design (see also :mod:`.book` for the data layout and :mod:`.events` for the events):

* **Single writer, no I/O, no clock.**  All state changes happen inside :meth:`process`;
  the same command sequence always yields the same events and the same state hash, so
  a Kafka command log plus a snapshot is a complete recovery story.  Not thread-safe:
  a shell must drive it from one task.
* **Integers only.**  Prices are ticks, quantities lots, fees notional quanta
  (``tick_size * lot_size``), fee rates hundredths of a basis point.
* **Price-time priority with trade-through protection.**  An aggressor always takes
  the best opposite level first and, within it, the oldest order; it moves to a worse
  level only when the better one is exhausted, so no fill ever prints at a worse price
  than an order left resting.  Fills print at the maker's price.
* **Every command produces at least one event**, each with the next venue ``seq``.
  Market data is coalesced per command: one L2 delta per price level whose displayed
  quantity changed (bids first, then asks, each in order of first change), then one
  BBO if the top of book changed.
* **Stops** trigger on trade prints at the venue (buy: trade price >= stop, sell:
  trade price <= stop).  Triggered stops are queued in the order the trade sequence
  met their condition (per traded price level: buy stops by ascending stop price, then
  sell stops by descending stop price, ties by acceptance) and activated one at a time
  after the current order finished matching; their own trades may queue more stops
  (breadth-first cascade), all within the same command.

The hot path (submit, cancel, match, rest, publish) trades some repetition for fewer
Python calls and attribute loads; each call costs ~80 ns on CPython 3.11.  The two
most common commands take a shorter path: a plain limit (GTC/IOC, no stop, iceberg,
self-trade prevention or price band) skips the full validation, and if it is GTC and
does not cross it rests without the touched-level bookkeeping; a cancel of a resting
order likewise changes one level.  Both emit that level's L2 delta directly and a BBO
only when the level is the top of its side: elsewhere the top did not change, and
``book.bbo`` always equals the top between commands.  ``tests/matching/test_fast_paths.py``
checks them against the general path.
"""

from bisect import bisect_left, insort
from collections import deque
from collections.abc import Mapping
from types import MappingProxyType

from . import reasons
from .book import Order, OrderBook, PriceLevel
from .commands import AddSymbol, AmendOrder, CancelOrder, Command, InvalidCommand, SubmitOrder
from .constants import (
    ACCEPTED,
    AMENDED,
    BUY,
    CANCELLED,
    CLIENT_ID_WINDOW,
    EXPIRE_BOTH,
    EXPIRE_MAKER,
    EXPIRE_TAKER,
    EXPIRED,
    FEE_RATE_DENOMINATOR,
    FILLED,
    FOK,
    GTC,
    IOC,
    LIMIT,
    MARKET,
    MAX_UNITS,
    PARTIALLY_FILLED,
    POST_ONLY,
    SELL,
    STOP_LIMIT,
    STOP_MARKET,
    STP_NONE,
    TRIGGERED,
)
from .events import BBO, L2, ORDER, REJECT, SYMBOL, TRADE, Event
from .snapshot import (
    SNAPSHOT_FORMAT,
    order_from_plain,
    plain_dict,
    plain_int,
    plain_list,
    plain_str,
    snapshot_hash,
)
from .symbols import SymbolSpec


class MatchingEngine:
    """Deterministic multi-symbol matching engine (pure core)."""

    __slots__ = (
        "_books",
        "_id_window",
        "_live",
        "_next_order_id",
        "_next_trade_id",
        "_seq",
        "_specs",
        "_triggered",
        "_used_ids",
        "_used_order",
    )

    def __init__(self, *, client_id_window: int = CLIENT_ID_WINDOW) -> None:
        if client_id_window < 1:
            raise ValueError("client_id_window must be at least 1")
        self._seq = 0
        self._next_order_id = 1
        self._next_trade_id = 1
        self._books: dict[str, OrderBook] = {}
        self._specs: dict[str, SymbolSpec] = {}
        # (account, client_order_id) -> accepted order that is still working.
        self._live: dict[tuple[str, str], Order] = {}
        # The last ``client_id_window`` (account, client_order_id) accepted, oldest first in
        # ``_used_order``: a submit reusing one of them, or the id of a working order however
        # old, is a duplicate. A window, not every id ever seen, so memory stays bounded.
        self._used_ids: set[tuple[str, str]] = set()
        self._used_order: deque[tuple[str, str]] = deque()
        self._id_window = client_id_window
        # Stops triggered by the command in flight, waiting to be activated.
        self._triggered: deque[Order] = deque()

    # Queries -------------------------------------------------------------------------

    @property
    def seq(self) -> int:
        """Sequence number of the last event produced (0 before any)."""
        return self._seq

    @property
    def symbols(self) -> Mapping[str, SymbolSpec]:
        """Configured symbols (read-only view, kept current); the wire codec needs it."""
        return MappingProxyType(self._specs)

    def book(self, symbol: str) -> OrderBook | None:
        return self._books.get(symbol)

    def order(self, account: str, client_order_id: str) -> Order | None:
        """A working (resting or untriggered stop) order, if any."""
        return self._live.get((account, client_order_id))

    def live_orders(self) -> list[Order]:
        return list(self._live.values())

    # Entry point ---------------------------------------------------------------------

    def process(self, command: Command) -> list[Event]:
        """Apply one command; return its events in order, each carrying its ``seq``."""
        events: list[Event] = []
        if type(command) is SubmitOrder:
            self._submit(command, events)
        elif type(command) is CancelOrder:
            self._cancel(command, events)
        elif type(command) is AmendOrder:
            self._amend(command, events)
        elif type(command) is AddSymbol:
            self._add_symbol(command, events)
        elif type(command) is InvalidCommand:
            seq = self._seq = self._seq + 1
            if command.request == "add_symbol":
                events.append((SYMBOL, seq, command.symbol, "rejected", command.reason))
            else:
                events.append(
                    (
                        REJECT,
                        seq,
                        command.symbol,
                        command.account,
                        command.client_order_id,
                        command.request,
                        command.reason,
                    )
                )
        else:
            self._seq += 1
            events.append((REJECT, self._seq, "", "", "", "", reasons.UNKNOWN_COMMAND_TYPE))
        return events

    # Commands ------------------------------------------------------------------------

    def _add_symbol(self, command: AddSymbol, events: list[Event]) -> None:
        spec = command.spec
        seq = self._seq = self._seq + 1
        if spec.symbol in self._books:
            events.append((SYMBOL, seq, spec.symbol, "rejected", reasons.DUPLICATE_SYMBOL))
        elif spec.problems():
            events.append((SYMBOL, seq, spec.symbol, "rejected", reasons.INVALID_SYMBOL_CONFIG))
        else:
            self._books[spec.symbol] = OrderBook(spec)
            self._specs[spec.symbol] = spec
            events.append((SYMBOL, seq, spec.symbol, "added", None))

    def _reject(
        self, command: SubmitOrder | CancelOrder | AmendOrder, request: str, reason: str, events: list[Event]
    ) -> None:
        seq = self._seq = self._seq + 1
        events.append(
            (REJECT, seq, command.symbol, command.account, command.client_order_id, request, reason)
        )

    def _submit(self, command: SubmitOrder, events: list[Event]) -> None:
        book = self._books.get(command.symbol)
        if book is None:
            self._reject(command, "submit", reasons.UNKNOWN_SYMBOL, events)
            return
        key = (command.account, command.client_order_id)
        used_ids = self._used_ids
        live = self._live
        if key in used_ids or key in live:
            self._reject(command, "submit", reasons.DUPLICATE_CLIENT_ORDER_ID, events)
            return
        side = command.side
        price = command.price
        quantity = command.quantity
        tif = command.tif
        spec = book.spec
        # A plain GTC/IOC limit, the bulk of any flow, passes exactly these of
        # _check_submit's rules; any other order gets the full check and its first reason.
        plain = (
            command.order_type == LIMIT
            and tif in (GTC, IOC)
            and side in (BUY, SELL)
            and price is not None
            and 0 < price <= MAX_UNITS
            and spec.min_qty <= quantity <= MAX_UNITS
            and command.stop_price is None
            and command.display_quantity is None
            and command.stp == STP_NONE
            and spec.price_band_bps is None
        )
        if not plain:
            reason = self._check_submit(book, command)
            if reason is not None:
                self._reject(command, "submit", reason, events)
                return
        order_id = self._next_order_id
        self._next_order_id = order_id + 1
        order = Order(order_id, command)
        used_ids.add(key)
        used_order = self._used_order
        used_order.append(key)
        if len(used_order) > self._id_window:
            used_ids.discard(used_order.popleft())
        live[key] = order
        seq = self._seq = self._seq + 1
        events.append((ORDER, seq, order, ACCEPTED, price, quantity, 0, quantity, None))
        if plain and tif == GTC:
            assert price is not None
            if side == BUY:
                opposite, levels, keys, book_key = book.ask_keys, book.bids, book.bid_keys, price
                rests = not opposite or -opposite[-1] > price
            else:
                opposite, levels, keys, book_key = book.bid_keys, book.asks, book.ask_keys, -price
                rests = not opposite or opposite[-1] < price
            if rests:
                # What _execute then _publish do for a plain limit that does not cross,
                # without the touched-level bookkeeping: rest it whole, one L2 delta and,
                # only if it is now the top of its side, the BBO (below the top, the top is
                # unchanged and so still equal to ``book.bbo``, published after the last
                # command).
                order.visible = quantity
                level = levels.get(price)
                if level is None:
                    level = levels[price] = PriceLevel(price)
                    if not keys or book_key > keys[-1]:
                        keys.append(book_key)
                    else:
                        insort(keys, book_key)
                level.orders[order_id] = order
                visible = level.visible = level.visible + quantity
                l2_seq = book.l2_seq = book.l2_seq + 1
                seq = self._seq = seq + 1
                events.append((L2, seq, book.symbol, side, price, visible, l2_seq))
                if book_key == keys[-1]:
                    self._publish_bbo(book, events)
                return
        elif order.stop_price is not None:
            self._park_stop(book, order)
            return
        self._execute(book, order, events)
        if self._triggered:
            self._activate_triggered(book, events)
        self._publish(book, events)

    def _cancel(self, command: CancelOrder, events: list[Event]) -> None:
        book = self._books.get(command.symbol)
        if book is None:
            self._reject(command, "cancel", reasons.UNKNOWN_SYMBOL, events)
            return
        key = (command.account, command.client_order_id)
        live = self._live
        order = live.get(key)
        if order is None or order.symbol != command.symbol:
            self._reject(command, "cancel", reasons.UNKNOWN_ORDER, events)
            return
        del live[key]
        price = order.price
        seq = self._seq = self._seq + 1
        events.append(
            (ORDER, seq, order, CANCELLED, price, order.quantity, order.filled, 0, reasons.USER_CANCEL)
        )
        if order.stop_price is not None and not order.triggered:
            self._unpark_stop(book, order)
            return
        assert price is not None
        # What _unrest then _publish do for this one level, without the touched-level
        # bookkeeping: an L2 delta if its displayed quantity changed and, only if it was the
        # top of its side, the BBO (below the top, the top still equals ``book.bbo``).
        if order.side == BUY:
            levels, keys, book_key = book.bids, book.bid_keys, price
        else:
            levels, keys, book_key = book.asks, book.ask_keys, -price
        level = levels[price]
        orders = level.orders
        del orders[order.order_id]
        before = level.visible
        level.visible = before - order.visible
        order.visible = 0
        at_top = keys[-1] == book_key
        if orders:
            now = level.visible
        else:
            now = 0
            del levels[price]
            if at_top:
                keys.pop()
            else:
                del keys[bisect_left(keys, book_key)]
        if now != before:
            l2_seq = book.l2_seq = book.l2_seq + 1
            seq = self._seq = seq + 1
            events.append((L2, seq, book.symbol, order.side, price, now, l2_seq))
        if at_top:
            self._publish_bbo(book, events)

    def _amend(self, command: AmendOrder, events: list[Event]) -> None:
        book = self._books.get(command.symbol)
        if book is None:
            self._reject(command, "amend", reasons.UNKNOWN_SYMBOL, events)
            return
        order = self._live.get((command.account, command.client_order_id))
        if order is None or order.symbol != command.symbol:
            self._reject(command, "amend", reasons.UNKNOWN_ORDER, events)
            return
        reason = self._check_amend(book, order, command)
        if reason is not None:
            self._reject(command, "amend", reason, events)
            return
        old_price = order.price
        new_price = old_price if command.price is None else command.price
        new_quantity = order.quantity if command.quantity is None else command.quantity
        filled = order.filled
        if order.stop_price is not None and not order.triggered:
            # An untriggered stop has no queue position to keep or lose.
            order.price = new_price
            order.quantity = new_quantity
            seq = self._seq = self._seq + 1
            events.append(
                (ORDER, seq, order, AMENDED, new_price, new_quantity, filled, new_quantity - filled, None)
            )
            return
        assert old_price is not None
        assert new_price is not None
        if new_price == old_price and new_quantity < order.quantity:
            self._reduce_in_place(book, order, new_quantity)
            seq = self._seq = self._seq + 1
            events.append(
                (ORDER, seq, order, AMENDED, new_price, new_quantity, filled, new_quantity - filled, None)
            )
            self._publish(book, events)
            return
        if order.tif == POST_ONLY and self._would_take(book, order.side, new_price):
            self._reject(command, "amend", reasons.POST_ONLY_WOULD_TAKE, events)
            return
        # Price change or size increase: leave the queue and re-enter as a new aggressor.
        self._unrest(book, order)
        order.price = new_price
        order.quantity = new_quantity
        seq = self._seq = self._seq + 1
        events.append(
            (ORDER, seq, order, AMENDED, new_price, new_quantity, filled, new_quantity - filled, None)
        )
        self._execute(book, order, events)
        if self._triggered:
            self._activate_triggered(book, events)
        self._publish(book, events)

    # Validation ----------------------------------------------------------------------

    def _check_submit(self, book: OrderBook, command: SubmitOrder) -> str | None:
        """Why ``command`` cannot be accepted, or ``None``.  Nothing is ever rounded.

        Range checks such as ``GTC <= tif <= POST_ONLY`` rely on each code family being
        contiguous (see :mod:`.constants`); this runs on every submit, so it is written
        for few operations on the common path.
        """
        side = command.side
        if side != BUY and side != SELL:
            return reasons.INVALID_SIDE
        quantity = command.quantity
        if quantity <= 0:
            return reasons.QUANTITY_NOT_POSITIVE
        if quantity > MAX_UNITS:
            return reasons.QUANTITY_TOO_LARGE
        spec = book.spec
        min_qty = spec.min_qty
        if quantity < min_qty:
            return reasons.QUANTITY_BELOW_MINIMUM
        order_type = command.order_type
        tif = command.tif
        price = command.price
        stop_price = command.stop_price
        if order_type in (LIMIT, STOP_LIMIT):
            if price is None:
                return reasons.PRICE_REQUIRED
            if price <= 0:
                return reasons.PRICE_NOT_POSITIVE
            if price > MAX_UNITS:
                return reasons.PRICE_TOO_LARGE
            if spec.price_band_bps is not None and self._check_price(book, price) is not None:
                return reasons.PRICE_OUT_OF_BAND
            if not GTC <= tif <= POST_ONLY:
                return reasons.INVALID_TIF
        elif order_type in (MARKET, STOP_MARKET):
            if price is not None:
                return reasons.PRICE_NOT_APPLICABLE
            if tif != IOC and tif != FOK:
                return reasons.INVALID_TIF
        else:
            return reasons.INVALID_ORDER_TYPE
        if order_type >= STOP_MARKET:
            if stop_price is None:
                return reasons.STOP_PRICE_REQUIRED
            if stop_price <= 0:
                return reasons.PRICE_NOT_POSITIVE
            if stop_price > MAX_UNITS:
                return reasons.PRICE_TOO_LARGE
            last = book.last_price
            if last is not None and (last >= stop_price if side == BUY else last <= stop_price):
                return reasons.STOP_WOULD_TRIGGER_IMMEDIATELY
        elif stop_price is not None:
            return reasons.STOP_PRICE_NOT_APPLICABLE
        display = command.display_quantity
        if display is not None:
            if order_type in (MARKET, STOP_MARKET) or tif in (IOC, FOK):
                return reasons.DISPLAY_QUANTITY_NOT_APPLICABLE
            if display < min_qty or display > quantity:
                return reasons.DISPLAY_QUANTITY_INVALID
        if not STP_NONE <= command.stp <= EXPIRE_BOTH:
            return reasons.INVALID_STP
        if tif == POST_ONLY and order_type == LIMIT and self._would_take(book, side, price):
            return reasons.POST_ONLY_WOULD_TAKE
        return None

    @staticmethod
    def _check_price(book: OrderBook, price: int) -> str | None:
        if price <= 0:
            return reasons.PRICE_NOT_POSITIVE
        if price > MAX_UNITS:
            return reasons.PRICE_TOO_LARGE
        band = book.spec.price_band_bps
        if band is not None:
            reference = book.last_price or book.spec.reference_price
            if reference is not None and abs(price - reference) * 10_000 > reference * band:
                return reasons.PRICE_OUT_OF_BAND
        return None

    def _check_amend(self, book: OrderBook, order: Order, command: AmendOrder) -> str | None:
        price = command.price
        quantity = command.quantity
        if price is None and quantity is None:
            return reasons.NOTHING_TO_AMEND
        if price is not None:
            if order.order_type == MARKET or order.order_type == STOP_MARKET:
                return reasons.PRICE_NOT_APPLICABLE
            reason = self._check_price(book, price)
            if reason is not None:
                return reason
        if quantity is not None:
            if quantity <= 0:
                return reasons.QUANTITY_NOT_POSITIVE
            if quantity > MAX_UNITS:
                return reasons.QUANTITY_TOO_LARGE
            if quantity < book.spec.min_qty:
                return reasons.QUANTITY_BELOW_MINIMUM
            if quantity <= order.filled:
                return reasons.QUANTITY_NOT_ABOVE_FILLED
        if (price is None or price == order.price) and (quantity is None or quantity == order.quantity):
            return reasons.AMEND_NO_CHANGE
        return None

    @staticmethod
    def _would_take(book: OrderBook, side: int, price: int | None) -> bool:
        if side == BUY:
            keys = book.ask_keys
            return bool(keys) and (price is None or -keys[-1] <= price)
        keys = book.bid_keys
        return bool(keys) and (price is None or keys[-1] >= price)

    @staticmethod
    def _market_limit(book: OrderBook, side: int) -> int | None:
        """Worst price a market order may reach: the price band edge, if there is a band."""
        spec = book.spec
        band = spec.price_band_bps
        if band is None:
            return None
        reference = book.last_price or spec.reference_price
        if reference is None:
            return None
        if side == BUY:
            return reference * (10_000 + band) // 10_000
        return -(-reference * (10_000 - band) // 10_000)

    # Order life cycle ----------------------------------------------------------------

    def _execute(self, book: OrderBook, order: Order, events: list[Event]) -> None:
        """Run an active order as aggressor, then rest, fill or expire what is left."""
        # Market and stop-market orders are the ones without a limit price.
        limit = order.price
        is_market = limit is None
        if is_market:
            limit = self._market_limit(book, order.side)
        tif = order.tif
        side = order.side
        if side == BUY:
            keys = book.ask_keys
            crosses = bool(keys) and (limit is None or -keys[-1] <= limit)
        else:
            keys = book.bid_keys
            crosses = bool(keys) and (limit is None or keys[-1] >= limit)
        if crosses:
            if tif == POST_ONLY:
                # Only reachable by a triggered stop-limit: new orders are rejected up front.
                self._finish(order, EXPIRED, reasons.POST_ONLY_WOULD_TAKE, events)
                return
            if tif == FOK and not self._fok_fillable(book, order, limit):
                self._finish(order, EXPIRED, reasons.FOK_NOT_FILLABLE, events)
                return
            filled_before = order.filled
            stopped_by_stp = self._match(book, order, limit, events)
            filled = order.filled
            remaining = order.quantity - filled
            if remaining == 0:
                self._finish(order, FILLED, None, events)
                return
            if stopped_by_stp:
                self._finish(order, EXPIRED, reasons.SELF_TRADE_PREVENTION, events)
                return
            if filled != filled_before and not is_market and (tif in (GTC, POST_ONLY)):
                seq = self._seq = self._seq + 1
                events.append(
                    (ORDER, seq, order, PARTIALLY_FILLED, limit, order.quantity, filled, remaining, None)
                )
        elif tif == FOK:
            self._finish(order, EXPIRED, reasons.FOK_NOT_FILLABLE, events)
            return
        if is_market or tif in (IOC, FOK):
            self._finish(order, EXPIRED, reasons.UNFILLED_REMAINDER, events)
            return
        assert limit is not None
        # Rest what is left at the back of its price level.
        filled = order.filled
        open_quantity = order.quantity - filled
        display = order.display
        visible = display if 0 < display < open_quantity else open_quantity
        order.visible = visible
        if side == BUY:
            levels, keys, touched, key = book.bids, book.bid_keys, book.touched_bids, limit
        else:
            levels, keys, touched, key = book.asks, book.ask_keys, book.touched_asks, -limit
        level = levels.get(limit)
        if level is None:
            level = levels[limit] = PriceLevel(limit)
            if not keys or key > keys[-1]:
                keys.append(key)
            else:
                insort(keys, key)
            if limit not in touched:
                touched[limit] = 0
        elif limit not in touched:
            touched[limit] = level.visible
        level.orders[order.order_id] = order
        level.visible += visible

    def _finish(self, order: Order, status: str, reason: str | None, events: list[Event]) -> None:
        """Terminal state for an order that is not resting on a level."""
        del self._live[(order.account, order.client_order_id)]
        order.visible = 0
        seq = self._seq = self._seq + 1
        events.append((ORDER, seq, order, status, order.price, order.quantity, order.filled, 0, reason))

    def _fok_fillable(self, book: OrderBook, order: Order, limit: int | None) -> bool:
        """Could ``order`` fill completely right now?  Mirrors :meth:`_match`, without effects."""
        needed = order.quantity - order.filled
        account = order.account
        stp = order.stp
        if order.side == BUY:
            levels, keys, sign = book.asks, book.ask_keys, -1
        else:
            levels, keys, sign = book.bids, book.bid_keys, 1
        limit_key = None if limit is None else sign * limit
        for key in reversed(keys):
            if limit_key is not None and key < limit_key:
                break
            for maker in levels[sign * key].orders.values():
                if stp and maker.account == account:
                    if stp == EXPIRE_MAKER:
                        continue
                    return False
                needed -= maker.quantity - maker.filled
                if needed <= 0:
                    return True
        return False

    def _match(self, book: OrderBook, taker: Order, limit: int | None, events: list[Event]) -> bool:
        """Fill ``taker`` against the opposite side, best level first, oldest order first.

        Returns ``True`` when self-trade prevention stopped the taker.  Icebergs whose
        displayed slice is used up are refilled and moved to the back of their level
        (losing time priority) after the pass over the level's current queue, so orders
        behind them fill first, exactly as if the refill had been a new order.
        """
        if taker.side == BUY:
            levels, keys, touched, sign = book.asks, book.ask_keys, book.touched_asks, -1
        else:
            levels, keys, touched, sign = book.bids, book.bid_keys, book.touched_bids, 1
        limit_key = None if limit is None else sign * limit
        remaining = taker.quantity - taker.filled
        account = taker.account
        stp = taker.stp
        spec = book.spec
        maker_rate = spec.maker_fee_rate
        taker_rate = spec.taker_fee_rate
        live = self._live
        trade_id = self._next_trade_id
        seq = self._seq
        stopped = False
        while remaining and keys:
            key = keys[-1]
            if limit_key is not None and key < limit_key:
                break
            price = sign * key
            level = levels[price]
            if price not in touched:
                touched[price] = level.visible
            orders = level.orders
            done: list[Order] = []
            # Only icebergs whose displayed slice ran out; None until one does.
            refill: list[Order] | None = None
            traded = False
            for maker in orders.values():
                if stp and maker.account == account:
                    if stp == EXPIRE_TAKER:
                        stopped = True
                        break
                    level.visible -= maker.visible
                    maker.visible = 0
                    done.append(maker)
                    seq += 1
                    events.append(
                        (
                            ORDER,
                            seq,
                            maker,
                            EXPIRED,
                            price,
                            maker.quantity,
                            maker.filled,
                            0,
                            reasons.SELF_TRADE_PREVENTION,
                        )
                    )
                    if stp == EXPIRE_BOTH:
                        stopped = True
                        break
                    continue
                visible = maker.visible
                quantity = visible if visible < remaining else remaining
                maker.visible = visible - quantity
                level.visible -= quantity
                filled = maker.filled + quantity
                maker.filled = filled
                remaining -= quantity
                notional = price * quantity
                seq += 1
                events.append(
                    (
                        TRADE,
                        seq,
                        trade_id,
                        maker,
                        taker,
                        price,
                        quantity,
                        -(-notional * maker_rate // FEE_RATE_DENOMINATOR),
                        -(-notional * taker_rate // FEE_RATE_DENOMINATOR),
                    )
                )
                trade_id += 1
                traded = True
                maker_quantity = maker.quantity
                seq += 1
                if filled == maker_quantity:
                    done.append(maker)
                    events.append((ORDER, seq, maker, FILLED, price, maker_quantity, filled, 0, None))
                else:
                    if visible == quantity:
                        if refill is None:
                            refill = []
                        refill.append(maker)
                    events.append(
                        (
                            ORDER,
                            seq,
                            maker,
                            PARTIALLY_FILLED,
                            price,
                            maker_quantity,
                            filled,
                            maker_quantity - filled,
                            None,
                        )
                    )
                if not remaining:
                    break
            for maker in done:
                del orders[maker.order_id]
                del live[(maker.account, maker.client_order_id)]
            if refill is not None:
                for maker in refill:
                    open_quantity = maker.quantity - maker.filled
                    maker.visible = maker.display if maker.display < open_quantity else open_quantity
                    level.visible += maker.visible
                    orders.move_to_end(maker.order_id)
            if not orders:
                del levels[price]
                keys.pop()
            if traded:
                book.last_price = price
                if book.buy_stops or book.sell_stops:
                    self._collect_triggers(book, price)
            if stopped:
                break
        taker.filled = taker.quantity - remaining
        self._next_trade_id = trade_id
        self._seq = seq
        return stopped

    def _unrest(self, book: OrderBook, order: Order) -> None:
        """Take a resting ``order`` off its level."""
        price = order.price
        assert price is not None
        if order.side == BUY:
            levels, keys, touched, key = book.bids, book.bid_keys, book.touched_bids, price
        else:
            levels, keys, touched, key = book.asks, book.ask_keys, book.touched_asks, -price
        level = levels[price]
        if price not in touched:
            touched[price] = level.visible
        orders = level.orders
        del orders[order.order_id]
        level.visible -= order.visible
        order.visible = 0
        if not orders:
            del levels[price]
            if keys[-1] == key:
                keys.pop()
            else:
                del keys[bisect_left(keys, key)]

    def _reduce_in_place(self, book: OrderBook, order: Order, new_quantity: int) -> None:
        """Quantity decrease at the same price: the order keeps its queue position."""
        price = order.price
        assert price is not None
        if order.side == BUY:
            level, touched = book.bids[price], book.touched_bids
        else:
            level, touched = book.asks[price], book.touched_asks
        if price not in touched:
            touched[price] = level.visible
        order.quantity = new_quantity
        open_quantity = new_quantity - order.filled
        if order.visible > open_quantity:
            level.visible -= order.visible - open_quantity
            order.visible = open_quantity

    # Stops ---------------------------------------------------------------------------

    @staticmethod
    def _park_stop(book: OrderBook, order: Order) -> None:
        stop_price = order.stop_price
        assert stop_price is not None
        stops, key = (book.buy_stops, stop_price) if order.side == BUY else (book.sell_stops, -stop_price)
        queue = stops.get(key)
        if queue is None:
            queue = stops[key] = {}
        queue[order.order_id] = order

    @staticmethod
    def _unpark_stop(book: OrderBook, order: Order) -> None:
        stop_price = order.stop_price
        assert stop_price is not None
        stops, key = (book.buy_stops, stop_price) if order.side == BUY else (book.sell_stops, -stop_price)
        queue = stops[key]
        del queue[order.order_id]
        if not queue:
            del stops[key]

    def _collect_triggers(self, book: OrderBook, price: int) -> None:
        """Queue every stop whose condition the trade print ``price`` met."""
        triggered = self._triggered
        buy_stops = book.buy_stops
        while buy_stops:
            stop_price = buy_stops.keys()[0]
            if stop_price > price:
                break
            triggered.extend(buy_stops.pop(stop_price).values())
        sell_stops = book.sell_stops
        while sell_stops:
            key = sell_stops.keys()[0]
            if key > -price:
                break
            triggered.extend(sell_stops.pop(key).values())

    def _activate_triggered(self, book: OrderBook, events: list[Event]) -> None:
        triggered = self._triggered
        while triggered:
            order = triggered.popleft()
            order.triggered = True
            filled = order.filled
            seq = self._seq = self._seq + 1
            events.append(
                (
                    ORDER,
                    seq,
                    order,
                    TRIGGERED,
                    order.price,
                    order.quantity,
                    filled,
                    order.quantity - filled,
                    None,
                )
            )
            if order.price is not None and self._check_price(book, order.price) is not None:
                self._finish(order, EXPIRED, reasons.PRICE_OUT_OF_BAND, events)
                continue
            self._execute(book, order, events)

    # Market data ---------------------------------------------------------------------

    def _publish(self, book: OrderBook, events: list[Event]) -> None:
        """Emit coalesced L2 deltas for the levels this command changed, then the BBO."""
        touched_bids = book.touched_bids
        touched_asks = book.touched_asks
        if not touched_bids and not touched_asks:
            return
        symbol = book.symbol
        l2_seq = book.l2_seq
        seq = self._seq
        if touched_bids:
            bids = book.bids
            for price, before in touched_bids.items():
                level = bids.get(price)
                now = 0 if level is None else level.visible
                if now != before:
                    l2_seq += 1
                    seq += 1
                    events.append((L2, seq, symbol, BUY, price, now, l2_seq))
            touched_bids.clear()
        if touched_asks:
            asks = book.asks
            for price, before in touched_asks.items():
                level = asks.get(price)
                now = 0 if level is None else level.visible
                if now != before:
                    l2_seq += 1
                    seq += 1
                    events.append((L2, seq, symbol, SELL, price, now, l2_seq))
            touched_asks.clear()
        book.l2_seq = l2_seq
        self._seq = seq
        self._publish_bbo(book, events)

    def _publish_bbo(self, book: OrderBook, events: list[Event]) -> None:
        """Emit a BBO if the top of book differs from the last one published."""
        bid_keys = book.bid_keys
        ask_keys = book.ask_keys
        bid_price = bid_keys[-1] if bid_keys else 0
        ask_price = -ask_keys[-1] if ask_keys else 0
        bbo = (
            bid_price,
            book.bids[bid_price].visible if bid_price else 0,
            ask_price,
            book.asks[ask_price].visible if ask_price else 0,
        )
        if bbo != book.bbo:
            book.bbo = bbo
            seq = self._seq = self._seq + 1
            events.append((BBO, seq, book.symbol, bid_price, bbo[1], ask_price, bbo[3], book.l2_seq))

    # Snapshots -----------------------------------------------------------------------

    def snapshot(self) -> dict[str, object]:
        """Complete engine state as plain data; :meth:`restore` rebuilds an identical engine.

        Taken between commands (never mid-command), so there are no pending triggers or
        unpublished market data to capture.
        """
        books: list[object] = []
        for symbol in sorted(self._books):
            book = self._books[symbol]
            books.append(
                {
                    "spec": book.spec.to_plain(),
                    "last_price": book.last_price,
                    "l2_seq": book.l2_seq,
                    "bbo": list(book.bbo),
                    "bids": [
                        [price, [o.to_plain() for o in book.bids[price].orders.values()]]
                        for price in reversed(book.bid_keys)
                    ],
                    "asks": [
                        [-key, [o.to_plain() for o in book.asks[-key].orders.values()]]
                        for key in reversed(book.ask_keys)
                    ],
                    "buy_stops": [o.to_plain() for queue in book.buy_stops.values() for o in queue.values()],
                    "sell_stops": [
                        o.to_plain() for queue in book.sell_stops.values() for o in queue.values()
                    ],
                }
            )
        return {
            "format": SNAPSHOT_FORMAT,
            "seq": self._seq,
            "next_order_id": self._next_order_id,
            "next_trade_id": self._next_trade_id,
            "used_client_order_ids": [list(key) for key in self._used_order],
            "books": books,
        }

    def state_hash(self) -> str:
        """SHA-256 over the canonical snapshot: books, queues, stops, counters, configs."""
        return snapshot_hash(self.snapshot())

    @classmethod
    def restore(cls, snapshot: Mapping[str, object]) -> "MatchingEngine":
        """Rebuild an engine from :meth:`snapshot` output (raises ``ValueError`` if damaged)."""
        try:
            return cls._restore(snapshot)
        except (KeyError, TypeError, ValueError, IndexError, AssertionError) as error:
            raise ValueError(f"damaged matching-engine snapshot: {error!r}") from error

    @classmethod
    def _restore(cls, snapshot: Mapping[str, object]) -> "MatchingEngine":
        if snapshot["format"] != SNAPSHOT_FORMAT:
            raise ValueError(f"unsupported snapshot format {snapshot['format']!r}")
        engine = cls()
        engine._seq = plain_int(snapshot["seq"])
        engine._next_order_id = plain_int(snapshot["next_order_id"])
        engine._next_trade_id = plain_int(snapshot["next_trade_id"])
        # Oldest first (snapshots before the window listed them sorted: that order is kept).
        for pair in plain_list(snapshot["used_client_order_ids"])[-engine._id_window :]:
            account, client_order_id = plain_list(pair)
            key = (plain_str(account), plain_str(client_order_id))
            if key not in engine._used_ids:
                engine._used_ids.add(key)
                engine._used_order.append(key)
        for plain_book in plain_list(snapshot["books"]):
            record = plain_dict(plain_book)
            spec = SymbolSpec.from_plain(plain_dict(record["spec"]))
            book = OrderBook(spec)
            engine._books[spec.symbol] = book
            engine._specs[spec.symbol] = spec
            last_price = record["last_price"]
            book.last_price = None if last_price is None else plain_int(last_price)
            book.l2_seq = plain_int(record["l2_seq"])
            bid_price, bid_quantity, ask_price, ask_quantity = (
                plain_int(v) for v in plain_list(record["bbo"])
            )
            book.bbo = (bid_price, bid_quantity, ask_price, ask_quantity)
            for side_name, levels, keys, sign in (
                ("bids", book.bids, book.bid_keys, 1),
                ("asks", book.asks, book.ask_keys, -1),
            ):
                for plain_level in plain_list(record[side_name]):
                    price_value, plain_orders = plain_list(plain_level)
                    price = plain_int(price_value)
                    level = PriceLevel(price)
                    for plain_order in plain_list(plain_orders):
                        order = order_from_plain(spec.symbol, plain_order)
                        level.orders[order.order_id] = order
                        level.visible += order.visible
                        engine._live[(order.account, order.client_order_id)] = order
                    levels[price] = level
                    keys.append(sign * price)
                keys.sort()
            for plain_order in plain_list(record["buy_stops"]) + plain_list(record["sell_stops"]):
                order = order_from_plain(spec.symbol, plain_order)
                cls._park_stop(book, order)
                engine._live[(order.account, order.client_order_id)] = order
        return engine
