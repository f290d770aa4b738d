"""Fees computed by hand, not by the engine: golden files made by the engine cannot catch its own bug.

The venue's rule (see scenarios/fees_rounding.jsonl): a fee is price * quantity * bps / 10,000 in
quote, rounded up (toward +infinity) to a multiple of tick_size * lot_size, so a taker is never
under-charged and a maker rebate (negative bps) is never over-paid. Each expected value below was
worked out on paper; the comment shows the arithmetic.
"""

import io
from decimal import Decimal

import orjson
import pytest

from services.matching.runner import run_commands


def _trade(symbol: dict[str, str], price: str, quantity: str) -> dict[str, object]:
    commands = [
        {"type": "add_symbol", "symbol": "X-USDT", **symbol},
        {"type": "submit", "client_order_id": "m", "account": "M", "symbol": "X-USDT", "side": "sell",
         "order_type": "limit", "price": price, "quantity": quantity},
        {"type": "submit", "client_order_id": "t", "account": "T", "symbol": "X-USDT", "side": "buy",
         "order_type": "market", "quantity": quantity},
    ]  # fmt: skip
    lines = io.BytesIO(b"\n".join(orjson.dumps(c) for c in commands) + b"\n")
    [trade] = [e for e in run_commands(lines) if e["kind"] == "trade"]
    return trade


GRID = {"tick_size": "0.01", "lot_size": "0.01", "min_qty": "0.01"}


@pytest.mark.parametrize(
    ("fees", "price", "quantity", "maker_fee", "taker_fee"),
    [
        # 3333.33 * 0.03 = 99.9999; taker 2.5 bps = 0.024999975 -> up to 0.0001: 0.0250;
        # maker -0.25 bps = -0.0024999975 -> toward +infinity: -0.0024 (the rebate is not over-paid).
        (("-0.25", "2.5"), "3333.33", "0.03", "-0.0024", "0.0250"),
        # 2000.00 * 1.00 = 2000; 2.5 bps = 0.5 exactly; -0.25 bps = -0.05 exactly: no rounding.
        (("-0.25", "2.5"), "2000.00", "1.00", "-0.0500", "0.5000"),
        # 101.01 * 0.07 = 7.0707; maker 1 bp = 0.00070707 -> 0.0008; taker 4 bps = 0.00282828 -> 0.0029.
        (("1", "4"), "101.01", "0.07", "0.0008", "0.0029"),
        # The smallest trade: 0.01 * 0.01 = 0.0001; taker 2.5 bps = 0.000000025 -> a whole unit,
        # 0.0001 (never under-charged); maker -0.25 bps = -0.0000000025 -> 0 (no rebate to pay).
        (("-0.25", "2.5"), "0.01", "0.01", "0", "0.0001"),
        # Zero fees stay zero.
        (("0", "0"), "123.45", "0.50", "0", "0"),
    ],
)
def test_maker_and_taker_fees_match_a_hand_computation(
    fees: tuple[str, str], price: str, quantity: str, maker_fee: str, taker_fee: str
) -> None:
    symbol = {**GRID, "maker_fee_bps": fees[0], "taker_fee_bps": fees[1]}
    trade = _trade(symbol, price, quantity)
    assert (trade["price"], trade["quantity"]) == (price, quantity)
    assert Decimal(str(trade["maker_fee"])) == Decimal(maker_fee)
    assert Decimal(str(trade["taker_fee"])) == Decimal(taker_fee)


def test_fees_sit_on_the_fee_grid() -> None:
    """Tick 0.001, lot 0.1: fees are multiples of 0.0001; 12.345 * 0.3 = 3.7035 at 5 bps is
    0.00185175 -> 0.0019 for the taker; at -1 bp -0.00037035 -> -0.0003 for the maker."""
    symbol = {
        "tick_size": "0.001",
        "lot_size": "0.1",
        "min_qty": "0.1",
        "maker_fee_bps": "-1",
        "taker_fee_bps": "5",
    }
    trade = _trade(symbol, "12.345", "0.3")
    assert Decimal(str(trade["taker_fee"])) == Decimal("0.0019")
    assert Decimal(str(trade["maker_fee"])) == Decimal("-0.0003")
