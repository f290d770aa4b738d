"""Rewrite scenario expected files from the engine's current output.

    python tests/matching/regen_scenarios.py [NAME ...]

Only for a deliberate behaviour change: review ``git diff tests/matching/scenarios``
line by line afterwards — the expected files are the specification, not a snapshot to
refresh whenever a test fails.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.matching.matching_support import (
    expected_path,
    expected_view,
    run_file,
    scenario_paths,
    write_jsonl,
)


def main(names: list[str]) -> None:
    for path in scenario_paths():
        if names and path.stem not in names:
            continue
        write_jsonl(expected_path(path), (expected_view(event) for event in run_file(path)))
        print(f"wrote {expected_path(path).name}")


if __name__ == "__main__":
    main(sys.argv[1:])
