"""``perpwatch venue run``: the typer app prints one JSON event per line."""

from pathlib import Path

import orjson
import typer
from typer.testing import CliRunner

from services.matching.cli import app
from tests.matching.matching_support import SCENARIO_DIR, run_file

RUNNER = CliRunner()


def test_run_prints_every_event_as_jsonl() -> None:
    path = SCENARIO_DIR / "limit_price_time_priority.jsonl"
    result = RUNNER.invoke(app, ["run", "--commands", str(path)])
    assert result.exit_code == 0, result.output
    printed = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert printed == run_file(path)
    assert {event["kind"] for event in printed} == {"symbol", "order", "trade", "l2", "bbo"}


def test_run_reads_stdin_and_reports_the_state_hash() -> None:
    commands = (SCENARIO_DIR / "market_orders.jsonl").read_text()
    result = RUNNER.invoke(app, ["run", "--commands", "-", "--state-hash"], input=commands)
    assert result.exit_code == 0, result.output
    assert "state_hash " in result.stderr
    assert len(result.stdout.splitlines()) == len(run_file(SCENARIO_DIR / "market_orders.jsonl"))


def test_run_rejects_a_missing_file(tmp_path: Path) -> None:
    result = RUNNER.invoke(app, ["run", "--commands", str(tmp_path / "nope.jsonl")])
    assert result.exit_code != 0


def test_mounts_as_a_sub_command_group() -> None:
    """The lead mounts the app as ``perpwatch venue``; ``venue run`` must resolve."""
    parent = typer.Typer()

    @parent.callback()
    def root() -> None:
        """perpwatch"""

    parent.add_typer(app, name="venue")
    path = SCENARIO_DIR / "ioc_orders.jsonl"
    result = RUNNER.invoke(parent, ["venue", "run", "--commands", str(path)])
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == len(run_file(path))
