"""Offline checks of docker-compose.yml (no Docker engine runs here).

The file is validated against the Compose specification schema vendored by check-jsonschema;
the remaining tests check what the schema cannot: wiring between services, that app
containers run the project image, and that host ports stay clear of the bare-metal dev stack.
"""

import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from services.registry import SERVICES as REGISTRY

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
# Containers running the perpwatch image: setup jobs, helpers and every registry service.
APP_SERVICES = {"migrate", "topics", "replay", "simulator"} | {spec.name for spec in REGISTRY}
ONE_SHOT = {"migrate": ["db", "migrate"], "topics": ["topics", "create"]}
# Kafka and PostgreSQL of the bare-metal dev stack (`perpwatch up`, deploy/local).
RESERVED_HOST_PORTS = {9092, 9093, 15432}


def run_compose_schema_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


def default_of(value: str) -> str:
    """Resolve `${VAR:-default}` interpolation to its default, as an unconfigured run would."""
    while "${" in value:
        start = value.index("${")
        end = value.index("}", start)
        expression = value[start + 2 : end]
        default = expression.split(":-", 1)[1] if ":-" in expression else ""
        value = value[:start] + default + value[end + 1 :]
    return value


def test_compose_file_matches_compose_spec(check_jsonschema: ModuleType) -> None:
    result = run_compose_schema_check(COMPOSE_FILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_schema_check_rejects_a_broken_file(check_jsonschema: ModuleType, tmp_path: Path) -> None:
    """Guards the check above against passing vacuously."""
    broken = yaml.safe_load(COMPOSE_FILE.read_text())
    broken["services"]["book-builder"]["depends_on"]["migrate"]["condition"] = "service_finished"
    path = tmp_path / "docker-compose.yml"
    path.write_text(yaml.safe_dump(broken))
    assert run_compose_schema_check(path).returncode != 0


def test_compose_uses_spec_without_version_key(compose: dict[str, Any]) -> None:
    assert "version" not in compose
    assert compose["name"] == "perpwatch"
    assert set(services(compose)) == {"kafka", "timescaledb", "prometheus", "grafana"} | APP_SERVICES


def test_app_services_build_the_project_image(compose: dict[str, Any]) -> None:
    images = set()
    for name in APP_SERVICES:
        service = services(compose)[name]
        assert service["build"] == {"context": ".", "dockerfile": "deploy/docker/Dockerfile"}, name
        images.add(service["image"])
        assert service["read_only"] is True
        assert service["stop_grace_period"] == "30s"
    assert len(images) == 1, "every app container runs the same image"
    assert (REPO_ROOT / "deploy" / "docker" / "Dockerfile").is_file()


def test_one_shot_jobs_and_dependency_order(compose: dict[str, Any]) -> None:
    svc = services(compose)
    for name, command in ONE_SHOT.items():
        assert svc[name]["command"] == command
        assert svc[name]["restart"] == "no"
    assert svc["migrate"]["depends_on"] == {"timescaledb": {"condition": "service_healthy"}}
    assert svc["topics"]["depends_on"] == {"kafka": {"condition": "service_healthy"}}
    assert svc["book-builder"]["command"] == ["run", "book-builder"]
    assert svc["book-builder"]["depends_on"] == {
        "migrate": {"condition": "service_completed_successfully"},
        "topics": {"condition": "service_completed_successfully"},
    }
    for name, service in svc.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in svc, f"{name} depends on unknown service {dependency}"
        if "depends_on" in service and name not in APP_SERVICES | {"grafana"}:
            pytest.fail(f"infrastructure service {name} should not depend on app services")
    for name in ("kafka", "timescaledb"):
        assert "healthcheck" in svc[name], f"{name} needs a healthcheck for service_healthy"


def test_app_settings_point_at_compose_services(compose: dict[str, Any]) -> None:
    svc = services(compose)
    kafka_env = svc["kafka"]["environment"]
    internal = [
        listener.split("://", 1)[1]
        for listener in kafka_env["KAFKA_ADVERTISED_LISTENERS"].split(",")
        if listener.startswith("INTERNAL://")
    ]
    for name in APP_SERVICES:
        env = svc[name]["environment"]
        assert env["PERPWATCH_KAFKA_BOOTSTRAP"] == internal[0] == "kafka:19092"
        url = default_of(env["PERPWATCH_DATABASE_URL"])
        assert url == "postgresql://perpwatch:perpwatch@timescaledb:5432/perpwatch"
        assert env["PERPWATCH_TOPIC_REPLICATION"] == "1", "one broker"
    db_env = svc["timescaledb"]["environment"]
    assert (db_env["POSTGRES_DB"], db_env["POSTGRES_USER"]) == ("perpwatch", "perpwatch")
    assert svc["timescaledb"]["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]


def test_kafka_is_a_single_kraft_node(compose: dict[str, Any]) -> None:
    kafka = services(compose)["kafka"]
    assert kafka["image"] == "apache/kafka:4.1.1"
    env = kafka["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@kafka:29093"
    for key in (
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
    ):
        assert env[key] == 1, key
    listener_names = {item.split(":")[0] for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")}
    for listener in env["KAFKA_LISTENERS"].split(","):
        assert listener.split("://")[0] in listener_names
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    # A KRaft cluster id is a base64url-encoded UUID: 22 characters.
    assert len(env["CLUSTER_ID"]) == 22


def test_published_ports_avoid_the_dev_stack(compose: dict[str, Any]) -> None:
    for name, service in services(compose).items():
        for mapping in service.get("ports", []):
            host_ip, host_port, _container = default_of(mapping).rsplit(":", 2)
            assert host_ip == "127.0.0.1", f"{name} must not listen on every interface"
            assert int(host_port) not in RESERVED_HOST_PORTS, f"{name} publishes {host_port}"


def test_replay_is_opt_in_and_reads_shared_data_read_only(compose: dict[str, Any]) -> None:
    replay = services(compose)["replay"]
    assert replay["profiles"] == ["replay"]
    assert "../shared/data:/data:ro" in replay["volumes"]
    assert replay["environment"]["PERPWATCH_DATA_DIR"] == "/data"
    command = [default_of(part) for part in replay["command"]]
    assert command[0] == "replay"
    assert command[1].startswith("/data/")
    shared = REPO_ROOT.parent / "shared" / "data"
    if shared.is_dir():
        assert (shared / command[1].removeprefix("/data/")).is_file(), command[1]
    for name, service in services(compose).items():
        if name != "replay":
            assert "profiles" not in service, f"{name} must start with a plain `docker compose up`"


def test_grafana_mounts_the_provisioning_from_the_repo(compose: dict[str, Any]) -> None:
    grafana = services(compose)["grafana"]
    mounts = {}
    for volume in grafana["volumes"]:
        source, target, *_mode = volume.split(":")
        mounts[target] = source
        if source.startswith("./"):
            assert (REPO_ROOT / source).is_dir(), source
    assert mounts["/etc/grafana/provisioning"] == "./deploy/grafana/provisioning"
    providers = yaml.safe_load(
        (REPO_ROOT / "deploy" / "grafana" / "provisioning" / "dashboards" / "perpwatch.yaml").read_text()
    )
    (provider,) = providers["providers"]
    assert mounts[provider["options"]["path"]] == "./deploy/grafana/dashboards"
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (REPO_ROOT / "deploy" / "grafana" / "dashboards" / Path(home).name).is_file()
    assert grafana["environment"]["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    datasource = (
        REPO_ROOT / "deploy" / "grafana" / "provisioning" / "datasources" / "timescaledb.yaml"
    ).read_text()
    for variable in (
        "PERPWATCH_GRAFANA_DB_HOST",
        "PERPWATCH_GRAFANA_DB_NAME",
        "PERPWATCH_GRAFANA_DB_USER",
        "PERPWATCH_GRAFANA_DB_PASSWORD",
    ):
        assert f"${{{variable}}}" in datasource
        assert variable in grafana["environment"]
