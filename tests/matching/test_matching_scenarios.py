"""Table-driven scenarios: each ``scenarios/NAME.jsonl`` command file (the runner's own
input format) is fed through the runner and compared event by event with
``NAME.expected.jsonl``, where every line must be a subset of the matching event."""

from pathlib import Path

import pytest

from tests.matching.matching_support import expected_path, mismatches, read_jsonl, run_file, scenario_paths

SCENARIOS = scenario_paths()


def test_every_scenario_has_expectations() -> None:
    assert len(SCENARIOS) >= 10
    missing = [path.name for path in SCENARIOS if not expected_path(path).is_file()]
    assert not missing, f"scenarios without expected output: {missing}"


@pytest.mark.parametrize("path", SCENARIOS, ids=[path.stem for path in SCENARIOS])
def test_scenario(path: Path) -> None:
    actual = run_file(path)
    problems = mismatches(actual, read_jsonl(expected_path(path)))
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", SCENARIOS, ids=[path.stem for path in SCENARIOS])
def test_scenario_sequence_is_gapless(path: Path) -> None:
    actual = run_file(path)
    assert [event["seq"] for event in actual] == list(range(1, len(actual) + 1))
