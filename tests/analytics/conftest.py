"""Real trades for the analytics tests: the Binance USD-M and COIN-M captures, normalized by the CLI."""

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from schemas.market_data import Trade


def normalized(capture: Path) -> list[bytes]:
    """The capture's events as ``perpwatch normalize`` prints them (its public interface)."""
    printed = subprocess.run(
        [sys.executable, "-m", "services.cli", "normalize", str(capture)],
        capture_output=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    ).stdout
    return printed.splitlines()


def trades_of(capture: Path, lines: list[bytes] | None = None) -> list[Trade]:
    trades = []
    for line in normalized(capture) if lines is None else lines:
        envelope = orjson.loads(line)
        if envelope["topic"] == "md.trades.v1":
            trades.append(Trade.model_validate(envelope["event"]))
    return trades


@pytest.fixture(scope="session")
def binance_lines(binance_capture: Path) -> list[bytes]:
    return normalized(binance_capture)


@pytest.fixture(scope="session")
def binance_trades(binance_capture: Path, binance_lines: list[bytes]) -> list[Trade]:
    return trades_of(binance_capture, binance_lines)


@pytest.fixture(scope="session")
def coinm_trades(shared_data: Path) -> list[Trade]:
    path = shared_data / "hftbacktest" / "cm" / "btcusd_perp_20240808.gz"
    if not path.exists():
        pytest.skip(f"COIN-M capture not found at {path}")
    return trades_of(path)
