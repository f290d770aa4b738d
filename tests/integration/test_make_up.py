"""``make up`` as a new user runs it: fresh state, 60 s, then every public topic equals its table.

Runs ``perpwatch up --duration 60`` on a private stack with fresh state (its own ports and
state directory), reads its output as a user would, and checks what the issue promised: the
topics' records equal their tables' rows, the market tables are filled, and no ERROR line.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.private_stack import PrivateStack

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_make_up_on_fresh_state_keeps_topics_and_tables_equal(
    private_stack: PrivateStack, tmp_path: Path
) -> None:
    if os.environ.get("PERPWATCH_SKIP_MAKE_UP_TEST"):
        pytest.skip("PERPWATCH_SKIP_MAKE_UP_TEST is set")
    env = {
        **private_stack.env,
        "PERPWATCH_KAFKA_BOOTSTRAP": private_stack.kafka_bootstrap,
        "PERPWATCH_DATABASE_URL": private_stack.database_url,
        "PERPWATCH_INSTRUMENT_CACHE_DIR": str(tmp_path / "instruments"),
    }
    log_path = tmp_path / "up.log"
    with log_path.open("wb") as log:
        result = subprocess.run(
            [sys.executable, "-m", "services.cli", "up", "--duration", "60", "--no-stop-stack"],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=400,
        )
    output = log_path.read_text()
    assert result.returncode == 0, output[-4000:]
    errors = [line for line in output.splitlines() if " ERROR " in line or "Traceback" in line]
    assert errors == [], "\n".join(errors[:20])
    compared = re.findall(
        r"^\s*(\S+): (\d+) records \((\d+) distinct keys\) \| (\S+): (\d+) rows \| (.*)$", output, re.M
    )
    assert {topic for topic, *_ in compared} >= {"book.bbo.v1", "md.trades.v1", "md.funding.v1"}, output[
        -3000:
    ]
    for topic, records, _, table, rows, verdict in compared:
        print(f"{topic}: {records} records, {table}: {rows} rows, {verdict}")
        assert verdict.strip() == "equal", f"{topic} against {table}: {verdict}"
    counts = {table: int(rows) for _, _, _, table, rows, _ in compared}
    assert counts["book_bbo"] > 1000
    assert counts["market_trades"] > 100
    assert counts["funding_rates"] > 0
    # The analytics services' outputs reach their tables too.
    assert counts["candles"] > 0
    assert counts["liquidity_metrics"] > 0
    assert counts["arb_spreads"] > 0
