"""Canonical encoding and hashing of engine snapshots.

A snapshot is plain data (dicts, lists, ints, strings, ``None``) and so is JSON as-is.
The canonical form is compact JSON with sorted keys, produced by orjson; every list in
a snapshot is already in a deterministic order (levels best first, orders in queue
order, stops in trigger order, client ids sorted), so equal engine states always hash
equally and any divergence in book, queue, counters or configuration changes the hash.
No wall-clock value is ever part of the state.
"""

import hashlib

import orjson

from .book import Order
from .commands import SubmitOrder

SNAPSHOT_FORMAT = 1


def canonical_bytes(snapshot: dict[str, object]) -> bytes:
    return orjson.dumps(snapshot, option=orjson.OPT_SORT_KEYS)


def snapshot_hash(snapshot: dict[str, object]) -> str:
    """SHA-256 hex digest of the canonical encoding."""
    return hashlib.sha256(canonical_bytes(snapshot)).hexdigest()


# Decoding helpers: validate types while rebuilding, so a damaged snapshot fails loudly.


def plain_int(value: object) -> int:
    if type(value) is not int:
        raise TypeError(f"expected int, got {value!r}")
    return value


def plain_str(value: object) -> str:
    if type(value) is not str:
        raise TypeError(f"expected str, got {value!r}")
    return value


def plain_list(value: object) -> list[object]:
    if type(value) is not list:
        raise TypeError(f"expected list, got {type(value).__name__}")
    return value


def plain_dict(value: object) -> dict[str, object]:
    if type(value) is not dict:
        raise TypeError(f"expected dict, got {type(value).__name__}")
    return value


def plain_optional_int(value: object) -> int | None:
    return None if value is None else plain_int(value)


def order_from_plain(symbol: str, plain: object) -> Order:
    (
        order_id,
        account,
        client_order_id,
        side,
        order_type,
        tif,
        price,
        stop_price,
        quantity,
        filled,
        visible,
        display,
        stp,
        triggered,
    ) = plain_list(plain)
    order = Order(
        plain_int(order_id),
        SubmitOrder(
            symbol,
            plain_str(account),
            plain_str(client_order_id),
            plain_int(side),
            plain_int(order_type),
            plain_int(quantity),
            plain_optional_int(price),
            plain_int(tif),
            plain_optional_int(stop_price),
            plain_int(display) or None,
            plain_int(stp),
        ),
    )
    order.filled = plain_int(filled)
    order.visible = plain_int(visible)
    if type(triggered) is not bool:
        raise TypeError("triggered must be a bool")
    order.triggered = triggered
    return order
