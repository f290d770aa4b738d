"""The trusted path (services/ingest/trusted.py) builds exactly what the validated one builds,
and only when the contract would accept the values."""

from decimal import Decimal, InvalidOperation
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from schemas.common import ExchangeId, PositiveDecimal
from schemas.market_data import BestBidOffer, BookDelta, BookSequence, PriceLevel
from schemas.trusted import build
from services.ingest import trusted

LEVELS = TypeAdapter(list[PriceLevel])
IDS = {
    "exchange": ExchangeId.BINANCE_USDM,
    "symbol": "BTC-USDT-PERP",
    "native_symbol": "BTCUSDT",
    "exchange_ts": 1_723_161_256_000_000_000,
    "receive_ts": 1_723_161_256_001_000_000,
}

# Venue-like decimal texts, and the hostile ones the fast checks must send the slow way.
plain = st.from_regex(r"\A[0-9]{1,12}(\.[0-9]{1,12})?\Z")
hostile = st.sampled_from(
    [
        "0",
        "0.000",
        "-1",
        "1e5",
        "1E-3",
        "NaN",
        "Infinity",
        "inf",
        " 1",
        "1_000",
        "1" * 41,
        "0." + "0" * 39 + "1",
    ]
)
text = st.one_of(plain, plain, hostile)


def _validated(raw: list[list[str]]) -> list[tuple[Decimal, Decimal]] | None:
    try:
        return LEVELS.validate_python([(Decimal(p), Decimal(q)) for p, q in raw])
    except (ValidationError, InvalidOperation):
        return None


@given(st.lists(st.tuples(text, text).map(list), max_size=8))
def test_trusted_levels_are_sure_and_equal_to_validated(raw: list[list[str]]) -> None:
    fast = trusted.levels(raw)
    if fast is not None:
        assert fast == _validated(raw), "the fast checks let through what the contract refuses"


def test_levels_of_venue_texts_take_the_fast_path() -> None:
    assert trusted.levels([["61800.20", "0.003"], ["61800.10", "0"]]) == [
        (Decimal("61800.20"), Decimal("0.003")),
        (Decimal("61800.10"), Decimal("0")),
    ]
    bad_levels: list[list[Any]] = [
        ["0", "1"],
        ["1e3", "1"],
        ["1", "-1"],
        ["NaN", "1"],
        ["1", "1", "1"],
        [1, "1"],
    ]
    for bad in bad_levels:
        assert trusted.levels([bad]) is None, bad


def test_built_events_equal_validated_ones() -> None:
    levels = [(Decimal("61800.20"), Decimal("0.003"))]
    values = {**IDS, "sequence": BookSequence(first=1, last=2, prev=0), "bids": levels, "asks": []}
    fast, slow = build(BookDelta, values), BookDelta(**values)
    assert fast == slow
    assert fast.model_dump_json() == slow.model_dump_json()
    assert fast.model_fields_set == slow.model_fields_set
    top = {
        **IDS,
        "bid_price": Decimal("1.5"),
        "bid_quantity": Decimal("2"),
        "ask_price": Decimal("1.6"),
        "ask_quantity": Decimal("0"),
        "sequence": 7,
    }
    assert build(BestBidOffer, top).model_dump_json() == BestBidOffer(**top).model_dump_json()


def test_ids_outside_the_contract_go_the_slow_way() -> None:
    assert trusted.ids_ok(IDS)
    assert not trusted.ids_ok({**IDS, "exchange_ts": -1})
    assert not trusted.ids_ok({**IDS, "symbol": "btc-usdt"})
    assert not trusted.ids_ok({**IDS, "native_symbol": ""})


POSITIVE = TypeAdapter(PositiveDecimal)


@given(text, text)
def test_plain_decimals_are_sure_for_a_value_and_a_product_of_two(price: str, quantity: str) -> None:
    """What ``plain_decimals`` passes, once read and positive, meets the contract, and so does
    the product of two of them (a trade's notional)."""
    if not trusted.plain_decimals(price, quantity):
        return
    try:
        values = [Decimal(price), Decimal(quantity)]
    except InvalidOperation:  # "1.2.3": the parser's Decimal() rejects it, on either path
        return
    if all(values):
        for value in [*values, values[0] * values[1]]:
            assert POSITIVE.validate_python(value) == value


def test_plain_decimals_refuse_what_only_the_contract_can_judge() -> None:
    assert trusted.plain_decimals("61800.20", "2.507", "61800.30", "2.510")
    assert not trusted.plain_decimals("1", 1)  # a JSON number
    assert not trusted.plain_decimals("-1")
    assert not trusted.plain_decimals("1e5")
    assert not trusted.plain_decimals("1" * 20, "1" * 20)  # 40 characters in all: no room for a product


def test_build_of_odd_values_matches_the_declared_fields() -> None:
    values = {**IDS, "sequence": BookSequence(last=2), "bids": [], "asks": []}
    assert list(build(BookDelta, values).__dict__) == list(BookDelta.model_fields)
    with_unknown = build(BookDelta, {**values, "unknown": 1})
    assert list(with_unknown.__dict__) == list(BookDelta.model_fields)
    assert with_unknown.model_dump_json() == BookDelta(**values).model_dump_json()
    missing = dict(values)
    del missing["sequence"]
    with pytest.raises(TypeError, match="sequence is required"):
        build(BookDelta, missing)
