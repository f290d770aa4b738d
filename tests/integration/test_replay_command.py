"""``perpwatch replay`` on the real broker: ``--instruments FILE`` and the summary line (issue 15)."""

import importlib
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from services.runtime.settings import Settings
from tests.ingest.test_offline_commands import _accounted, _gate_trade


def test_replay_takes_instruments_files_and_ends_with_a_summary_line(
    settings: Settings, shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    main = importlib.import_module("services.cli.main")  # the package's `main` attribute is the function
    monkeypatch.setattr(main, "get_settings", lambda: settings)
    frames = tmp_path / "gate.jsonl"
    frames.write_text(_gate_trade("KNC_USDT") + "\n" + _gate_trade("NOSUCH_USDT") + "\n")
    listing = shared_data / "cryptofeed" / "GATEIO_FUTURES.0"  # KNC_USDT's contract size

    result = CliRunner().invoke(
        main.app,
        ["replay", "--exchange", "gateio", "--format", "raw", "--instruments", str(listing), str(frames)],
    )
    assert result.exit_code == 0, result.output
    summary: dict[str, Any] = orjson.loads(result.stderr.strip().splitlines()[-1])
    assert _accounted(summary)
    assert (summary["frames"], summary["events"]) == (2, 1)
    assert summary["rejected_by_reason"] == {"unknown_instrument": 1}  # dead-lettered with its reason
    assert summary["events_by_topic"] == {"md.trades.v1": 1}
