"""Every event the matching core emits, and every scenario command, fits its venue.*.v1 contract."""

from pathlib import Path

import orjson
import pytest

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


def test_well_formed_scenario_commands_validate_against_the_command_contract() -> None:
    contract = topic("venue.commands.v1")
    accepted = 0
    lines = [line for path in scenario_paths() for line in path.read_bytes().splitlines()]
    for line in lines:
        if not line.strip() or line.startswith(b"#"):
            continue
        try:
            raw = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(raw, dict) or raw.get("type") not in {"add_symbol", "submit", "cancel", "amend"}:
            continue
        try:
            contract.payload.validate_python(raw)
            accepted += 1
        except ValueError:
            continue  # scenarios also feed deliberately malformed commands
    assert accepted > 50
