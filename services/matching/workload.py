"""A deterministic venue command stream, for the recovery test and the service benchmark.

Mostly limit orders around a drifting mid (so books build up and cross), with IOC and market
orders, cancels, amends, and some requests the engine must reject (reused client ids,
off-tick prices, unknown orders), all as ``venue.commands.v1`` JSON lines.
"""

import random
from collections.abc import Iterator

import orjson

SYMBOL = "BTC-USDT"
ADD_SYMBOL = {
    "type": "add_symbol",
    "symbol": SYMBOL,
    "tick_size": "0.1",
    "lot_size": "0.001",
    "maker_fee_bps": "-0.25",
    "taker_fee_bps": "5",
}
_ACCOUNTS = ("A", "B", "C", "D", "E")


def _price(ticks: int) -> str:
    return f"{ticks // 10}.{ticks % 10}"


def _quantity(lots: int) -> str:
    return f"{lots // 1000}.{lots % 1000:03d}"


def venue_commands(
    count: int, *, seed: int = 7, symbol: str = SYMBOL, id_prefix: str = ""
) -> Iterator[dict[str, object]]:
    """``count`` commands after the symbol listing (which comes first); ids start with ``id_prefix``."""
    rng = random.Random(seed)
    yield {**ADD_SYMBOL, "symbol": symbol}
    mid = 500_000  # ticks of 0.1: 50,000.0
    submitted: list[tuple[str, str]] = []
    for index in range(count):
        mid += rng.choice((-1, 0, 0, 1))
        roll = rng.random()
        account = rng.choice(_ACCOUNTS)
        client_order_id = f"{id_prefix}c{index}"
        side = rng.choice(("buy", "sell"))
        if roll < 0.55 or not submitted:
            offset = rng.randint(-3, 20)
            ticks = mid - offset if side == "buy" else mid + offset
            command: dict[str, object] = {
                "type": "submit",
                "symbol": symbol,
                "account": account,
                "client_order_id": client_order_id,
                "side": side,
                "order_type": "limit",
                "price": _price(ticks),
                "quantity": _quantity(rng.randint(1, 50)),
            }
            submitted.append((account, client_order_id))
        elif roll < 0.65:
            command = {
                "type": "submit",
                "symbol": symbol,
                "account": account,
                "client_order_id": client_order_id,
                "side": side,
                "order_type": rng.choice(("market", "limit")),
                "tif": "IOC",
                "quantity": _quantity(rng.randint(1, 80)),
            }
            if command["order_type"] == "limit":
                command["price"] = _price(mid + (5 if side == "buy" else -5))
        elif roll < 0.85:
            account, client_order_id = rng.choice(submitted)
            command = {
                "type": "cancel",
                "symbol": symbol,
                "account": account,
                "client_order_id": client_order_id,
            }
        elif roll < 0.95:
            account, client_order_id = rng.choice(submitted)
            command = {
                "type": "amend",
                "symbol": symbol,
                "account": account,
                "client_order_id": client_order_id,
                "quantity": _quantity(rng.randint(1, 60)),
            }
        else:
            # Rejections: a reused client id, or a price off the tick grid.
            reuse = rng.random() < 0.5
            account, client_order_id = rng.choice(submitted) if reuse else (account, f"{id_prefix}x{index}")
            command = {
                "type": "submit",
                "symbol": symbol,
                "account": account,
                "client_order_id": client_order_id,
                "side": side,
                "order_type": "limit",
                "price": _price(mid - 30) if reuse else _price(mid) + "5",
                "quantity": "0.001",
            }
        yield command


def venue_command_lines(
    count: int, *, seed: int = 7, symbol: str = SYMBOL, id_prefix: str = ""
) -> list[bytes]:
    return [
        orjson.dumps(command)
        for command in venue_commands(count, seed=seed, symbol=symbol, id_prefix=id_prefix)
    ]
