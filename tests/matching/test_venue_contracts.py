"""Every event the matching core emits, and every scenario command, fits its venue.*.v1 contract."""

from pathlib import Path

import orjson
import pytest
from pydantic import ValidationError

from schemas.topics import topic
from services.matching.topics import output_topic
from tests.matching.matching_support import run_file, scenario_paths


@pytest.mark.parametrize("path", scenario_paths(), ids=lambda p: p.stem)
def test_scenario_events_validate_against_their_topic_contract(path: Path) -> None:
    events = run_file(path)
    assert events
    for event in events:
        contract = topic(output_topic(str(event["kind"])))
        parsed = contract.payload.validate_json(orjson.dumps(event))
        # Nothing the core sends is lost or renamed by the contract.
        assert parsed.model_dump(exclude_none=True) == {k: v for k, v in event.items() if v is not None}


# The scenarios' deliberately malformed commands, (file, line) -> the field the contract refuses.
# Every other command of every scenario must be accepted: a contract change that wrongly refused
# good commands (or let a malformed one through) changes this set and fails.
MALFORMED_COMMANDS = {
    ("self_trade_prevention", 20): "submit.stp",
    ("symbol_config", 15): "add_symbol.taker_fee_bps",
    ("symbol_config", 16): "add_symbol.leverage",
    ("symbol_config", 17): "add_symbol.symbol",
    ("validation", 9): "submit.price",
    ("validation", 10): "submit.price",
    ("validation", 11): "submit.price",
    ("validation", 12): "submit.price",
    ("validation", 14): "submit.quantity",
    ("validation", 15): "submit.side",
    ("validation", 16): "submit.order_type",
    ("validation", 17): "submit.tif",
    ("validation", 18): "submit.quantity",
    ("validation", 20): "submit.client_order_id",
    ("validation", 21): "submit.account",
    ("validation", 22): "submit.client_order_id",
    ("validation", 24): "submit.price",
    ("validation", 33): "cancel.price",
}


def test_well_formed_scenario_commands_validate_against_the_command_contract() -> None:
    contract = topic("venue.commands.v1")
    accepted: set[tuple[str, int]] = set()
    refused: dict[tuple[str, int], str] = {}
    for path in scenario_paths():
        for number, line in enumerate(path.read_bytes().splitlines(), start=1):
            if not line.strip() or line.startswith(b"#"):
                continue
            try:
                raw = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if not isinstance(raw, dict) or raw.get("type") not in {
                "add_symbol",
                "submit",
                "cancel",
                "amend",
            }:
                continue
            try:
                contract.payload.validate_python(raw)
                accepted.add((path.stem, number))
            except ValidationError as exc:
                refused[(path.stem, number)] = ".".join(str(part) for part in exc.errors()[0]["loc"])
    assert refused == MALFORMED_COMMANDS
    assert len(accepted) == 180
