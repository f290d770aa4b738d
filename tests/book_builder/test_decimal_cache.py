"""The decoders' string -> Decimal cache: right values, bounded by what is in use (issue 16)."""

from decimal import Decimal

import pytest

from schemas import fast_decode
from schemas.fast_decode import DECIMALS_PER_GENERATION, RejectedInput, cached_decimals, decimal, levels


def test_the_cache_never_holds_more_than_two_generations() -> None:
    for i in range(5 * DECIMALS_PER_GENERATION):
        assert decimal(f"{i}.5", "price") == Decimal(f"{i}.5")
    assert cached_decimals() <= 2 * DECIMALS_PER_GENERATION


def test_a_string_in_use_survives_every_turn_of_the_generations() -> None:
    hot = "61800.30"
    first = decimal(hot, "price")
    for i in range(3 * DECIMALS_PER_GENERATION):
        decimal(f"{i}.25", "price")
        if i % 1000 == 0:
            decimal(hot, "price")
    assert hot in fast_decode._young or hot in fast_decode._old
    assert decimal(hot, "price") is first


def test_levels_read_through_the_cache_and_still_check_every_value() -> None:
    decimal("1.5", "price")
    assert levels([["1.5", "2"], ["1.50", "0"]], "bids") == [
        (Decimal("1.5"), Decimal("2")),
        (Decimal("1.50"), Decimal("0")),
    ]
    assert [str(price) for price, _ in levels([["1.5", "2"], ["1.50", "0"]], "bids")] == ["1.5", "1.50"]
    with pytest.raises(RejectedInput):
        levels([["0", "1"]], "bids")
    with pytest.raises(RejectedInput):
        levels([["NaN", "1"]], "asks")
