"""JSON wire format <-> engine objects.

Decoding never raises: anything that cannot become a typed command becomes an
:class:`InvalidCommand` whose reason is a code from :mod:`.reasons`, optionally followed
by ``:field`` (e.g. ``missing_field:quantity``).  Unknown fields are rejected so a typo
cannot silently drop an instruction.  Values that are not exactly on the symbol's tick
or lot grid are rejected, never rounded.

Encoding builds the ``venue.*.v1`` payload dicts (decimal strings on the wire) and is
the only place where dicts are built for events.
"""

from collections.abc import Mapping
from typing import Final, cast

from . import reasons
from .book import OrderBook
from .commands import AddSymbol, AmendOrder, CancelOrder, Command, InvalidCommand, SubmitOrder
from .constants import (
    BOOK_SIDE_NAMES,
    CANCELLED,
    EXPIRED,
    FEE_RATE_DENOMINATOR,
    GTC,
    IOC,
    LIMIT,
    MARKET,
    ORDER_TYPE_NAMES,
    REJECTED,
    SIDE_NAMES,
    STOP_LIMIT,
    STOP_MARKET,
    STP_NAMES,
    TIF_NAMES,
)
from .decimals import format_decimal, normalize, parse_signed, parse_unsigned, to_steps
from .events import (
    BBO,
    KIND,
    L2,
    ORDER,
    REJECT,
    SYMBOL,
    TRADE,
    BboEvent,
    Event,
    L2Event,
    OrderEvent,
    RejectEvent,
    SymbolEvent,
    TradeEvent,
    event_symbol,
)
from .symbols import SymbolSpec

_SIDES: Final = {name: code for code, name in enumerate(SIDE_NAMES)}
_ORDER_TYPES: Final = {name: code for code, name in enumerate(ORDER_TYPE_NAMES)}
_TIFS: Final = {name: code for code, name in enumerate(TIF_NAMES)}
_STPS: Final = {name: code for code, name in enumerate(STP_NAMES)}
_DEFAULT_TIF: Final = {MARKET: IOC, STOP_MARKET: IOC, LIMIT: GTC, STOP_LIMIT: GTC}

_ID_FIELDS: Final = ("symbol", "account", "client_order_id")
_FIELDS: Final = {
    "add_symbol": frozenset(
        {
            "type",
            "symbol",
            "tick_size",
            "lot_size",
            "min_qty",
            "maker_fee_bps",
            "taker_fee_bps",
            "price_band_bps",
            "reference_price",
        }
    ),
    "submit": frozenset(
        {
            "type",
            *_ID_FIELDS,
            "side",
            "order_type",
            "tif",
            "price",
            "quantity",
            "stop_price",
            "display_quantity",
            "stp",
        }
    ),
    "cancel": frozenset({"type", *_ID_FIELDS}),
    "amend": frozenset({"type", *_ID_FIELDS, "price", "quantity"}),
}
_MAX_ID_LENGTH: Final = 64


class _Invalid(Exception):
    """Internal: carries a rejection reason out of nested field parsing."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _text(raw: Mapping[str, object], name: str) -> str:
    """Best-effort string field for echoing in a rejection (``""`` if unusable)."""
    value = raw.get(name)
    return value if type(value) is str and len(value) <= _MAX_ID_LENGTH else ""


def _required_id(raw: Mapping[str, object], name: str) -> str:
    value = raw.get(name)
    if value is None:
        raise _Invalid(f"{reasons.MISSING_FIELD}:{name}")
    if type(value) is not str or not 0 < len(value) <= _MAX_ID_LENGTH:
        raise _Invalid(f"{reasons.INVALID_FIELD}:{name}")
    return value


def _code(raw: Mapping[str, object], name: str, table: Mapping[str, int], reason: str) -> int | None:
    value = raw.get(name)
    if value is None:
        return None
    code = table.get(value) if type(value) is str else None
    if code is None:
        raise _Invalid(reason)
    return code


def _steps(
    raw: Mapping[str, object], name: str, step_mult: int, step_exp: int, off_grid_reason: str
) -> int | None:
    """Optional unsigned decimal field converted to grid steps (ticks or lots)."""
    value = raw.get(name)
    if value is None:
        return None
    parsed = parse_unsigned(value)
    if parsed is None:
        raise _Invalid(f"{reasons.INVALID_DECIMAL}:{name}")
    steps = to_steps(parsed[0], parsed[1], step_mult, step_exp)
    if steps is None:
        raise _Invalid(off_grid_reason)
    return steps


def decode_command(raw: object, symbols: Mapping[str, SymbolSpec]) -> Command:
    """Turn one decoded JSON value into a typed command (or an :class:`InvalidCommand`)."""
    if not isinstance(raw, dict):
        return InvalidCommand("", "", "", "", reasons.MALFORMED_COMMAND)
    request = raw.get("type")
    if type(request) is not str or request not in _FIELDS:
        return InvalidCommand(
            "", _text(raw, "symbol"), _text(raw, "account"), _text(raw, "client_order_id"),
            reasons.UNKNOWN_COMMAND_TYPE,
        )  # fmt: skip
    try:
        unexpected = raw.keys() - _FIELDS[request]
        if unexpected:
            raise _Invalid(f"{reasons.UNEXPECTED_FIELD}:{min(map(str, unexpected))[:_MAX_ID_LENGTH]}")
        if request == "add_symbol":
            return _decode_add_symbol(raw)
        symbol = _required_id(raw, "symbol")
        account = _required_id(raw, "account")
        client_order_id = _required_id(raw, "client_order_id")
        if request == "cancel":
            return CancelOrder(symbol, account, client_order_id)
        spec = symbols.get(symbol)
        if spec is None:
            raise _Invalid(reasons.UNKNOWN_SYMBOL)
        price = _steps(raw, "price", spec.tick_mult, spec.tick_exp, reasons.PRICE_NOT_ON_TICK)
        quantity = _steps(raw, "quantity", spec.lot_mult, spec.lot_exp, reasons.QUANTITY_NOT_ON_LOT)
        if request == "amend":
            return AmendOrder(symbol, account, client_order_id, price, quantity)
        return _decode_submit(raw, spec, symbol, account, client_order_id, price, quantity)
    except _Invalid as invalid:
        return InvalidCommand(
            request, _text(raw, "symbol"), _text(raw, "account"), _text(raw, "client_order_id"),
            invalid.reason,
        )  # fmt: skip


def _decode_submit(
    raw: Mapping[str, object],
    spec: SymbolSpec,
    symbol: str,
    account: str,
    client_order_id: str,
    price: int | None,
    quantity: int | None,
) -> SubmitOrder:
    side = _code(raw, "side", _SIDES, reasons.INVALID_SIDE)
    if side is None:
        raise _Invalid(f"{reasons.MISSING_FIELD}:side")
    order_type = _code(raw, "order_type", _ORDER_TYPES, reasons.INVALID_ORDER_TYPE)
    if order_type is None:
        raise _Invalid(f"{reasons.MISSING_FIELD}:order_type")
    if quantity is None:
        raise _Invalid(f"{reasons.MISSING_FIELD}:quantity")
    tif = _code(raw, "tif", _TIFS, reasons.INVALID_TIF)
    stp = _code(raw, "stp", _STPS, reasons.INVALID_STP)
    stop_price = _steps(raw, "stop_price", spec.tick_mult, spec.tick_exp, reasons.STOP_PRICE_NOT_ON_TICK)
    display = _steps(
        raw, "display_quantity", spec.lot_mult, spec.lot_exp, reasons.DISPLAY_QUANTITY_NOT_ON_LOT
    )
    return SubmitOrder(
        symbol,
        account,
        client_order_id,
        side,
        order_type,
        quantity,
        price,
        _DEFAULT_TIF[order_type] if tif is None else tif,
        stop_price,
        display,
        0 if stp is None else stp,
    )


def _present(raw: Mapping[str, object], name: str) -> object:
    value = raw.get(name)
    if value is None:
        raise _Invalid(f"{reasons.MISSING_FIELD}:{name}")
    return value


def _grid(raw: Mapping[str, object], name: str) -> tuple[int, int]:
    parsed = parse_unsigned(_present(raw, name))
    if parsed is None or parsed[0] == 0:
        raise _Invalid(f"{reasons.INVALID_FIELD}:{name}")
    return normalize(*parsed)


def _fee_rate(raw: Mapping[str, object], name: str) -> int:
    """Basis points (at most two decimals) -> hundredths of a basis point."""
    parsed = parse_signed(_present(raw, name))
    if parsed is None:
        raise _Invalid(f"{reasons.INVALID_FIELD}:{name}")
    rate = to_steps(parsed[0], parsed[1], 1, 2)
    if rate is None or abs(rate) >= FEE_RATE_DENOMINATOR:
        raise _Invalid(f"{reasons.INVALID_FIELD}:{name}")
    return rate


def _decode_add_symbol(raw: Mapping[str, object]) -> AddSymbol:
    symbol = _required_id(raw, "symbol")
    tick_mult, tick_exp = _grid(raw, "tick_size")
    lot_mult, lot_exp = _grid(raw, "lot_size")
    min_qty = _steps(raw, "min_qty", lot_mult, lot_exp, f"{reasons.INVALID_FIELD}:min_qty")
    band: int | None = None
    if raw.get("price_band_bps") is not None:
        parsed = parse_unsigned(raw["price_band_bps"])
        if parsed is None or parsed[1] != 0:
            raise _Invalid(f"{reasons.INVALID_FIELD}:price_band_bps")
        band = parsed[0]
    reference = _steps(
        raw, "reference_price", tick_mult, tick_exp, f"{reasons.INVALID_FIELD}:reference_price"
    )
    spec = SymbolSpec(
        symbol,
        tick_mult,
        tick_exp,
        lot_mult,
        lot_exp,
        # Default: one lot.
        1 if min_qty is None else min_qty,
        _fee_rate(raw, "maker_fee_bps"),
        _fee_rate(raw, "taker_fee_bps"),
        band,
        reference,
    )
    problems = spec.problems()
    if problems:
        raise _Invalid(f"{reasons.INVALID_SYMBOL_CONFIG}:{problems[0]}")
    return AddSymbol(spec)


# Encoding ------------------------------------------------------------------------------

WireEvent = dict[str, object]


def _encode_order(event: OrderEvent, spec: SymbolSpec) -> WireEvent:
    _, seq, order, status, price, quantity, filled, remaining, reason = event
    wire: WireEvent = {
        "kind": "order",
        "seq": seq,
        "symbol": order.symbol,
        "account": order.account,
        "client_order_id": order.client_order_id,
        "order_id": order.order_id,
        "status": status,
        "side": SIDE_NAMES[order.side],
        "order_type": ORDER_TYPE_NAMES[order.order_type],
        "tif": TIF_NAMES[order.tif],
    }
    if price is not None:
        wire["price"] = spec.format_price(price)
    if order.stop_price is not None:
        wire["stop_price"] = spec.format_price(order.stop_price)
    if order.display:
        wire["display_quantity"] = spec.format_quantity(order.display)
    if order.stp:
        wire["stp"] = STP_NAMES[order.stp]
    wire["quantity"] = spec.format_quantity(quantity)
    wire["filled_quantity"] = spec.format_quantity(filled)
    wire["remaining_quantity"] = spec.format_quantity(remaining)
    if status in (CANCELLED, EXPIRED):
        wire["cancelled_quantity"] = spec.format_quantity(quantity - filled)
    if reason is not None:
        wire["reason"] = reason
    return wire


def _encode_reject(event: RejectEvent) -> WireEvent:
    _, seq, symbol, account, client_order_id, request, reason = event
    return {
        "kind": "order",
        "seq": seq,
        "symbol": symbol,
        "account": account,
        "client_order_id": client_order_id,
        "status": REJECTED,
        "request": request,
        "reason": reason,
    }


def _encode_trade(event: TradeEvent, spec: SymbolSpec) -> WireEvent:
    _, seq, trade_id, maker, taker, price, quantity, maker_fee, taker_fee = event
    return {
        "kind": "trade",
        "seq": seq,
        "symbol": taker.symbol,
        "trade_id": trade_id,
        "price": spec.format_price(price),
        "quantity": spec.format_quantity(quantity),
        "aggressor_side": SIDE_NAMES[taker.side],
        "maker_order_id": maker.client_order_id,
        "taker_order_id": taker.client_order_id,
        "maker_account": maker.account,
        "taker_account": taker.account,
        "maker_fee": spec.format_fee(maker_fee),
        "taker_fee": spec.format_fee(taker_fee),
    }


def _encode_l2(event: L2Event, spec: SymbolSpec) -> WireEvent:
    _, seq, symbol, book_side, price, quantity, l2_seq = event
    return {
        "kind": "l2",
        "seq": seq,
        "symbol": symbol,
        "l2_seq": l2_seq,
        "side": BOOK_SIDE_NAMES[book_side],
        "price": spec.format_price(price),
        "quantity": spec.format_quantity(quantity),
    }


def _encode_bbo(event: BboEvent, spec: SymbolSpec) -> WireEvent:
    _, seq, symbol, bid_price, bid_quantity, ask_price, ask_quantity, l2_seq = event
    return {
        "kind": "bbo",
        "seq": seq,
        "symbol": symbol,
        "l2_seq": l2_seq,
        "bid_price": spec.format_price(bid_price) if bid_price else None,
        "bid_quantity": spec.format_quantity(bid_quantity) if bid_price else None,
        "ask_price": spec.format_price(ask_price) if ask_price else None,
        "ask_quantity": spec.format_quantity(ask_quantity) if ask_price else None,
    }


def _encode_symbol(event: SymbolEvent, spec: SymbolSpec | None) -> WireEvent:
    _, seq, symbol, status, reason = event
    wire: WireEvent = {"kind": "symbol", "seq": seq, "symbol": symbol, "status": status}
    if reason is not None:
        wire["reason"] = reason
    elif spec is not None:
        wire["tick_size"] = format_decimal(spec.tick_mult, spec.tick_exp)
        wire["lot_size"] = format_decimal(spec.lot_mult, spec.lot_exp)
        wire["min_qty"] = spec.format_quantity(spec.min_qty)
        wire["maker_fee_bps"] = format_decimal(spec.maker_fee_rate, 2)
        wire["taker_fee_bps"] = format_decimal(spec.taker_fee_rate, 2)
        if spec.price_band_bps is not None:
            wire["price_band_bps"] = str(spec.price_band_bps)
        if spec.reference_price is not None:
            wire["reference_price"] = spec.format_price(spec.reference_price)
    return wire


def encode_event(event: Event, symbols: Mapping[str, SymbolSpec]) -> WireEvent:
    """The wire payload of one event (``kind``: order, trade, bbo, l2 or symbol)."""
    kind = event[KIND]
    if kind == REJECT:
        return _encode_reject(cast(RejectEvent, event))
    spec = symbols.get(event_symbol(event))
    if kind == SYMBOL:
        return _encode_symbol(cast(SymbolEvent, event), spec)
    # Every other event belongs to an order book, which only exists for known symbols.
    assert spec is not None
    if kind == ORDER:
        return _encode_order(cast(OrderEvent, event), spec)
    if kind == TRADE:
        return _encode_trade(cast(TradeEvent, event), spec)
    if kind == L2:
        return _encode_l2(cast(L2Event, event), spec)
    assert kind == BBO
    return _encode_bbo(cast(BboEvent, event), spec)


def encode_depth(book: OrderBook, seq: int) -> WireEvent:
    """The ``depth`` record of one book (``venue.md.v1``): every displayed level, best first.

    Not an engine event (it takes no ``seq``): the shell publishes one per book now and then, so
    that a reader of ``venue.md.v1`` whose retention dropped the first ``l2`` updates still gets
    complete depth. ``seq`` is the venue seq the book is at; ``l2_seq`` the last l2 it includes.
    """
    spec = book.spec
    bids, asks = book.bids, book.asks
    return {
        "kind": "depth",
        "seq": seq,
        "symbol": book.symbol,
        "l2_seq": book.l2_seq,
        "bids": [
            {"price": spec.format_price(price), "quantity": spec.format_quantity(bids[price].visible)}
            for price in reversed(book.bid_keys)
            if bids[price].visible
        ],
        "asks": [
            {"price": spec.format_price(-key), "quantity": spec.format_quantity(asks[-key].visible)}
            for key in reversed(book.ask_keys)
            if asks[-key].visible
        ],
    }
