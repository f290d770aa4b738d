"""Offline checks of the Grafana provisioning and dashboards in deploy/grafana.

- The dashboards are generated (deploy/grafana/generate_dashboards.py): the committed JSON
  must be what the generator prints.
- Each is valid for the Grafana dashboard schema version it declares (41; the schema is
  tests/deploy/grafana_dashboard.schema.json) and every data source it names is provisioned.
- Every SQL query (panels, template variables, annotations) reads only tables the migrations
  create, is bounded by $__timeFilter, follows the exchange/symbol selection, and runs on
  TimescaleDB with every migration applied after a replay (see dashboard_data.py), returning
  rows.
- Every Prometheus query names metrics the services define.
"""

import importlib.util
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
GRAFANA_DIR = REPO_ROOT / "deploy" / "grafana"
DASHBOARDS = sorted((GRAFANA_DIR / "dashboards").glob("*.json"))
DATASOURCES_DIR = GRAFANA_DIR / "provisioning" / "datasources"
MIGRATIONS_DIR = REPO_ROOT / "services" / "db" / "migrations"
GENERATOR = GRAFANA_DIR / "generate_dashboards.py"
SCHEMA = Path(__file__).with_name("grafana_dashboard.schema.json")
# TimescaleDB-in-WASM used to run the dashboard SQL (installed by `npm ci` there).
PGLITE_PROJECT = REPO_ROOT / "deploy" / "timescale-check"
DASHBOARD_SQL_RUNNER = Path(__file__).with_name("dashboard_sql.mjs")
PG_TYPE = "grafana-postgresql-datasource"
PROM_TYPE = "prometheus"
# Grafana's own annotation source needs no provisioning.
BUILTIN_TYPES = {"grafana"}
REQUIRED_DASHBOARDS = {
    "perpwatch-market": "market overview",
    "perpwatch-arbitrage": "arbitrage",
    "perpwatch-liquidity": "liquidity",
    "perpwatch-flow": "flow",
    "perpwatch-venue": "matching venue",
    "perpwatch-system": "system health",
}
# Exchanges and symbols of the test data (dashboard_data.py, dashboard_seed.sql).
SAMPLE_EXCHANGES = ("binance_usdm", "okx", "perpwatch")
SAMPLE_SYMBOLS = ("BTC-USDT-PERP",)

TABLE_REFERENCE = re.compile(r"\b(?:FROM|JOIN)\s+(?!\()([A-Za-z_][\w.]*)", re.IGNORECASE)
# FROM inside EXTRACT(EPOCH FROM ...) names a field, not a table.
EXTRACT_CALL = re.compile(r"EXTRACT\s*\(\s*\w+\s+FROM\b", re.IGNORECASE)
CREATED_RELATION = re.compile(
    r"CREATE\s+(?:TABLE|(?:MATERIALIZED\s+)?VIEW)\s+(?:IF\s+NOT\s+EXISTS\s+)?([A-Za-z_][\w.]*)",
    re.IGNORECASE,
)
CTE_NAME = re.compile(r"(?:\bWITH|,)\s+([A-Za-z_]\w*)\s+AS\s*\(", re.IGNORECASE)
METRIC_DEFINITION = re.compile(r"\"(perpwatch_[a-z0-9_]+)\"")
PROM_IDENTIFIER = re.compile(r"\b(perpwatch_[a-z0-9_]+)\b")


def load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def all_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    panels = []
    for panel in dashboard["panels"]:
        panels.append(panel)
        panels.extend(panel.get("panels", []))  # collapsed rows nest their panels
    return panels


def variables(dashboard: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in dashboard["templating"]["list"]}


def sql_queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, sql) of every SQL panel target, query variable and annotation."""
    found = []
    for panel in all_panels(dashboard):
        for target in panel.get("targets", []):
            if "rawSql" in target:
                found.append((f"panel {panel['title']!r} target {target['refId']}", target["rawSql"]))
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            found.append((f"variable {variable['name']}", variable["query"]))
    for annotation in dashboard["annotations"]["list"]:
        if "target" in annotation:
            found.append((f"annotation {annotation['name']!r}", annotation["target"]["rawSql"]))
    return found


def prometheus_queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (f"panel {panel['title']!r} target {target['refId']}", target["expr"])
        for panel in all_panels(dashboard)
        for target in panel.get("targets", [])
        if "expr" in target
    ]


def referenced_tables(sql: str) -> set[str]:
    ctes = {name.lower() for name in CTE_NAME.findall(sql)}
    names = {
        name.split(".")[-1].lower() for name in TABLE_REFERENCE.findall(EXTRACT_CALL.sub("EXTRACT(", sql))
    }
    return names - ctes


def migrated_relations() -> set[str]:
    return {
        name.split(".")[-1].lower()
        for path in sorted(MIGRATIONS_DIR.glob("*.sql"))
        for name in CREATED_RELATION.findall(path.read_text())
    }


def provisioned_datasources() -> list[dict[str, Any]]:
    found = []
    for path in sorted(DATASOURCES_DIR.glob("*.yaml")):
        config = yaml.safe_load(path.read_text())
        assert config["apiVersion"] == 1, path.name
        found.extend(config["datasources"])
    return found


def import_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_dashboards", GENERATOR)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(params=DASHBOARDS, ids=[p.name for p in DASHBOARDS])
def dashboard(request: pytest.FixtureRequest) -> dict[str, Any]:
    return load(request.param)


# --- the set of dashboards and their generator ----------------------------------------------


def test_the_required_dashboards_exist() -> None:
    uids = {load(path)["uid"]: path.name for path in DASHBOARDS}
    assert set(uids) == set(REQUIRED_DASHBOARDS)
    for uid, name in uids.items():
        assert name == f"{uid}.json"


def test_committed_dashboards_are_what_the_generator_writes() -> None:
    generated = dict(import_generator().rendered())
    committed = {path.name: path.read_text() for path in DASHBOARDS}
    fix = f"run: .venv/bin/python {GENERATOR.relative_to(REPO_ROOT)}"
    assert sorted(committed) == sorted(generated), fix
    assert [name for name in generated if committed[name] != generated[name]] == [], fix


# --- schema and data sources ------------------------------------------------------------------


def test_dashboard_is_valid_for_its_schema_version(dashboard: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text())
    assert dashboard["schemaVersion"] == schema["properties"]["schemaVersion"]["const"]
    jsonschema.Draft202012Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(dashboard), key=str)
    assert [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors] == []


def test_schema_rejects_broken_dashboards() -> None:
    """Guards the check above against passing vacuously."""
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))
    good = load(DASHBOARDS[0])
    assert validator.is_valid(good)
    breakages: list[Callable[[dict[str, Any]], None]] = [
        lambda d: d.update(schemaVersion=39),
        lambda d: d["panels"][0].update(type="graph-old"),
        lambda d: d["panels"][0]["gridPos"].update(w=30),
        lambda d: d["panels"][0]["targets"][0].update(rawSQL="SELECT 1"),
        lambda d: d["templating"]["list"][0].update(type="queryy"),
        lambda d: d.update(refreh="30s"),
    ]
    for breakage in breakages:
        broken = json.loads(json.dumps(good))
        breakage(broken)
        assert not validator.is_valid(broken)


def test_every_named_datasource_is_provisioned(dashboard: dict[str, Any]) -> None:
    """Panels, targets, variables and annotations name a data source through a datasource
    variable (uid "${name}"); that variable's type must have a provisioned data source."""
    provisioned_types = {d["type"] for d in provisioned_datasources()}
    declared = {name: v["query"] for name, v in variables(dashboard).items() if v["type"] == "datasource"}
    references = []
    for panel in all_panels(dashboard):
        if panel["type"] != "row":
            references.append((panel["title"], panel["datasource"]))
            references += [(panel["title"], t["datasource"]) for t in panel["targets"]]
    references += [(v["name"], v["datasource"]) for v in variables(dashboard).values() if "datasource" in v]
    references += [(a["name"], a["datasource"]) for a in dashboard["annotations"]["list"]]
    for where, reference in references:
        if reference["type"] in BUILTIN_TYPES:
            continue
        match = re.fullmatch(r"\$\{(\w+)\}", reference["uid"])
        assert match, f"{where}: pick the data source with a variable, not a fixed uid"
        assert declared.get(match[1]) == reference["type"], f"{where}: {reference}"
        assert reference["type"] in provisioned_types, (
            f"{where}: no {reference['type']} data source provisioned"
        )


def test_dashboard_structure(dashboard: dict[str, Any]) -> None:
    panels = all_panels(dashboard)
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    titles = [p["title"] for p in panels]
    assert len(titles) == len(set(titles)), (
        "panel titles must be unique (tests and users name panels by title)"
    )
    for panel in panels:
        if panel["type"] == "row":
            continue
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        assert panel["targets"], panel["title"]
        assert panel["description"], f"{panel['title']}: say what the panel shows and where it comes from"
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"], panel["title"]
            if panel["datasource"]["type"] == PG_TYPE:
                assert target["rawQuery"] is True
                assert target["format"] in {"time_series", "table"}
            else:
                assert target["expr"]


# --- SQL ---------------------------------------------------------------------------------------


def test_market_dashboards_have_selection_variables(dashboard: dict[str, Any]) -> None:
    declared = variables(dashboard)
    if not sql_queries(dashboard) or "exchange" not in declared:
        assert dashboard["uid"] == "perpwatch-system", "only the system dashboard spans all markets"
        return
    for name in ("exchange", "symbol"):
        assert declared[name]["type"] == "query"
        assert declared[name]["multi"] is True
        assert declared[name]["includeAll"] is True
        assert declared[name]["datasource"]["uid"] == "${datasource}"
        # Grafana shows `definition` and runs `query`; they must not disagree.
        assert declared[name]["definition"] == declared[name]["query"]
    assert "$exchange" in declared["symbol"]["query"], "symbol list follows the exchange choice"


def test_every_query_reads_only_migrated_tables(dashboard: dict[str, Any]) -> None:
    created = migrated_relations()
    for where, sql in sql_queries(dashboard):
        tables = referenced_tables(sql)
        assert tables, f"{where}: no table found in {sql!r}"
        assert tables <= created, f"{where}: {sorted(tables - created)} not created by {MIGRATIONS_DIR}"


def test_every_query_is_bounded_by_the_time_range(dashboard: dict[str, Any]) -> None:
    for where, sql in sql_queries(dashboard):
        # Every branch of a UNION needs its own filter, or that branch scans the whole table.
        for branch in re.split(r"\bUNION(?:\s+ALL)?\b", sql, flags=re.IGNORECASE):
            assert "$__timeFilter(" in branch, f"{where}: unbounded scan in {branch.strip()!r}"


def test_panel_queries_follow_the_market_selection(dashboard: dict[str, Any]) -> None:
    if "exchange" not in variables(dashboard):
        return
    for panel in all_panels(dashboard):
        for target in panel.get("targets", []):
            sql = target.get("rawSql", "")
            assert sql.count("IN ($exchange)") >= sql.count("IN ($symbol)") >= 1, panel["title"]
    for annotation in dashboard["annotations"]["list"]:
        if "target" in annotation:
            assert "IN ($symbol)" in annotation["target"]["rawSql"], annotation["name"]


def test_table_extraction_ignores_extract_from_and_ctes() -> None:
    sql = (
        "WITH latest AS (SELECT * FROM venue_orders) SELECT EXTRACT(EPOCH FROM now() - max(ts)) "
        "FROM book_bbo JOIN market_trades USING (symbol), latest"
    )
    assert referenced_tables(sql) == {"venue_orders", "book_bbo", "market_trades"}


def sql_of(uid: str) -> dict[str, str]:
    (path,) = [p for p in DASHBOARDS if load(p)["uid"] == uid]
    return dict(sql_queries(load(path)))


def tables_of(uid: str) -> set[str]:
    return {t for sql in sql_of(uid).values() for t in referenced_tables(sql)}


def test_dashboards_cover_what_issue_13_asks() -> None:
    market = sql_of("perpwatch-market")
    assert any("FROM candles" in s and "open, high, low, close" in s for s in market.values()), "candles"
    assert any("book_bbo" in s and "symbol || ' ' || exchange" in s for s in market.values()), "cross-venue"
    book = [s for s in market.values() if "book_bbo" in s]
    assert any("bid_price" in s and "ask_price" in s and "mid" in s for s in book)
    assert any("spread_bps" in s for s in book)
    assert any("'1m'" in s and "sum(quantity)" in s for s in market.values() if "market_trades" in s)
    assert {"arb_open_opportunities", "arb_spreads", "arb_opportunities"} <= tables_of("perpwatch-arbitrage")
    liquidity = sql_of("perpwatch-liquidity")
    assert any("spread_bps" in s for s in liquidity.values())
    assert any(all(f"notional_{b}bps" in s for b in (10, 25, 50, 100)) for s in liquidity.values()), (
        "depth bands"
    )
    assert any(w.startswith("annotation") and "liquidity_anomalies" in s for w, s in liquidity.items()), (
        "crunches"
    )
    assert {"liquidations", "analytics_large_trades", "analytics_spikes"} <= tables_of("perpwatch-flow")
    assert {"venue_orders", "venue_trades"} <= tables_of("perpwatch-venue")
    (system,) = [p for p in DASHBOARDS if load(p)["uid"] == "perpwatch-system"]
    exprs = " ".join(e for _, e in prometheus_queries(load(system)))
    for metric in ("perpwatch_consumer_lag", "perpwatch_ingest_connections_up", "up{"):
        assert metric in exprs


def expand_grafana_macros(sql: str, window: tuple[str, str]) -> str:
    """Expand the macros the dashboards use the way Grafana's PostgreSQL source does with
    `timescaledb: true`, for a 1-minute interval and every sample market selected."""
    sql = re.sub(
        r"\$__timeGroupAlias\((\w+),[^)]*\)", lambda m: f"time_bucket('60s', {m[1]}) AS \"time\"", sql
    )
    sql = re.sub(r"\$__timeFilter\((\w+)\)", rf"\1 BETWEEN '{window[0]}' AND '{window[1]}'", sql)
    sql = sql.replace("$exchange", ", ".join(f"'{e}'" for e in SAMPLE_EXCHANGES))
    sql = sql.replace("$symbol", ", ".join(f"'{s}'" for s in SAMPLE_SYMBOLS))
    assert "$" not in sql, f"unexpanded macro or variable in {sql!r}"
    return sql


def test_dashboard_sql_runs_against_the_migrated_schema_after_a_replay(
    shared_data: Path, tmp_path: Path
) -> None:
    """Every query, macros expanded, runs on TimescaleDB with the migrations applied and the
    replayed (and seeded) rows inserted, and returns rows: catches renamed columns, not just
    renamed tables, and panels nothing would fill."""
    node = shutil.which("node")
    if node is None or not (PGLITE_PROJECT / "node_modules" / "@unni-craftsman" / "pglite").is_dir():
        message = (
            f"node and `npm ci` in {PGLITE_PROJECT.relative_to(REPO_ROOT)} are needed to run dashboard SQL"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from tests.deploy.dashboard_data import REJECTED, REPLAY_EXCHANGE, WINDOW, seed_script

    seed, replayed = seed_script(shared_data)
    # The replay, not the seed, fills the core tables: the registry's processors still write them.
    filled = {t for t, n in replayed.items() if n > 0}
    assert {"book_bbo", "book_depth", "market_trades", "liquidity_metrics", "candles"} <= filled, (
        f"rows per table: {replayed}; rejected inputs: {dict(REJECTED)}"
    )
    seed_file = tmp_path / "seed.sql"
    seed_file.write_text(seed)
    expanded = [
        {"where": f"{path.name} {where}", "sql": expand_grafana_macros(sql, WINDOW)}
        for path in DASHBOARDS
        for where, sql in sql_queries(load(path))
    ]
    queries_file = tmp_path / "queries.json"
    queries_file.write_text(json.dumps(expanded))
    result = subprocess.run(
        [
            node,
            str(DASHBOARD_SQL_RUNNER),
            str(PGLITE_PROJECT),
            str(MIGRATIONS_DIR),
            str(seed_file),
            str(queries_file),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    outcomes = json.loads(result.stdout)
    assert len(outcomes) == len(expanded)
    failures = [f"{o['where']}: {o['error']}" for o in outcomes if not o["ok"]]
    assert failures == []
    empty = [o["where"] for o in outcomes if not o["rows"]]
    assert empty == [], "queries returned no rows for the replayed and seeded data"
    by_where = {o["where"]: o["rows"] for o in outcomes}
    market_exchanges = {r["exchange"] for r in by_where["perpwatch-market.json variable exchange"]}
    assert REPLAY_EXCHANGE in market_exchanges
    # The replayed market, not only the seed, feeds the market dashboard's counters.
    (trades,) = by_where["perpwatch-market.json panel 'Trades in range' target A"]
    assert int(trades["trades"]) > 1000


# --- Prometheus --------------------------------------------------------------------------------


def defined_metrics() -> set[str]:
    names = set()
    for path in (REPO_ROOT / "services").rglob("*.py"):
        names |= set(METRIC_DEFINITION.findall(path.read_text()))
    return names


def test_prometheus_queries_name_metrics_the_services_define(dashboard: dict[str, Any]) -> None:
    defined = defined_metrics()
    assert "perpwatch_consumer_lag" in defined
    for where, expr in prometheus_queries(dashboard):
        for name in PROM_IDENTIFIER.findall(expr):
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            assert name in defined or base in defined, f"{where}: no service defines {name}"
        assert expr.count("(") == expr.count(")"), where
        # `a or b` drops b's series wherever a has one with the same labels: use two targets.
        assert " or " not in expr, where


# --- provisioning ------------------------------------------------------------------------------


def test_datasource_provisioning() -> None:
    by_type = {d["type"]: d for d in provisioned_datasources()}
    assert set(by_type) == {PG_TYPE, PROM_TYPE}
    postgres = by_type[PG_TYPE]
    assert postgres["jsonData"]["timescaledb"] is True
    assert postgres["jsonData"]["database"]
    assert "password" in postgres["secureJsonData"]
    assert "password" not in postgres, "passwords belong in secureJsonData"
    assert by_type[PROM_TYPE]["url"] == "${PERPWATCH_GRAFANA_PROMETHEUS_URL}"
    assert len({d["uid"] for d in by_type.values()}) == 2
    assert sum(bool(d.get("isDefault")) for d in by_type.values()) == 1


def test_dashboard_provider_provisioning() -> None:
    config = yaml.safe_load((GRAFANA_DIR / "provisioning" / "dashboards" / "perpwatch.yaml").read_text())
    assert config["apiVersion"] == 1
    (provider,) = config["providers"]
    assert provider["type"] == "file"
    assert provider["allowUiUpdates"] is False
