"""Offline checks of the Grafana provisioning and dashboards in deploy/grafana.

Every SQL query of every dashboard (panels and template variables) may only read the tables
perpwatch writes, must bound its scan with $__timeFilter, and, when the migrations are
present, must name tables the migrations actually create.
"""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
GRAFANA_DIR = REPO_ROOT / "deploy" / "grafana"
DASHBOARDS = sorted((GRAFANA_DIR / "dashboards").glob("*.json"))
MIGRATIONS_DIR = REPO_ROOT / "services" / "db" / "migrations"
# TimescaleDB-in-WASM used to run the dashboard SQL (installed by `npm ci` there).
PGLITE_PROJECT = REPO_ROOT / "deploy" / "timescale-check"
DASHBOARD_SQL_RUNNER = Path(__file__).with_name("dashboard_sql.mjs")
# What the runner's sample rows hold, and a time range around them.
SAMPLE_EXCHANGE = "binance_usdm"
SAMPLE_SYMBOL = "BTC-USDT-PERP"
SAMPLE_RANGE = ("2025-01-01T00:00:00Z", "2025-01-01T01:00:00Z")
DATASOURCE_TYPE = "grafana-postgresql-datasource"

# Tables and continuous aggregates of the database contract.
KNOWN_TABLES = {
    "market_trades",
    "book_bbo",
    "funding_rates",
    "open_interest",
    "liquidations",
    "candles",
    "trades_ohlcv_1m",
    "book_spread_1m",
}
TABLE_REFERENCE = re.compile(r"\b(?:FROM|JOIN)\s+(?!\()([A-Za-z_][\w.]*)", re.IGNORECASE)
# FROM inside EXTRACT(EPOCH FROM ...) names a field, not a table.
EXTRACT_CALL = re.compile(r"EXTRACT\s*\(\s*\w+\s+FROM\b", re.IGNORECASE)
CREATED_RELATION = re.compile(
    r"CREATE\s+(?:TABLE|(?:MATERIALIZED\s+)?VIEW)\s+(?:IF\s+NOT\s+EXISTS\s+)?([A-Za-z_][\w.]*)",
    re.IGNORECASE,
)


def load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def all_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    panels = []
    for panel in dashboard["panels"]:
        panels.append(panel)
        panels.extend(panel.get("panels", []))  # collapsed rows nest their panels
    return panels


def queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, sql) of every panel target and query variable."""
    found = []
    for panel in all_panels(dashboard):
        for target in panel.get("targets", []):
            found.append((f"panel {panel['title']!r} target {target['refId']}", target["rawSql"]))
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            found.append((f"variable {variable['name']}", variable["query"]))
    return found


def referenced_tables(sql: str) -> set[str]:
    return {
        name.split(".")[-1].lower() for name in TABLE_REFERENCE.findall(EXTRACT_CALL.sub("EXTRACT(", sql))
    }


@pytest.fixture(params=DASHBOARDS, ids=[p.name for p in DASHBOARDS])
def dashboard(request: pytest.FixtureRequest) -> dict[str, Any]:
    return load(request.param)


def test_there_is_a_market_dashboard() -> None:
    assert "perpwatch-market.json" in [p.name for p in DASHBOARDS]


def test_dashboard_structure(dashboard: dict[str, Any]) -> None:
    assert re.fullmatch(r"[a-z0-9-]{1,40}", dashboard["uid"])
    panels = all_panels(dashboard)
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in panels:
        if panel["type"] == "row":
            continue
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        assert panel["datasource"] == {"type": DATASOURCE_TYPE, "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["rawQuery"] is True
            assert target["format"] in {"time_series", "table"}


def test_dashboard_template_variables(dashboard: dict[str, Any]) -> None:
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == DATASOURCE_TYPE
    for name in ("exchange", "symbol"):
        assert variables[name]["type"] == "query"
        assert variables[name]["multi"] is True
        assert variables[name]["includeAll"] is True
        assert variables[name]["datasource"]["uid"] == "${datasource}"
        # Grafana shows `definition` and runs `query`; they must not disagree.
        assert variables[name]["definition"] == variables[name]["query"]
    assert "$exchange" in variables["symbol"]["query"], "symbol list follows the exchange choice"


def test_every_query_reads_only_known_tables(dashboard: dict[str, Any]) -> None:
    found = queries(dashboard)
    assert found
    for where, sql in found:
        tables = referenced_tables(sql)
        assert tables, f"{where}: no table found in {sql!r}"
        assert tables <= KNOWN_TABLES, f"{where}: unknown tables {sorted(tables - KNOWN_TABLES)}"


def test_every_query_is_bounded_by_the_time_range(dashboard: dict[str, Any]) -> None:
    for where, sql in queries(dashboard):
        # Every branch of a UNION needs its own filter, or that branch scans the whole table.
        for branch in re.split(r"\bUNION(?:\s+ALL)?\b", sql, flags=re.IGNORECASE):
            assert "$__timeFilter(" in branch, f"{where}: unbounded scan in {branch.strip()!r}"


def test_panel_queries_follow_the_market_selection(dashboard: dict[str, Any]) -> None:
    for panel in all_panels(dashboard):
        for target in panel.get("targets", []):
            sql = target["rawSql"]
            assert sql.count("IN ($exchange)") == sql.count("IN ($symbol)") >= 1, panel["title"]


def test_market_dashboard_covers_the_required_views() -> None:
    dashboard = load(GRAFANA_DIR / "dashboards" / "perpwatch-market.json")
    sql_by_title = {p["title"]: " ".join(t["rawSql"] for t in p["targets"]) for p in all_panels(dashboard)}
    book = [t for t, sql in sql_by_title.items() if "book_bbo" in sql]
    trades = [t for t, sql in sql_by_title.items() if "market_trades" in sql]
    assert any(
        "bid_price" in sql_by_title[t] and "ask_price" in sql_by_title[t] and "mid" in sql_by_title[t]
        for t in book
    )
    assert any("spread_bps" in sql_by_title[t] for t in book)
    assert any("'1m'" in sql_by_title[t] and "sum(quantity)" in sql_by_title[t] for t in trades)
    assert any(
        "book_bbo" in sql and "market_trades" in sql and "count(*)" in sql for sql in sql_by_title.values()
    )


def test_dashboard_tables_exist_in_the_migrations() -> None:
    migrations = sorted(MIGRATIONS_DIR.glob("*.sql")) if MIGRATIONS_DIR.is_dir() else []
    if not migrations:
        pytest.skip(f"no migrations in {MIGRATIONS_DIR}: nothing to cross-check the dashboards against")
    created = {
        name.split(".")[-1].lower()
        for path in migrations
        for name in CREATED_RELATION.findall(path.read_text())
    }
    for path in DASHBOARDS:
        for where, sql in queries(load(path)):
            missing = referenced_tables(sql) - created
            assert not missing, f"{path.name} {where}: {sorted(missing)} not created by {MIGRATIONS_DIR}"


def test_table_extraction_ignores_extract_from() -> None:
    sql = "SELECT EXTRACT(EPOCH FROM now() - max(ts)) FROM book_bbo JOIN market_trades USING (symbol)"
    assert referenced_tables(sql) == {"book_bbo", "market_trades"}


def expand_grafana_macros(sql: str) -> str:
    """Expand the macros the dashboards use the way Grafana's PostgreSQL source does with
    `timescaledb: true`, for a 1-minute interval and the runner's sample market."""
    sql = re.sub(
        r"\$__timeGroupAlias\((\w+),[^)]*\)", lambda m: f"time_bucket('60s', {m[1]}) AS \"time\"", sql
    )
    sql = re.sub(r"\$__timeFilter\((\w+)\)", rf"\1 BETWEEN '{SAMPLE_RANGE[0]}' AND '{SAMPLE_RANGE[1]}'", sql)
    sql = sql.replace("$exchange", f"'{SAMPLE_EXCHANGE}'").replace("$symbol", f"'{SAMPLE_SYMBOL}'")
    assert "$" not in sql, f"unexpanded macro or variable in {sql!r}"
    return sql


def test_dashboard_sql_runs_against_the_migrated_schema(tmp_path: Path) -> None:
    """Every query, macros expanded, runs on TimescaleDB with the migrations applied and
    returns rows for the sample data: catches renamed columns, not just renamed tables."""
    node = shutil.which("node")
    if node is None or not (PGLITE_PROJECT / "node_modules" / "@unni-craftsman" / "pglite").is_dir():
        message = (
            f"node and `npm ci` in {PGLITE_PROJECT.relative_to(REPO_ROOT)} are needed to run dashboard SQL"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    if not MIGRATIONS_DIR.is_dir():
        pytest.skip(f"no migrations in {MIGRATIONS_DIR}")
    expanded = [
        {"where": f"{path.name} {where}", "sql": expand_grafana_macros(sql)}
        for path in DASHBOARDS
        for where, sql in queries(load(path))
    ]
    queries_file = tmp_path / "queries.json"
    queries_file.write_text(json.dumps(expanded))
    result = subprocess.run(
        [node, str(DASHBOARD_SQL_RUNNER), str(PGLITE_PROJECT), str(MIGRATIONS_DIR), str(queries_file)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    outcomes = json.loads(result.stdout)
    assert len(outcomes) == len(expanded)
    failures = [f"{o['where']}: {o['error']}" for o in outcomes if not o["ok"]]
    assert failures == []
    empty = [o["where"] for o in outcomes if not o["rows"]]
    assert empty == [], "queries returned no rows for the sample data"
    for outcome in outcomes:
        if "variable exchange" in outcome["where"]:
            assert outcome["rows"] == [{"exchange": SAMPLE_EXCHANGE}]


def test_datasource_provisioning() -> None:
    config = yaml.safe_load((GRAFANA_DIR / "provisioning" / "datasources" / "timescaledb.yaml").read_text())
    assert config["apiVersion"] == 1
    (datasource,) = config["datasources"]
    assert datasource["type"] == DATASOURCE_TYPE
    assert datasource["jsonData"]["timescaledb"] is True
    assert datasource["jsonData"]["database"]
    assert "password" in datasource["secureJsonData"]
    assert "password" not in datasource, "passwords belong in secureJsonData"


def test_dashboard_provider_provisioning() -> None:
    config = yaml.safe_load((GRAFANA_DIR / "provisioning" / "dashboards" / "perpwatch.yaml").read_text())
    assert config["apiVersion"] == 1
    (provider,) = config["providers"]
    assert provider["type"] == "file"
    assert provider["allowUiUpdates"] is False
