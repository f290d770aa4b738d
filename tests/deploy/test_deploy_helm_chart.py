"""Offline checks of the Helm chart in helm/perpwatch.

The chart is linted and rendered with the Helm v4 Go SDK (helm-python-sdk, no helm binary,
no cluster) and every rendered object is validated against the Kubernetes OpenAPI schema of
the oldest supported and a recent Kubernetes release (kubernetes-validate, strict mode:
unknown fields are errors). The Prometheus Operator ServiceMonitor has no schema offline; it
is checked structurally against the Services it must select instead.
"""

import base64
import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from services.registry import SERVICES as REGISTRY

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = REPO_ROOT / "helm" / "perpwatch"
CANONICAL_DASHBOARDS = REPO_ROOT / "deploy" / "grafana" / "dashboards"
CHART_DASHBOARDS = CHART_DIR / "dashboards"

RELEASE = "pw"
NAMESPACE = "marketdata"
# The chart deploys exactly the registry's services (test_deploy_registry.py checks values.yaml).
SERVICES = tuple(spec.name for spec in REGISTRY)
STREAM_SERVICES = {spec.name for spec in REGISTRY if spec.kind == "stream"}
ONE_REPLICA = {spec.name for spec in REGISTRY if spec.one_replica}
SCALABLE = STREAM_SERVICES - ONE_REPLICA


def _replicas(name: str) -> int:
    return 1 if name in ONE_REPLICA else 2


# The chart's kubeVersion floor and a recent release.
KUBERNETES_VERSIONS = ("1.29.0", "1.34.0")
# Custom resources with no schema in kubernetes-validate, checked by hand below.
CUSTOM_KINDS = {("monitoring.coreos.com/v1", "ServiceMonitor")}
CONTRACT_ENV = {
    "PERPWATCH_KAFKA_BOOTSTRAP",
    "PERPWATCH_METRICS_PORT",
    "PERPWATCH_LOG_LEVEL",
    "PERPWATCH_LOG_FORMAT",
    "PERPWATCH_TOPIC_PARTITIONS",
    "PERPWATCH_TOPIC_REPLICATION",
    "PERPWATCH_SINK_BATCH_ROWS",
    "PERPWATCH_SINK_MAX_BACKOFF_S",
}
LINT_WARNING = 2

ALL_SERVICES_ON: dict[str, Any] = {
    "services": {name: {"enabled": True, "replicas": _replicas(name)} for name in SERVICES},
}
NO_AUTOSCALING: dict[str, Any] = {
    "services": {
        name: {"enabled": True, "replicas": 2, "autoscaling": {"enabled": False}} for name in SCALABLE
    },
}
EVERYTHING_ON: dict[str, Any] = {
    "services": {
        name: {"enabled": True, "replicas": _replicas(name), "extraArgs": ["--flag"]} for name in SERVICES
    },
    "serviceMonitor": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
    "grafanaDashboards": {"enabled": True, "annotations": {"grafana_folder": "perpwatch"}},
    "podDisruptionBudget": {"enabled": True, "minAvailable": "50%"},
    "image": {"digest": "sha256:" + "a" * 64},
    "imagePullSecrets": [{"name": "regcred"}],
    "serviceAccountName": "perpwatch",
    "extraEnv": [
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
    ],
    "nodeSelector": {"kubernetes.io/os": "linux"},
    "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "md", "effect": "NoSchedule"}],
    "affinity": {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["md"]}]}
                ]
            }
        }
    },
    "topologySpreadConstraints": [
        {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway"}
    ],
    "priorityClassName": "market-data",
    "podAnnotations": {"team": "md"},
    "podLabels": {"cost-center": "md"},
}
EXISTING_SECRET: dict[str, Any] = {
    "database": {"existingSecret": "perpwatch-db", "existingSecretKey": "url"},
    "jobs": {"topics": {"enabled": False}},
}
VALUE_SETS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "all-services": ALL_SERVICES_ON,
    "everything-on": EVERYTHING_ON,
    "existing-secret": EXISTING_SECRET,
    "no-hooks-no-pdb": {
        "jobs": {"migrate": {"enabled": False}, "topics": {"enabled": False}},
        "podDisruptionBudget": {"enabled": False},
    },
    "no-autoscaling": NO_AUTOSCALING,
    "only-book-builder": {
        "services": {name: {"enabled": name == "book-builder", "replicas": 1} for name in SERVICES}
    },
}


@pytest.fixture(scope="module")
def chart(helm: ModuleType) -> Iterator[Any]:
    with helm.Chart.load(CHART_DIR) as loaded:
        yield loaded


def render(chart: Any, values: dict[str, Any]) -> list[dict[str, Any]]:
    rendered: dict[str, str] = chart.render(
        copy.deepcopy(values), name=RELEASE, namespace=NAMESPACE, is_install=True
    )
    objects: list[dict[str, Any]] = []
    for template, text in sorted(rendered.items()):
        if template.endswith("NOTES.txt"):
            continue
        for document in yaml.safe_load_all(text):
            if document:
                document.setdefault("metadata", {}).setdefault("annotations", {})
                objects.append(document)
    return objects


def of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def by_name(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in of_kind(objects, kind)}


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def is_hook(obj: dict[str, Any]) -> bool:
    return "helm.sh/hook" in (obj["metadata"].get("annotations") or {})


def service_name(component: str) -> str:
    return f"{RELEASE}-perpwatch-{component}"


def lint_problems(report: dict[str, Any]) -> list[str]:
    problems = [f"{m['path']}: {m['error']}" for m in report["messages"] if m["severity"] >= LINT_WARNING]
    return problems + list(report["errors"])


# --- lint -----------------------------------------------------------------------------------


@pytest.mark.parametrize("value_set", ["defaults", "all-services", "everything-on", "existing-secret"])
def test_chart_lints_clean_in_strict_mode(helm: ModuleType, value_set: str) -> None:
    for version in KUBERNETES_VERSIONS:
        report = helm.lint(
            CHART_DIR, copy.deepcopy(VALUE_SETS[value_set]), strict=True, kube_version=f"v{version}"
        )
        assert lint_problems(report) == [], f"helm lint ({value_set}, Kubernetes {version})"


def test_chart_metadata(chart: Any) -> None:
    metadata = chart.metadata
    assert metadata["apiVersion"] == "v2"
    assert metadata["type"] == "application"
    assert metadata["name"] == "perpwatch"
    assert chart.schema is not None, "values.schema.json must ship with the chart"


# --- schema ---------------------------------------------------------------------------------

BAD_VALUES: dict[str, tuple[dict[str, Any], str]] = {
    "replicas-not-integer": ({"services": {"book-builder": {"replicas": "two"}}}, "replicas"),
    "negative-replicas": ({"services": {"book-builder": {"replicas": -1}}}, "replicas"),
    "unknown-service": ({"services": {"bookbuilder": {"enabled": True, "replicas": 1}}}, "bookbuilder"),
    "unknown-top-level-key": ({"replicaCount": 2}, "replicaCount"),
    "bootstrap-without-port": ({"kafka": {"bootstrap": "kafka"}}, "bootstrap"),
    "no-database-at-all": ({"database": {"url": "", "existingSecret": ""}}, "url"),
    "mysql-url": ({"database": {"url": "mysql://x@y/z"}}, "url"),
    "bad-pull-policy": ({"image": {"pullPolicy": "Sometimes"}}, "pullPolicy"),
    "bad-log-format": ({"logging": {"format": "xml"}}, "format"),
    "zero-partitions": ({"topics": {"partitions": 0}}, "partitions"),
    "bad-quantity": (
        {"services": {"book-builder": {"resources": {"limits": {"memory": "lots"}}}}},
        "memory",
    ),
    "env-without-name": ({"extraEnv": [{"value": "x"}]}, "name"),
    "autoscaling-above-100-percent": (
        {"services": {"liquidity": {"autoscaling": {"targetCPUUtilizationPercentage": 150}}}},
        "targetCPUUtilizationPercentage",
    ),
    "bad-http-port": ({"services": {"gateway": {"httpPort": 0}}}, "httpPort"),
    "autoscaling-a-process-service": (
        {
            "services": {
                "ingest": {
                    "autoscaling": {
                        "enabled": True,
                        "minReplicas": 1,
                        "maxReplicas": 2,
                        "targetCPUUtilizationPercentage": 70,
                    }
                }
            }
        },
        "autoscaling",
    ),
    "bad-scrape-interval": ({"serviceMonitor": {"enabled": True, "interval": "often"}}, "interval"),
}


@pytest.mark.parametrize("case", sorted(BAD_VALUES))
def test_bad_values_fail_lint_and_render(helm: ModuleType, chart: Any, case: str) -> None:
    values, offending_key = BAD_VALUES[case]
    report = helm.lint(CHART_DIR, copy.deepcopy(values))
    errors = [m["error"] for m in report["messages"] if m["severity"] > LINT_WARNING]
    assert any(offending_key in e for e in errors), f"lint accepted {values}: {report}"
    with pytest.raises(helm.HelmValuesError, match=re.escape(offending_key)):
        chart.render(copy.deepcopy(values), name=RELEASE, namespace=NAMESPACE)


def test_default_values_satisfy_schema(chart: Any) -> None:
    chart.validate_schema(chart.values)


# --- rendered objects against the Kubernetes schemas -------------------------------------


def assert_service_monitor_selects_services(
    monitor: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    """What the CRD schema would check, plus what matters: it scrapes our metrics Services."""
    assert set(monitor) <= {"apiVersion", "kind", "metadata", "spec"}
    spec = monitor["spec"]
    assert set(spec) <= {"namespaceSelector", "selector", "endpoints", "jobLabel"}
    assert spec["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    selector = spec["selector"]["matchLabels"]
    selected = [s for s in services.values() if selector.items() <= s["metadata"]["labels"].items()]
    assert sorted(s["metadata"]["name"] for s in selected) == sorted(services)
    for endpoint in spec["endpoints"]:
        assert set(endpoint) <= {"port", "path", "interval", "scrapeTimeout"}
        assert endpoint["path"] == "/metrics"
        for service in selected:
            assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
        for key in ("interval", "scrapeTimeout"):
            assert re.fullmatch(r"([0-9]+(ms|s|m|h))+", endpoint[key]), endpoint[key]


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_rendered_objects_validate_against_kubernetes_schemas(
    chart: Any, kubernetes_validate: ModuleType, value_set: str
) -> None:
    validator = kubernetes_validate.utils
    objects = render(chart, VALUE_SETS[value_set])
    assert objects
    services = by_name(objects, "Service")
    for obj in objects:
        if (obj["apiVersion"], obj["kind"]) in CUSTOM_KINDS:
            assert_service_monitor_selects_services(obj, services)
            continue
        for version in KUBERNETES_VERSIONS:
            try:
                validator.validate(obj, version, strict=True)
            except validator.ValidationError as exc:
                path = ".".join(str(p) for p in exc.path)
                pytest.fail(f"{obj['kind']}/{obj['metadata']['name']} (Kubernetes {version}): {path}: {exc}")


def test_strict_validation_rejects_unknown_fields(chart: Any, kubernetes_validate: ModuleType) -> None:
    """Guards the check above against passing vacuously."""
    validator = kubernetes_validate.utils
    deployment = of_kind(render(chart, {}), "Deployment")[0]
    pod_spec(deployment)["containers"][0]["livenessProbe"]["httpGett"] = {"path": "/healthz"}
    with pytest.raises(validator.ValidationError):
        validator.validate(deployment, KUBERNETES_VERSIONS[-1], strict=True)


def test_only_declared_custom_kinds_are_rendered(chart: Any) -> None:
    for value_set, values in VALUE_SETS.items():
        for obj in render(chart, values):
            group = obj["apiVersion"].split("/")[0] if "/" in obj["apiVersion"] else ""
            if "." in group and not group.endswith(".k8s.io"):
                assert (obj["apiVersion"], obj["kind"]) in CUSTOM_KINDS, value_set


# --- what the defaults deploy -------------------------------------------------------------


def test_defaults_deploy_every_registry_service(chart: Any) -> None:
    objects = render(chart, {})
    assert {
        d["metadata"]["labels"]["app.kubernetes.io/component"] for d in of_kind(objects, "Deployment")
    } == set(SERVICES)
    assert not of_kind(objects, "ServiceMonitor")
    assert "pw-perpwatch-dashboards" not in by_name(objects, "ConfigMap")


def test_every_service_can_be_enabled(chart: Any) -> None:
    objects = render(chart, NO_AUTOSCALING)
    deployments = by_name(objects, "Deployment")
    assert sorted(deployments) == sorted(service_name(s) for s in SERVICES)
    assert sorted(by_name(objects, "Service")) == sorted(deployments)
    assert sorted(by_name(objects, "PodDisruptionBudget")) == sorted(deployments)
    assert not of_kind(objects, "HorizontalPodAutoscaler")
    for component in SERVICES:
        deployment = deployments[service_name(component)]
        expected = 2 if component in SCALABLE else 1
        assert deployment["spec"]["replicas"] == expected
        (container,) = pod_spec(deployment)["containers"]
        assert container["args"] == ["run", component]


def test_disabled_services_render_nothing(chart: Any) -> None:
    objects = render(chart, VALUE_SETS["only-book-builder"])
    for kind in ("Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler"):
        assert sorted(by_name(objects, kind)) == [service_name("book-builder")], kind


# --- autoscaling ----------------------------------------------------------------------------


def test_every_stream_service_has_a_cpu_hpa_bounded_by_partitions(chart: Any) -> None:
    objects = render(chart, {})
    hpas = by_name(objects, "HorizontalPodAutoscaler")
    deployments = by_name(objects, "Deployment")
    assert sorted(hpas) == sorted(service_name(s) for s in SCALABLE)
    partitions = int(
        by_name(objects, "ConfigMap")[f"{RELEASE}-perpwatch-env"]["data"]["PERPWATCH_TOPIC_PARTITIONS"]
    )
    for name, hpa in hpas.items():
        spec = hpa["spec"]
        assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        assert 1 <= spec["minReplicas"] <= spec["maxReplicas"] <= partitions
        (metric,) = spec["metrics"]
        assert metric["resource"]["name"] == "cpu"
        assert metric["resource"]["target"]["type"] == "Utilization"
        # The HPA owns the replica count: a fixed one would be reset on every upgrade.
        assert "replicas" not in deployments[name]["spec"]
        (container,) = pod_spec(deployments[name])["containers"]
        assert container["resources"]["requests"]["cpu"], "CPU utilisation needs a CPU request"
    for name, deployment in deployments.items():
        if name not in hpas:
            assert deployment["spec"]["replicas"] == 1, f"{name} is not autoscaled"


def test_hpa_above_the_partition_count_is_refused(helm: ModuleType, chart: Any) -> None:
    too_many = {"services": {"liquidity": {"autoscaling": {"maxReplicas": 7}}}}
    with pytest.raises(Exception, match=r"exceeds topics\.partitions"):
        chart.render(copy.deepcopy(too_many), name=RELEASE, namespace=NAMESPACE)
    more_partitions = {**too_many, "topics": {"partitions": 12}}
    hpas = by_name(render(chart, more_partitions), "HorizontalPodAutoscaler")
    assert hpas[service_name("liquidity")]["spec"]["maxReplicas"] == 7


def test_hpa_without_cpu_request_is_refused(chart: Any) -> None:
    # null deletes a default in Helm's value merge.
    values = {"services": {"liquidity": {"resources": {"requests": {"cpu": None}}}}}
    with pytest.raises(Exception, match=r"requests\.cpu"):
        chart.render(copy.deepcopy(values), name=RELEASE, namespace=NAMESPACE)


def test_one_replica_services_never_run_two_pods(chart: Any) -> None:
    deployments = by_name(render(chart, {}), "Deployment")
    assert ONE_REPLICA, "the registry names the services that cannot scale out"
    for name in ONE_REPLICA:
        spec = deployments[service_name(name)]["spec"]
        assert spec["replicas"] == 1
        assert spec["strategy"] == {"type": "Recreate"}, "a rolling update would run two consumers"
    for name in SCALABLE:
        assert deployments[service_name(name)]["spec"]["strategy"]["type"] == "RollingUpdate"
    two = {"services": {"arbitrage": {"replicas": 2}}}
    with pytest.raises(Exception, match=r"/services/arbitrage/replicas': maximum: got 2, want 1"):
        chart.render(copy.deepcopy(two), name=RELEASE, namespace=NAMESPACE)
    scaled = {"services": {"alert": {"autoscaling": {"enabled": True, "minReplicas": 1, "maxReplicas": 3}}}}
    with pytest.raises(Exception, match="/services/alert"):
        chart.render(copy.deepcopy(scaled), name=RELEASE, namespace=NAMESPACE)


def test_http_port_of_the_gateway_is_served(chart: Any) -> None:
    objects = render(chart, {})
    for spec in REGISTRY:
        (container,) = pod_spec(by_name(objects, "Deployment")[service_name(spec.name)])["containers"]
        service = by_name(objects, "Service")[service_name(spec.name)]
        ports = {p["name"]: p for p in container["ports"]}
        service_ports = {p["name"]: p for p in service["spec"]["ports"]}
        if spec.http_port is None:
            assert set(ports) == set(service_ports) == {"metrics"}
        else:
            assert ports["http"]["containerPort"] == spec.http_port
            assert service_ports["http"]["port"] == spec.http_port
            assert service_ports["http"]["targetPort"] == "http"


def test_service_pods_follow_the_runtime_contract(chart: Any) -> None:
    objects = render(chart, EVERYTHING_ON)
    env_config = by_name(objects, "ConfigMap")[f"{RELEASE}-perpwatch-env"]["data"]
    assert set(env_config) == CONTRACT_ENV
    port = int(env_config["PERPWATCH_METRICS_PORT"])
    for deployment in of_kind(objects, "Deployment"):
        spec = pod_spec(deployment)
        assert spec["terminationGracePeriodSeconds"] == 30
        assert spec["automountServiceAccountToken"] is False
        assert spec["enableServiceLinks"] is False
        assert spec["securityContext"]["runAsNonRoot"] is True
        (container,) = spec["containers"]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["args"][-1] == "--flag"
        assert container["ports"][0] == {"name": "metrics", "containerPort": port, "protocol": "TCP"}
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
        assert container["envFrom"] == [{"configMapRef": {"name": f"{RELEASE}-perpwatch-env"}}]
        env_names = [e["name"] for e in container["env"]]
        assert env_names[0] == "PERPWATCH_DATABASE_URL"
        assert "POD_NAME" in env_names
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        assert mounts == {"/tmp", "/var/lib/perpwatch"}
        assert container["image"] == "perpwatch@sha256:" + "a" * 64
        selector = deployment["spec"]["selector"]["matchLabels"]
        (constraint,) = spec["topologySpreadConstraints"]
        assert constraint["labelSelector"] == {"matchLabels": selector}
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations["team"] == "md"
        assert {"checksum/config", "checksum/secret"} <= set(annotations)


def test_image_user_matches_pod_security_context(chart: Any) -> None:
    dockerfile = (REPO_ROOT / "deploy" / "docker" / "Dockerfile").read_text()
    uid = re.search(r"^ARG APP_UID=(\d+)$", dockerfile, re.MULTILINE)
    assert uid is not None
    for workload in of_kind(render(chart, {}), "Deployment") + of_kind(render(chart, {}), "Job"):
        assert pod_spec(workload)["securityContext"]["runAsUser"] == int(uid.group(1))


def test_workload_selectors_do_not_overlap(chart: Any) -> None:
    objects = render(chart, ALL_SERVICES_ON)
    pods = [
        (w["metadata"]["name"], w["spec"]["template"]["metadata"]["labels"])
        for w in objects
        if w["kind"] in {"Deployment", "Job"}
    ]
    for deployment in of_kind(objects, "Deployment"):
        selector = deployment["spec"]["selector"]["matchLabels"]
        matching = [name for name, labels in pods if selector.items() <= labels.items()]
        assert matching == [deployment["metadata"]["name"]]


# --- hooks and secrets ----------------------------------------------------------------------


def test_hook_jobs_run_migrate_and_topics_before_install_and_upgrade(chart: Any) -> None:
    objects = render(chart, {})
    jobs = by_name(objects, "Job")
    assert sorted(jobs) == [service_name("migrate"), service_name("topics")]
    expected_args = {service_name("migrate"): ["db", "migrate"], service_name("topics"): ["topics", "create"]}
    hook_secrets = [s for s in of_kind(objects, "Secret") if is_hook(s)]
    (hook_secret,) = hook_secrets
    secret_weight = int(hook_secret["metadata"]["annotations"]["helm.sh/hook-weight"])
    for name, job in jobs.items():
        annotations = job["metadata"]["annotations"]
        assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
        assert annotations["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"
        assert int(annotations["helm.sh/hook-weight"]) > secret_weight
        spec = pod_spec(job)
        assert spec["restartPolicy"] == "Never"
        (container,) = spec["containers"]
        assert container["args"] == expected_args[name]
        # Hooks run before the release's ConfigMap exists: settings must be inline.
        assert "envFrom" not in container
        env = {e["name"]: e for e in container["env"]}
        assert set(env) >= CONTRACT_ENV
        if name == service_name("migrate"):
            ref = env["PERPWATCH_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
            assert ref["name"] == hook_secret["metadata"]["name"]
            assert ref["key"] in hook_secret["data"]


def test_chart_managed_database_url_reaches_services_and_hooks(chart: Any) -> None:
    url = "postgresql://md:s3cret@db.internal:5432/perpwatch"
    objects = render(chart, {"database": {"url": url}})
    secrets = of_kind(objects, "Secret")
    assert len(secrets) == 2
    for secret in secrets:
        assert base64.b64decode(secret["data"]["database-url"]).decode() == url
    (plain_secret,) = [s for s in secrets if not is_hook(s)]
    for deployment in of_kind(objects, "Deployment"):
        (container,) = pod_spec(deployment)["containers"]
        ref = container["env"][0]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": plain_secret["metadata"]["name"], "key": "database-url"}


def test_existing_secret_replaces_chart_secrets(chart: Any) -> None:
    objects = render(chart, EXISTING_SECRET)
    assert not of_kind(objects, "Secret")
    assert sorted(by_name(objects, "Job")) == [service_name("migrate")]
    for workload in of_kind(objects, "Deployment") + of_kind(objects, "Job"):
        (container,) = pod_spec(workload)["containers"]
        env = {e["name"]: e for e in container["env"]}
        ref = env["PERPWATCH_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": "perpwatch-db", "key": "url"}


def test_config_change_rolls_the_pods(chart: Any) -> None:
    def checksum(values: dict[str, Any]) -> str:
        deployment = by_name(render(chart, values), "Deployment")[service_name("book-builder")]
        value: str = deployment["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
        return value

    assert checksum({}) != checksum({"kafka": {"bootstrap": "other:9092"}})


# --- monitoring -----------------------------------------------------------------------------


def test_dashboard_configmap_embeds_the_canonical_dashboards(chart: Any) -> None:
    objects = render(chart, EVERYTHING_ON)
    configmap = by_name(objects, "ConfigMap")[f"{RELEASE}-perpwatch-dashboards"]
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert configmap["metadata"]["annotations"] == {"grafana_folder": "perpwatch"}
    canonical = {p.name: p.read_text() for p in sorted(CANONICAL_DASHBOARDS.glob("*.json"))}
    assert canonical
    assert sorted(configmap["data"]) == sorted(canonical)
    for name, text in canonical.items():
        assert json.loads(configmap["data"][name]) == json.loads(text)


def test_chart_dashboard_copies_match_deploy_grafana() -> None:
    """The chart cannot read outside its folder, so it carries copies; they must not drift."""
    canonical = {p.name: p.read_bytes() for p in CANONICAL_DASHBOARDS.glob("*.json")}
    copies = {p.name: p.read_bytes() for p in CHART_DASHBOARDS.glob("*.json")}
    fix = (
        f"cp {CANONICAL_DASHBOARDS.relative_to(REPO_ROOT)}/*.json {CHART_DASHBOARDS.relative_to(REPO_ROOT)}/"
    )
    assert sorted(copies) == sorted(canonical), f"dashboard sets differ; run: {fix}"
    drifted = [name for name in canonical if copies[name] != canonical[name]]
    assert drifted == [], f"chart copies differ from deploy/grafana/dashboards; run: {fix}"


def test_service_monitor_renders_only_when_enabled(chart: Any) -> None:
    assert not of_kind(render(chart, ALL_SERVICES_ON), "ServiceMonitor")
    (monitor,) = of_kind(render(chart, EVERYTHING_ON), "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def test_notes_render(chart: Any) -> None:
    rendered = chart.render({}, name=RELEASE, namespace=NAMESPACE)
    (notes,) = [text for template, text in rendered.items() if template.endswith("NOTES.txt")]
    assert "book-builder" in notes
    assert "WARNING" in notes, "the default dev credentials must be called out"
    rendered = chart.render(copy.deepcopy(EXISTING_SECRET), name=RELEASE, namespace=NAMESPACE)
    (notes,) = [text for template, text in rendered.items() if template.endswith("NOTES.txt")]
    assert "WARNING" not in notes


# --- documentation --------------------------------------------------------------------------

KEY_LINE = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z_][\w.-]*):(?:\s|$)")


def test_every_value_is_documented() -> None:
    lines = (CHART_DIR / "values.yaml").read_text().splitlines()
    undocumented = []
    for number, line in enumerate(lines):
        match = KEY_LINE.match(line)
        if match is None:
            continue
        previous = next((p.strip() for p in reversed(lines[:number]) if p.strip()), "")
        if not previous.startswith("#"):
            undocumented.append(f"values.yaml:{number + 1}: {line.strip()}")
    assert undocumented == []


def test_readme_lists_every_top_level_value() -> None:
    readme = (CHART_DIR / "README.md").read_text()
    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    missing = [key for key in values if f"`{key}" not in readme]
    assert missing == []
    for service in SERVICES:
        assert f"`{service}`" in readme
