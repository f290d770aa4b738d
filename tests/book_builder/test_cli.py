"""``perpwatch book check``: the offline replay prints one JSON summary line last."""

from pathlib import Path

import orjson
from typer.testing import CliRunner

from services.book_builder.cli import app

KEYS = ["messages", "bbo_checks", "mismatches", "checksum_checks", "checksum_failures", "gaps", "resyncs"]


def test_check_a_binance_hftbacktest_capture(binance_capture: Path) -> None:
    result = CliRunner().invoke(
        app, ["check", "--exchange", "binance_usdm", "--format", "hftbacktest", str(binance_capture)]
    )
    assert result.exit_code == 0, result.output
    summary = orjson.loads(result.stdout.strip().splitlines()[-1])
    assert list(summary) == KEYS
    assert summary["messages"] == 93_954
    assert summary["bbo_checks"] >= 100
    assert (summary["mismatches"], summary["gaps"], summary["resyncs"]) == (0, 0, 0)


def test_check_a_cryptofeed_capture_with_its_rest_snapshots(cryptofeed_dir: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "check",
            "--exchange",
            "gateio",
            "--format",
            "cryptofeed",
            str(cryptofeed_dir / "GATEIO_FUTURES.ws.1.0"),
        ],
    )
    assert result.exit_code == 0, result.output
    summary = orjson.loads(result.stdout.strip().splitlines()[-1])
    assert summary["gaps"] == 0
    assert summary["mismatches"] == 0
    assert summary["messages"] > 400  # the WebSocket frames plus the REST snapshots of GATEIO_FUTURES.http.*


def test_check_rejects_an_unknown_format(binance_capture: Path) -> None:
    result = CliRunner().invoke(
        app, ["check", "--exchange", "binance_usdm", "--format", "csv", str(binance_capture)]
    )
    assert result.exit_code == 2
