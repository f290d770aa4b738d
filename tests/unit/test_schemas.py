"""The committed contracts match the models, and every example obeys its schema."""

import json
from decimal import Decimal

import jsonschema
import pytest
from pydantic import ValidationError

from schemas import TOPICS, BookDelta, Trade
from schemas.examples import EXAMPLES
from schemas.generate import EXAMPLES_DIR, JSON_DIR, stale_files


def test_committed_artefacts_match_the_models() -> None:
    stale = stale_files()
    assert not stale, f"regenerate with `python -m schemas.generate`: {[str(p) for p in stale]}"


def test_every_topic_has_a_schema_and_an_example() -> None:
    for contract in TOPICS:
        assert (JSON_DIR / f"{contract.name}.schema.json").exists()
        assert (EXAMPLES_DIR / f"{contract.name}.json").exists()
        assert contract.name in EXAMPLES
        assert contract.name.rsplit(".", 1)[-1].startswith("v"), "topic names carry a version"


@pytest.mark.parametrize("contract", TOPICS, ids=lambda c: c.name)
def test_example_validates_against_json_schema_and_model(contract) -> None:  # type: ignore[no-untyped-def]
    schema = json.loads((JSON_DIR / f"{contract.name}.schema.json").read_text())
    example = json.loads((EXAMPLES_DIR / f"{contract.name}.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(example, schema, cls=jsonschema.Draft202012Validator)
    contract.payload.validate_python(example)


def test_decimals_travel_as_strings_and_round_trip_exactly() -> None:
    trade = EXAMPLES["md.trades.v1"]
    wire = json.loads(trade.model_dump_json())
    assert wire["price"] == "61800.30"
    assert Trade.model_validate_json(trade.model_dump_json()) == trade


def test_key_is_exchange_and_symbol() -> None:
    assert EXAMPLES["md.trades.v1"].key == "binance_usdm:BTC-USDT-PERP"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("field", "value"),
    [("symbol", "BTCUSDT"), ("price", "-1"), ("exchange", "nasdaq"), ("unexpected", 1)],
)
def test_contract_rejects_bad_values(field: str, value: object) -> None:
    payload = json.loads(EXAMPLES["md.trades.v1"].model_dump_json())
    payload[field] = value
    with pytest.raises(ValidationError):
        Trade.model_validate(payload)


def test_book_levels_are_price_quantity_pairs() -> None:
    delta = EXAMPLES["md.book.v1"]
    assert isinstance(delta, BookDelta)
    assert delta.bids[0] == (Decimal("61800.20"), Decimal("2.507"))
    assert json.loads(delta.model_dump_json())["asks"][1] == ["61814.90", "0.000"]
