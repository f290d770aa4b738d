"""The TimescaleDB companion DDL, run on real TimescaleDB (2.23 in WASM) by deploy/timescale-check.

Needs Node 20 and `npm ci` in deploy/timescale-check (`make deps`). Skips without them,
except under CI=true, where a missing harness is a failure.
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from services.db import MigrationError, discover_migrations, split_statements

REPO_ROOT = Path(__file__).resolve().parents[2]
CHECK_DIR = REPO_ROOT / "deploy" / "timescale-check"
CHECK_SCRIPT = CHECK_DIR / "check.mjs"
CHECK_TIMEOUT_S = 180

HYPERTABLES = {
    "market_trades",
    "book_bbo",
    "book_depth",
    "funding_rates",
    "open_interest",
    "liquidations",
    "candles",
    "venue_orders",
    "venue_trades",
    "arb_opportunities",
    "arb_spreads",
    "liquidity_metrics",
    "liquidity_anomalies",
    "analytics_spikes",
    "analytics_flow_windows",
    "analytics_large_trades",
    "analytics_checkpoints",
}
# Small tables kept uncompressed: crunch episodes (rare) and restart checkpoints (read whole).
UNCOMPRESSED = {"liquidity_anomalies", "analytics_checkpoints"}
COMPRESSED = HYPERTABLES - UNCOMPRESSED
# Arbitrage rows belong to a pair of venues, not to one exchange.
PAIR_SEGMENTS = {"arb_opportunities", "arb_spreads"}
CONTINUOUS_AGGREGATES = {
    "trades_ohlcv_1m": "market_trades",
    "book_spread_1m": "book_bbo",
    "candles_1h": "candles",
    "candles_1d": "candles",
}


def _node_or_skip() -> str:
    node = shutil.which("node")
    missing = None
    if node is None:
        missing = "node is not installed"
    elif not (CHECK_DIR / "node_modules" / "@unni-craftsman" / "pglite").is_dir():
        missing = f"{CHECK_DIR / 'node_modules'} is absent"
    if missing is None and node is not None:
        return node
    message = f"{missing}: run `make deps` (npm ci in deploy/timescale-check) to check the TimescaleDB DDL"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must run the TimescaleDB DDL check, but {message}")
    pytest.skip(message)


def _run_check(*args: str) -> subprocess.CompletedProcess[str]:
    node = _node_or_skip()
    return subprocess.run(
        [node, str(CHECK_SCRIPT), *args],
        cwd=CHECK_DIR,
        capture_output=True,
        text=True,
        timeout=CHECK_TIMEOUT_S,
        check=False,
    )


@pytest.fixture(scope="module")
def summary() -> dict[str, Any]:
    result = _run_check()
    assert result.returncode == 0, f"check.mjs failed:\n{result.stderr}"
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one JSON line, got:\n{result.stdout}"
    parsed: dict[str, Any] = json.loads(lines[0])
    return parsed


def test_every_table_is_a_hypertable_on_ts_with_compression(summary: dict[str, Any]) -> None:
    hypertables = {h["name"]: h for h in summary["hypertables"]}
    assert set(hypertables) == HYPERTABLES
    assert all(h["time_column"] == "ts" for h in hypertables.values())
    assert {name for name, h in hypertables.items() if h["compression_enabled"]} == COMPRESSED
    for table in COMPRESSED:
        segments = (
            ["symbol", "buy_exchange", "sell_exchange"] if table in PAIR_SEGMENTS else ["exchange", "symbol"]
        )
        assert summary["compression_settings"][table] == {
            "segmentby": segments,
            "orderby": ["ts DESC"],
        }


def test_continuous_aggregates_exist_on_their_sources(summary: dict[str, Any]) -> None:
    caggs = {c["name"]: c["source"] for c in summary["continuous_aggregates"]}
    assert caggs == CONTINUOUS_AGGREGATES


def test_policies_exist(summary: dict[str, Any]) -> None:
    jobs = summary["jobs"]
    assert set(jobs["compression"]) == COMPRESSED
    assert jobs["compression"]["book_bbo"] == "1 day"
    assert jobs["compression"]["market_trades"] == "2 days"
    assert jobs["retention"]["book_bbo"] == "30 days"
    assert jobs["retention"]["market_trades"] == "90 days"
    assert {"open_interest", "liquidations"} <= set(jobs["retention"])
    assert set(jobs["continuous_aggregate_refresh"]) == set(CONTINUOUS_AGGREGATES)


def test_companions_are_idempotent_and_aggregates_compute(summary: dict[str, Any]) -> None:
    assert summary["companions_reapplied"] is True
    assert summary["compressed_chunks_before_reapply"] >= 2
    aggregates = summary["aggregates"]
    assert aggregates["market_trades_rows"] == 3
    first_minute = aggregates["trades_ohlcv_1m"][0]
    assert first_minute == {
        "bucket": "00:00",
        "open": "100",
        "high": "101",
        "low": "100",
        "close": "101",
        "volume": "3",
        "notional": "301",
        "trade_count": 2,
    }
    assert [b["avg_spread_bps"] for b in aggregates["book_spread_1m"]] == ["3.0000"]


def test_check_and_migrate_split_companions_identically(summary: dict[str, Any]) -> None:
    expected = {}
    for migration in discover_migrations():
        if migration.timescale_filename and migration.timescale_sql:
            statements = split_statements(migration.timescale_sql, migration.timescale_filename)
            digest = hashlib.sha256("\0".join(statements).encode()).hexdigest()
            expected[migration.timescale_filename] = {"count": len(statements), "sha256": digest}
    assert expected
    assert summary["statements"] == expected
    applied = [(m["version"], m["base"], m["companion"]) for m in summary["migrations"]]
    assert applied == [(m.version, m.base_filename, m.timescale_filename) for m in discover_migrations()]


def test_check_reports_failing_file_and_statement(tmp_path: Path) -> None:
    (tmp_path / "0001_demo.sql").write_text("CREATE TABLE demo (ts timestamptz NOT NULL, v int);\n")
    (tmp_path / "0001_demo.timescale.sql").write_text(
        "SELECT create_hypertable('demo', by_range('ts'));\nSELECT no_such_function('demo');\n"
    )
    result = _run_check(str(tmp_path))
    assert result.returncode != 0
    assert "0001_demo.timescale.sql: statement 2 of 2 failed" in result.stderr
    assert "no_such_function('demo')" in result.stderr
    assert result.stdout == ""


def test_split_statements_rule() -> None:
    text = (
        "-- header; comment lines never end a statement;\n"
        "SELECT a(1,\n"
        "    2);\n"
        "\n"
        "-- between\n"
        "CREATE MATERIALIZED VIEW v AS\n"
        "SELECT 1;   \n"
        "-- trailing comment\n"
    )
    assert split_statements(text, "x.timescale.sql") == [
        "-- header; comment lines never end a statement;\nSELECT a(1,\n    2);",
        "-- between\nCREATE MATERIALIZED VIEW v AS\nSELECT 1;",
    ]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("SELECT 1;\nSELECT 2\n", "unterminated statement"),
        ("DO $$ BEGIN END $$;\n", r"'\$\$' is not allowed"),
        ("SELECT /* x */ 1;\n", r"'/\*' is not allowed"),
    ],
)
def test_split_statements_rejects(text: str, error: str) -> None:
    with pytest.raises(MigrationError, match=error):
        split_statements(text, "x.timescale.sql")


def test_packaged_migrations_are_discovered_in_order() -> None:
    migrations = discover_migrations()
    versions = [m.version for m in migrations]
    assert versions == sorted(set(versions))
    first = migrations[0]
    assert (first.base_filename, first.timescale_filename) == (
        "0001_market_data.sql",
        "0001_market_data.timescale.sql",
    )
    assert re.fullmatch(r"[0-9a-f]{64}:[0-9a-f]{64}", first.checksum)


@pytest.mark.parametrize(
    ("files", "error"),
    [
        ({"0001_a.sql": "SELECT 1;", "0001_b.sql": "SELECT 1;"}, "duplicate migration version 1"),
        (
            {"0001_a.sql": "SELECT 1;", "0002_b.timescale.sql": "SELECT 1;"},
            "without a base file: 0002_b.timescale.sql",
        ),
        ({"0001_a.sql": "SELECT 1;", "0001_b.timescale.sql": "SELECT 1;"}, "does not match its base file"),
        ({"0001_a.sql": "SELECT 1;", "0001_a.timescale.sql": "SELECT 1"}, "unterminated statement"),
    ],
)
def test_discovery_rejects_inconsistent_files(tmp_path: Path, files: dict[str, str], error: str) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text + "\n")
    with pytest.raises(MigrationError, match=error):
        discover_migrations(tmp_path)
