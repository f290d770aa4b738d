"""Compose, Helm and Prometheus name exactly the services of the service registry.

`services.registry.SERVICES` is the one list of long-running services. A service added there
and not to docker-compose.yml, helm/perpwatch/values.yaml (and its schema) and
deploy/prometheus/prometheus.yml fails here, and so does a deployment entry for a service the
code does not have.
"""

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.registry import SERVICES, ServiceSpec

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = REPO_ROOT / "helm" / "perpwatch"
PROMETHEUS_CONFIG = REPO_ROOT / "deploy" / "prometheus" / "prometheus.yml"
REGISTRY = {spec.name: spec for spec in SERVICES}
# Compose services that run the perpwatch image but are not registry services.
COMPOSE_HELPERS = {"migrate", "topics", "replay", "simulator"}
METRICS_PORT = 9100


def drift(deployed: Iterable[str], where: str) -> list[str]:
    """What is wrong with a deployment's list of service names, as readable lines."""
    names = set(deployed)
    problems = [f"{where} lacks registry service {name!r}" for name in REGISTRY if name not in names]
    problems += [
        f"{where} names {name!r}, which services/registry.py lacks" for name in sorted(names - set(REGISTRY))
    ]
    return problems


def compose_run_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Compose services that run `perpwatch run NAME`, by NAME."""
    found = {}
    for key, service in compose["services"].items():
        command = service.get("command", [])
        if command[:1] == ["run"]:
            assert key == command[1], f"compose service {key} runs {command[1]}: name them alike"
            found[command[1]] = service
    return found


def helm_values() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    return loaded


def test_drift_check_reports_both_directions() -> None:
    """Guards the checks below against passing vacuously."""
    names = [spec.name for spec in SERVICES]
    assert drift(names, "x") == []
    assert drift([*names[1:], "ghost"], "x") == [
        f"x lacks registry service {names[0]!r}",
        "x names 'ghost', which services/registry.py lacks",
    ]


def test_compose_runs_exactly_the_registry_services(compose: dict[str, Any]) -> None:
    run = compose_run_services(compose)
    assert drift(run, "docker-compose.yml") == []
    app = {k for k, s in compose["services"].items() if s.get("image", "").startswith("${PERPWATCH_IMAGE")}
    assert app == set(run) | COMPOSE_HELPERS, (
        "every perpwatch container is a registry service or a known helper"
    )


@pytest.mark.parametrize("spec", SERVICES, ids=[s.name for s in SERVICES])
def test_compose_service_is_wired(compose: dict[str, Any], spec: ServiceSpec) -> None:
    service = compose["services"][spec.name]
    assert service["command"] == ["run", spec.name]
    assert service["restart"] == "unless-stopped"
    assert service["environment"]["PERPWATCH_METRICS_PORT"] == str(METRICS_PORT)
    probe = " ".join(service["healthcheck"]["test"])
    assert f"127.0.0.1:{METRICS_PORT}/readyz" in probe
    depends = service["depends_on"]
    assert depends["topics"] == {"condition": "service_completed_successfully"}
    if spec.kind == "stream":
        # Stream services write rows: the schema must be there first.
        assert depends["migrate"] == {"condition": "service_completed_successfully"}
    for dependency, condition in depends.items():
        dependency_service = compose["services"][dependency]
        if condition["condition"] == "service_healthy":
            assert "healthcheck" in dependency_service, f"{spec.name} waits for {dependency}'s health"
    if spec.http_port is not None:
        published = {mapping.rsplit(":", 1)[1] for mapping in service.get("ports", [])}
        assert str(spec.http_port) in published, f"{spec.name} must publish its HTTP port"


def test_compose_ingest_reads_the_simulator(compose: dict[str, Any]) -> None:
    """Ingest's default source is `perpwatch simulate`, fed as `perpwatch up` feeds it."""
    from services.cli.up import SIMULATED_SYMBOLS
    from services.simulator.server import grids_for
    from services.venues import registered_venues

    svc = compose["services"]
    ingest, simulator = svc["ingest"], svc["simulator"]
    assert simulator["command"][0] == "simulate"
    assert ingest["network_mode"] == "service:simulator", "the simulator binds 127.0.0.1 only"
    assert ingest["depends_on"]["simulator"] == {"condition": "service_healthy", "restart": True}
    out = simulator["command"][simulator["command"].index("--endpoints-out") + 1]
    endpoints = ingest["environment"]["PERPWATCH_INGEST_ENDPOINTS"]
    assert endpoints.startswith("${PERPWATCH_COMPOSE_INGEST_ENDPOINTS-")
    endpoints = endpoints.split("-", 1)[1].rstrip("}")
    (sim_volume,) = [v for v in simulator["volumes"] if v.endswith(":" + str(Path(out).parent))]
    (ingest_volume,) = [v for v in ingest["volumes"] if v.split(":")[0] == sim_volume.split(":")[0]]
    assert ingest_volume.endswith(":ro")
    assert endpoints == ingest_volume.split(":")[1] + "/" + Path(out).name
    feeds = ingest["environment"]["PERPWATCH_INGEST_FEEDS"]
    default_feeds = feeds.split(":-", 1)[1].rstrip("}")
    expected = ";".join(
        f"{venue.value}:{','.join(g.native_symbol for g in grids_for([venue], SIMULATED_SYMBOLS))}"
        for venue in registered_venues()
    )
    assert default_feeds == expected, "every simulated venue, as `perpwatch up` feeds them"


def test_helm_values_name_exactly_the_registry_services() -> None:
    values = helm_values()["services"]
    assert drift(values, "helm/perpwatch/values.yaml") == []
    schema = json.loads((CHART_DIR / "values.schema.json").read_text())
    assert drift(schema["properties"]["services"]["properties"], "values.schema.json") == []
    assert schema["properties"]["services"]["additionalProperties"] is False
    for spec in SERVICES:
        reference = schema["properties"]["services"]["properties"][spec.name]["$ref"]
        expected = "streamService" if spec.kind == "stream" else "service"
        assert reference == f"#/definitions/{expected}", f"{spec.name} is a {spec.kind} service"


@pytest.mark.parametrize("spec", SERVICES, ids=[s.name for s in SERVICES])
def test_helm_service_values_follow_the_registry(spec: ServiceSpec) -> None:
    service = helm_values()["services"][spec.name]
    assert service.get("httpPort") == spec.http_port
    # An HPA per consumer that scales with its partitions; a one-replica consumer has none.
    assert ("autoscaling" in service) == (spec.kind == "stream" and not spec.one_replica), spec.name
    assert service.get("oneReplica", False) == bool(spec.one_replica), spec.name


def test_helm_readme_names_every_service() -> None:
    readme = (CHART_DIR / "README.md").read_text()
    rows = [f"| `{spec.name}` | {spec.kind} |" for spec in SERVICES]
    assert [row for row in rows if row not in readme] == [], "the chart README's service table"


def test_prometheus_scrapes_every_registry_service(compose: dict[str, Any]) -> None:
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "perpwatch"]
    assert job.get("metrics_path", "/metrics") == "/metrics"
    # The runtime's metrics carry their own `service` label; the scrape label must not rename it.
    assert job["honor_labels"] is True
    targets: dict[str, str] = {}
    for group in job["static_configs"]:
        (target,) = group["targets"]
        targets[group["labels"]["service"]] = target
    assert drift(targets, "deploy/prometheus/prometheus.yml") == []
    services = compose["services"]
    for name, target in targets.items():
        host, port = target.rsplit(":", 1)
        assert int(port) == METRICS_PORT
        network_mode = services[name].get("network_mode", "")
        expected_host = network_mode.removeprefix("service:") if network_mode else name
        assert host == expected_host, f"{name} is reachable as {expected_host}"


def test_compose_mounts_the_prometheus_config(compose: dict[str, Any]) -> None:
    prometheus = compose["services"]["prometheus"]
    assert "./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in prometheus["volumes"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    assert "healthcheck" in prometheus
    grafana_env = compose["services"]["grafana"]["environment"]
    assert grafana_env["PERPWATCH_GRAFANA_PROMETHEUS_URL"] == "http://prometheus:9090"
