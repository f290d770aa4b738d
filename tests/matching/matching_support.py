"""Shared helpers for the matching-engine tests (scenario files, engine drivers)."""

from collections.abc import Iterable
from pathlib import Path

import orjson

from services.matching.engine import MatchingEngine
from services.matching.runner import run_commands

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"
EXPECTED_SUFFIX = ".expected.jsonl"

# Static order fields repeated on every event of an order: expected files keep them
# only on the "accepted" event so they stay readable.
_STATIC_ORDER_FIELDS = ("account", "order_id", "side", "order_type", "tif")


def scenario_paths() -> list[Path]:
    return sorted(p for p in SCENARIO_DIR.glob("*.jsonl") if not p.name.endswith(EXPECTED_SUFFIX))


def expected_path(commands: Path) -> Path:
    return commands.with_name(commands.stem + EXPECTED_SUFFIX)


def run_file(path: Path, engine: MatchingEngine | None = None) -> list[dict[str, object]]:
    with path.open("rb") as lines:
        return list(run_commands(lines, engine))


def expected_view(event: dict[str, object]) -> dict[str, object]:
    """The part of an output event that an expected file pins down."""
    view = dict(event)
    if view["kind"] == "order" and view.get("status") not in ("accepted", "rejected"):
        for name in _STATIC_ORDER_FIELDS:
            view.pop(name, None)
    return view


def read_jsonl(path: Path) -> list[dict[str, object]]:
    rows = []
    for line in path.read_bytes().splitlines():
        if line.strip():
            row = orjson.loads(line)
            assert isinstance(row, dict), f"{path}: every expected line must be an object"
            rows.append(row)
    return rows


def write_jsonl(path: Path, rows: Iterable[dict[str, object]]) -> None:
    path.write_bytes(b"".join(orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE) for row in rows))


def mismatches(actual: list[dict[str, object]], expected: list[dict[str, object]]) -> list[str]:
    """Human-readable differences; each expected row must be a subset of its actual event."""
    problems = []
    if len(actual) != len(expected):
        problems.append(f"{len(actual)} events produced, {len(expected)} expected")
    for index, (got, want) in enumerate(zip(actual, expected, strict=False)):
        wrong = {
            key: (got.get(key, "<missing>"), value) for key, value in want.items() if got.get(key) != value
        }
        if wrong:
            details = ", ".join(f"{key}: got {g!r} want {w!r}" for key, (g, w) in wrong.items())
            problems.append(f"event #{index + 1} (seq {got.get('seq')}): {details}")
    return problems
