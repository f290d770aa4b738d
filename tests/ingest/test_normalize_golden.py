"""The normalizer's output on the real Binance USD-M capture, byte for byte (issue 16).

Speed work on the normalize path (decoding, Decimal handling, parsers) must not change one
byte of what it emits: the sha256 of ``perpwatch normalize`` stdout on the capture was recorded
before that work (``golden/binance_usdm_btcusdt_20240808.json``). A deliberate change to the
output (a contract change, a parser fix) updates the digest in the same commit, and says why.
"""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden" / "binance_usdm_btcusdt_20240808.json"
CAPTURE = REPO.parent / "shared" / "data" / "hftbacktest" / "usdm" / "btcusdt_20240808.gz"


@pytest.mark.skipif(not CAPTURE.exists(), reason=f"real capture not found: {CAPTURE}")
def test_normalize_output_on_the_real_capture_is_unchanged() -> None:
    golden = json.loads(GOLDEN.read_text())
    result = subprocess.run(
        [sys.executable, "-m", "services.cli", "normalize", str(CAPTURE)],
        cwd=REPO,
        capture_output=True,
        check=True,
        timeout=300,
    )
    summary = json.loads(result.stderr.decode().strip().splitlines()[-1])
    assert summary == golden["summary"]
    assert hashlib.sha256(result.stdout).hexdigest() == golden["stdout_sha256"]
