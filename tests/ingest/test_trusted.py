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


def _caches() -> tuple[trusted.DecimalCache, trusted.DecimalCache]:
    return trusted.DecimalCache(positive=True), trusted.DecimalCache()


@given(st.lists(st.tuples(text, text).map(list), max_size=8))
def test_trusted_levels_are_sure_and_equal_to_validated(raw: list[list[str]]) -> None:
    fast = trusted.levels(raw, *_caches())
    if fast is not None:
        assert fast == _validated(raw), "the fast checks let through what the contract refuses"
        assert [tuple(map(str, level)) for level in fast] == [
            tuple(map(str, level)) for level in _validated(raw) or []
        ]


def test_levels_of_venue_texts_take_the_fast_path() -> None:
    prices, quantities = _caches()
    assert trusted.levels([["61800.20", "0.003"], ["61800.10", "0"]], prices, quantities) == [
        (Decimal("61800.20"), Decimal("0.003")),
        (Decimal("61800.10"), Decimal("0")),
    ]
    assert trusted.levels([], prices, quantities) == []
    bad_levels: list[list[Any]] = [
        ["0", "1"],
        ["1e3", "1"],
        ["1", "-1"],
        ["NaN", "1"],
        ["1", "1", "1"],
        [1, "1"],
        ["1", ["1"]],
        ["1.2.3", "1"],
        ["1" * 29, "1"],  # longer than EXACT_CHARACTERS: a unit multiplier would round it
    ]
    for bad in bad_levels:
        assert trusted.levels([bad], prices, quantities) is None, bad
    assert trusted.levels(None, prices, quantities) is None  # type: ignore[arg-type]  # "b": null


def test_the_cache_reads_each_text_once_and_starts_over_when_full() -> None:
    cache = trusted.DecimalCache(capacity=2)
    first = cache["1.50"]
    assert cache["1.50"] is first
    assert str(first) == "1.50"
    cache["2"], cache["3"]  # the third text finds the cache full
    assert list(cache) == ["3"]
    with pytest.raises(trusted.NotPlain):
        trusted.DecimalCache(positive=True)["0.000"]
    assert trusted.DecimalCache()["0.000"] == 0


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
def test_trade_numbers_are_sure_and_their_notional_exact(price: str, quantity: str) -> None:
    """What ``trade_numbers`` passes meets the contract, and so does the notional; the size times
    a unit multiplier and contract size is the size, digit for digit (``base_quantity``)."""
    numbers = trusted.trade_numbers(price, quantity, *_caches())
    if numbers is None:
        return
    read_price, read_quantity = numbers
    assert (str(read_price), str(read_quantity)) == (str(Decimal(price)), str(Decimal(quantity)))
    for value in [read_price, read_quantity, read_quantity * read_price]:
        assert POSITIVE.validate_python(value) == value
    assert str(read_quantity * Decimal(1) * Decimal(1)) == str(read_quantity)
    assert read_quantity * read_price == Decimal(quantity) * Decimal(1) * Decimal(price)


def test_trade_numbers_refuse_what_only_the_contract_can_judge() -> None:
    prices, quantities = _caches()
    assert trusted.trade_numbers("61800.20", "2.507", prices, quantities) == (
        Decimal("61800.20"),
        Decimal("2.507"),
    )
    assert trusted.trade_numbers("1", 1, prices, quantities) is None  # a JSON number
    assert trusted.trade_numbers("1", "-1", prices, quantities) is None
    assert trusted.trade_numbers("1e5", "1", prices, quantities) is None
    assert trusted.trade_numbers("0", "1", prices, quantities) is None
    assert trusted.trade_numbers("1", "0.000", prices, quantities) is None
    assert trusted.trade_numbers("1" * 14, "1" * 15, prices, quantities) is None  # no exact notional


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
